"""Steady electro-thermal coupling (Joule heating) on the unit square, by finite differences.

    -div(sigma(T) grad phi) = f_phi,      sigma(T) = sigma0 / (1 + beta T),
    -div(k grad T)          = sigma(T) |grad phi|^2 + f_T,

with Dirichlet data for ``phi`` and ``T`` on the boundary. The fields are coupled through
sources, not advection: the current heats the body (``sigma |grad phi|^2``) and the heat
lowers the conductivity the current flows through. Second-order 5-point differences on the
uniform ``n x n`` node grid (:func:`lab.solvers.elliptic.darcy_operator`: face conductivities
from nodal values), ``|grad phi|^2`` by central differences, and Picard iterations between the
two linear solves (:func:`lab.solvers.elliptic.darcy_solve`) until the update falls below
``tol``; for ``beta |T| < 1`` they contract quickly (a handful of iterations).
"""
from __future__ import annotations

import torch

from lab.solvers.elliptic import darcy_operator, darcy_solve

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"


def conductivity(T: torch.Tensor, sigma0: float, beta: float) -> torch.Tensor:
    """``sigma0 / (1 + beta T)``: a metal's conductivity falling as it heats."""
    return sigma0 / (1 + beta * T)


def _dirichlet(a: torch.Tensor, g: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``-div(a grad u) = f`` with ``u = g`` on the boundary: lift ``g`` and solve for the rest."""
    lift = g.clone()
    lift[1:-1, 1:-1] = 0
    rhs = f.clone()
    rhs[1:-1, 1:-1] -= darcy_operator(a, lift)
    return lift + darcy_solve(a, rhs)


def joule_solve(n: int, *, sigma0: float, beta: float, k: float = 1.0, phi_b: torch.Tensor,
                T_b: torch.Tensor, f_phi: torch.Tensor | float = 0.0, f_T: torch.Tensor | float = 0.0,
                tol: float = 1e-12, max_iter: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """``(phi, T)`` on the ``n x n`` nodes ``x_i = i / (n - 1)`` (float64, ``(n, n)`` each).

    ``phi_b``, ``T_b``: ``(n, n)`` arrays whose boundary rows hold the Dirichlet data;
    ``f_phi``, ``f_T``: nodal sources (numbers or ``(n, n)``). Raises ``ValueError`` when the
    Picard iterations do not converge (a coupling ``beta`` too strong for the heating) or the
    temperature reaches ``1 + beta T <= 0`` (no conductivity left).
    """
    if int(n) != n or n < 5:
        raise ValueError(f"n must be an integer >= 5, got {n}")
    if not sigma0 > 0 or not k > 0:
        raise ValueError(f"sigma0 and k must be positive, got sigma0={sigma0}, k={k}")
    f64 = dict(dtype=torch.float64)
    phi_b, T_b = (torch.as_tensor(t, **f64) for t in (phi_b, T_b))
    f_phi, f_T = (torch.broadcast_to(torch.as_tensor(f, **f64), (n, n)) for f in (f_phi, f_T))
    h = 1.0 / (n - 1)
    T = T_b.clone()
    T[1:-1, 1:-1] = 0
    for _ in range(max_iter):
        if float((1 + beta * T).min()) <= 0:
            raise ValueError(f"beta={beta:g} drives 1 + beta T to zero: the conductivity vanishes; "
                             "lower beta or the heating")
        sigma = conductivity(T, sigma0, beta)
        phi = _dirichlet(sigma, phi_b, f_phi)
        gx = torch.zeros_like(phi)
        gy = torch.zeros_like(phi)
        gx[1:-1, 1:-1] = (phi[2:, 1:-1] - phi[:-2, 1:-1]) / (2 * h)
        gy[1:-1, 1:-1] = (phi[1:-1, 2:] - phi[1:-1, :-2]) / (2 * h)
        T_new = _dirichlet(torch.full_like(T, k), T_b, sigma * (gx**2 + gy**2) + f_T)
        change = float((T_new - T).abs().max())
        T = T_new
        if change <= tol * max(1.0, float(T.abs().max())):
            return phi, T
    raise ValueError(f"the electro-thermal iterations did not converge in {max_iter} steps at "
                     f"beta={beta:g} (last change {change:.2g}); lower beta")
