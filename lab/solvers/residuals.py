"""PINO residuals: the solvers' own equations evaluated on a neural operator's output frames
(Li, Zheng, Kovachki et al., 2021, arXiv:2111.03794).

A neural operator's output ``u = G(a)`` on a grid is put into the PDE with grid derivatives:
spectral on periodic axes, finite differences on bounded ones. The residuals *reuse the
solvers' own equations* — the Burgers and Navier–Stokes right-hand sides come from
:mod:`lab.solvers.etdrk4` / :mod:`lab.solvers.navier_stokes` (which take their wavenumbers
from :mod:`lab.solvers.spectral`), and the Darcy residual is the conservative 5-point scheme
that :func:`lab.solvers.elliptic.darcy_solve` solves (:func:`~lab.solvers.elliptic.darcy_operator`)
— so the solver's own solution has (nearly) zero residual and a wrong field does not. Time
derivatives between frames ``j`` and ``j+1`` use the implicit midpoint rule,

    r_{j+1/2} = (u_{j+1} - u_j) / dt - RHS((u_j + u_{j+1}) / 2),

second order in ``dt`` (``tests/test_operator_training.py`` measures the order). Supervised,
physics-only and mixed training differ only in the weights given to the ``data``, ``pde``,
``ic`` / ``bc`` terms (``TrainConfig.loss_weights``).

Why here: they are plain tensor functions of the solvers, used by the operator problems'
``physics_losses`` and by the LES demo (:mod:`lab.training.les_pino`); living with the
solvers, below both, neither the problems nor the models import a sibling for them.
"""
from __future__ import annotations

import math

import torch

from lab.solvers import elliptic, etdrk4, navier_stokes

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"


def _midpoint(frames: torch.Tensor, dt: float, time_dim: int):
    a = frames.narrow(time_dim, 0, frames.shape[time_dim] - 1)
    b = frames.narrow(time_dim, 1, frames.shape[time_dim] - 1)
    return (b - a) / dt, 0.5 * (a + b)


def burgers_residual(u: torch.Tensor, *, nu: float, dt: float, length: float = 1.0) -> torch.Tensor:
    """Midpoint residual of ``u_t + (u^2/2)_x = nu u_xx`` for frames ``u`` of shape ``(..., x, t)``.

    Returns ``(..., t - 1, x)``; ``x`` periodic on ``[0, length)``.
    """
    frames = u.transpose(-1, -2)
    eq = etdrk4.Burgers(frames.shape[-1], length, viscosity=nu, device=u.device, dtype=u.dtype)
    du, mid = _midpoint(frames, dt, -2)
    return du - eq.to_physical(eq.time_derivative(eq.to_spectral(mid)))


def vorticity_residual(w: torch.Tensor, *, nu: float, dt: float, forcing: torch.Tensor | None,
                       length: float = 1.0) -> torch.Tensor:
    """Midpoint residual of ``w_t + u.grad w = nu lap w + f`` for frames ``(..., t, x, y)``."""
    ns = navier_stokes.NavierStokes2D(w.shape[-1], nu=nu, length=length, forcing=forcing,
                                      device=w.device, dtype=w.dtype)
    dw, mid = _midpoint(w, dt, -3)
    mid_hat = torch.fft.rfftn(mid, dim=(-2, -1))
    rhs = ns.nonlinear(mid_hat * ns.mask) + ns.linear_symbol() * mid_hat
    return dw - ns.to_physical(rhs)


def les_residual(u: torch.Tensor, *, nu: float, cs: float, dt: float,
                 length: float = 2 * math.pi) -> torch.Tensor:
    """Midpoint residual of the Smagorinsky-LES momentum equation for frames ``(..., t, 3, n, n, n)``.

    ``u_t = P[u x w + div(2 nu_t S)] + nu lap u`` with ``nu_t = (C_s Delta)^2 |S|`` (the right-hand
    side of :class:`lab.solvers.navier_stokes.NavierStokes3D`); the divergence-free part of
    ``u_t`` is compared, and ``div u`` is returned as a separate constraint by
    :func:`divergence`.
    """
    ns = navier_stokes.NavierStokes3D(u.shape[-1], nu=nu, cs=cs, length=length, device=u.device,
                                      dtype=u.dtype)
    du, mid = _midpoint(u, dt, -5)
    mid_hat = torch.fft.rfftn(mid, dim=ns.dims)
    rhs = ns.nonlinear(mid_hat * ns.mask) + ns.linear_symbol() * mid_hat
    return ns.to_physical(ns.project(torch.fft.rfftn(du, dim=ns.dims)) - rhs)


def divergence(u: torch.Tensor, length: float = 2 * math.pi) -> torch.Tensor:
    """Spectral ``div u`` of ``(..., 3, n, n, n)`` velocity fields."""
    ns = navier_stokes.NavierStokes3D(u.shape[-1], nu=0.0, length=length, device=u.device, dtype=u.dtype)
    return ns.divergence(torch.fft.rfftn(u, dim=ns.dims))


def darcy_residual(a: torch.Tensor, u: torch.Tensor, f: float = 1.0) -> torch.Tensor:
    """``-div(a grad u) - f`` at the interior nodes: the scheme of :func:`lab.solvers.elliptic.darcy_operator`.

    ``a`` and ``u`` are ``(..., n, n)`` including boundary nodes; returns ``(..., n-2, n-2)``.
    """
    return elliptic.darcy_operator(a, u) - f


def boundary_values(u: torch.Tensor) -> torch.Tensor:
    """The boundary ring of ``(..., n, n)`` fields, flattened: Dirichlet data to drive to zero."""
    return torch.cat([u[..., 0, :], u[..., -1, :], u[..., 1:-1, 0], u[..., 1:-1, -1]], dim=-1)
