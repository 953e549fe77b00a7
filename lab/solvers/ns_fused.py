"""Fused Lawson-RK4 steps of the Navier–Stokes solvers, written for ``torch.compile``.

The step of :mod:`lab.solvers.navier_stokes` is memory bound: between its FFTs it runs a
dozen small element-wise kernels (spectral derivatives, stacking, the cross product, the
mask, the projection, the integrating factors, the RK stage combinations), each reading and
writing whole fields. Here the same arithmetic, in the same order, is written on the real
views of the half spectra (``torch.view_as_real``: TorchInductor generates no code for
complex tensors, but fuses real ones) and every per-mode array — wavenumbers, ``1/|k|^2``,
the 2/3 mask, ``exp(L dt/2)`` — is formed inside the kernels from the 1D wavenumbers, so it
costs no memory traffic. Compiled, each stretch between two transforms becomes one kernel (or
a few), and the transforms stay batched (one inverse transform of all the fields an evaluation needs,
one forward transform of all its products). Results equal the reference step to round-off.

The step size enters as a 0-d tensor, so an adaptive time step does not recompile.
Multiplying by ``i k`` is exact in either form (a swap and a sign), as are the mask and the
sign flips, so the only differences from the reference are the rounding of fused
multiply-adds and of reductions.
"""
from __future__ import annotations

import functools

import torch

from lab.solvers.integrating_factor import lawson_rk4

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"

#: how a solver runs its step: the reference code, these functions run eagerly, compiled, or
#: compiled and captured in CUDA graphs (whole steps replayed without per-kernel launches)
MODES = ("off", "eager", "compile", "graphs")
_COMPILE_MODES = {"compile": None, "graphs": "reduce-overhead"}


def times_i(a: torch.Tensor) -> torch.Tensor:
    """``i a`` for the real view ``(..., 2)`` of a complex array."""
    return torch.stack((-a[..., 1], a[..., 0]), dim=-1)


def _inv_k2(k2: torch.Tensor) -> torch.Tensor:
    """``1/|k|^2``, zero at ``k = 0`` (the mean mode), as the reference solver builds it."""
    return torch.where(k2 > 0, 1.0 / k2.clamp_min(1e-30), torch.zeros_like(k2))


def _squared(k: tuple[torch.Tensor, ...]) -> torch.Tensor:
    k2 = k[0] * k[0]
    for kd in k[1:]:
        k2 = k2 + kd * kd
    return k2


def _mask(masks: tuple[torch.Tensor, ...]) -> torch.Tensor:
    m = masks[0]
    for md in masks[1:]:
        m = m * md
    return m


def _vorticity_transform(s, kx, ky, inv_k2, n):
    """``(u, v, w_x, w_y)`` in physical space, ``(..., 4, n, n)``, from the real view ``s`` of ``w``."""
    i_s = times_i(s)
    i_psi = i_s * inv_k2
    f = torch.stack([ky * i_psi, -kx * i_psi, kx * i_s, ky * i_s], dim=-4)
    return torch.fft.irfftn(torch.view_as_complex(f), s=(n, n), dim=(-2, -1))


def _vorticity_rhs(x, mask, forcing):
    adv = x[..., 0, :, :] * x[..., 2, :, :] + x[..., 1, :, :] * x[..., 3, :, :]
    r = -torch.view_as_real(torch.fft.rfftn(adv, dim=(-2, -1))) * mask
    return r if forcing is None else r + forcing


def vorticity_step(w: torch.Tensor, dt: torch.Tensor, k: tuple[torch.Tensor, torch.Tensor],
                   masks: tuple[torch.Tensor, torch.Tensor], nu: torch.Tensor, drag: torch.Tensor,
                   forcing: torch.Tensor | None, n: int, first: torch.Tensor | None = None) -> torch.Tensor:
    """One step of the 2D vorticity equation on the real view ``w`` ``(..., n, n//2+1, 2)``.

    ``k`` and ``masks`` are the per-axis wavenumbers and 2/3 masks shaped to broadcast against
    ``w`` (trailing 1 for the real/imaginary axis); ``forcing`` the real view of the masked
    forcing spectrum; ``first`` the transform :func:`first_transform` made of ``w``, if any.
    """
    kx, ky = k
    k2 = _squared(k)
    inv_k2, mask = _inv_k2(k2), _mask(masks)
    e = torch.exp((-nu * k2 - drag) * (0.5 * dt))

    def nonlinear(s):
        return _vorticity_rhs(_vorticity_transform(s, kx, ky, inv_k2, n), mask, forcing)

    k1 = None if first is None else _vorticity_rhs(first, mask, forcing)
    return lawson_rk4(w, dt, nonlinear, e, k1)


def _velocity_transform(s, kx, ky, kz, n, sgs):
    """``(u, curl u[, grad u])`` in physical space, ``(..., 6 or 15, n, n, n)``, from the real view ``s``."""
    i_s = times_i(s)
    iu, iv, iw = i_s.unbind(-5)
    curl = torch.stack([ky * iw - kz * iv, kz * iu - kx * iw, kx * iv - ky * iu], dim=-5)
    parts = [s, curl]
    if sgs is not None:  # velocity gradient g_ij = i k_j u_i, in the same transform
        parts.append(torch.stack([i_s * kx, i_s * ky, i_s * kz], dim=-5).flatten(-6, -5))
    return torch.fft.irfftn(torch.view_as_complex(torch.cat(parts, dim=-5)), s=(n, n, n), dim=(-3, -2, -1))


def _velocity_rhs(x, kx, ky, kz, inv_k2, mask, sgs, forcing):
    (a0, a1, a2), (b0, b1, b2) = x[..., 0:3, :, :, :].unbind(-4), x[..., 3:6, :, :, :].unbind(-4)
    prods = [torch.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim=-4)]
    if sgs is not None:  # tau = 2 (C_s Delta)^2 |S| S, |S| = sqrt(2 S_ij S_ij)
        g = x[..., 6:15, :, :, :].unflatten(-4, (3, 3))
        strain = 0.5 * (g + g.transpose(-4, -5))
        norm = torch.sqrt(2 * strain.pow(2).sum(dim=(-4, -5)))
        prods.append((sgs * norm.unsqueeze(-4).unsqueeze(-4) * strain).flatten(-5, -4))
    y = torch.view_as_real(torch.fft.rfftn(torch.cat(prods, dim=-4), dim=(-3, -2, -1)))
    r = y[..., 0:3, :, :, :, :] * mask
    if sgs is not None:  # div tau: sum_j i k_j tau_ij
        t = y[..., 3:12, :, :, :, :].unflatten(-5, (3, 3))
        div = t[..., 0, :, :, :, :] * kx + t[..., 1, :, :, :, :] * ky + t[..., 2, :, :, :, :] * kz
        r = r + times_i(div) * mask
    if forcing is not None:
        r = r + forcing
    r0, r1, r2 = r.unbind(-5)
    kdota = (kx * r0 + ky * r1 + kz * r2) * inv_k2
    return r - torch.stack([kx * kdota, ky * kdota, kz * kdota], dim=-5)


def velocity_step(u: torch.Tensor, dt: torch.Tensor, k: tuple[torch.Tensor, ...],
                  masks: tuple[torch.Tensor, ...], nu: torch.Tensor, sgs: torch.Tensor | None,
                  forcing: torch.Tensor | None, n: int, first: torch.Tensor | None = None) -> torch.Tensor:
    """One step of 3D Navier–Stokes on the real view ``u`` ``(..., 3, n, n, n//2+1, 2)``.

    ``sgs`` is ``2 (C_s Delta)^2`` of the Smagorinsky closure (``None`` without it);
    ``forcing`` the real view of the projected, masked body-force spectrum; ``first`` as in
    :func:`vorticity_step`.
    """
    kx, ky, kz = k
    k2 = _squared(k)
    inv_k2, mask = _inv_k2(k2), _mask(masks)
    e = torch.exp(-nu * k2 * (0.5 * dt))

    def nonlinear(s):
        return _velocity_rhs(_velocity_transform(s, kx, ky, kz, n, sgs), kx, ky, kz, inv_k2, mask, sgs, forcing)

    k1 = None if first is None else _velocity_rhs(first, kx, ky, kz, inv_k2, mask, sgs, forcing)
    return lawson_rk4(u, dt, nonlinear, e, k1)


def first_transform(v: torch.Tensor, k: tuple[torch.Tensor, ...], sgs: torch.Tensor | None, n: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The physical fields of a step's first evaluation at the real view ``v``, and ``max |u_d|``.

    The velocity leads those fields, so the adaptive time loop reads the speed that sets the
    step size from the transform the step needs anyway (2D: ``v`` is the vorticity; 3D: the
    velocity, ``sgs`` as in :func:`velocity_step`).
    """
    d = len(k)
    if d == 2:
        x = _vorticity_transform(v, *k, _inv_k2(_squared(k)), n)
    else:
        x = _velocity_transform(v, *k, n, sgs)
    u = x.narrow(-d - 1, 0, d)
    return x, u.abs().amax(dim=tuple(i for i in range(u.ndim) if i != u.ndim - d - 1))


@functools.cache
def runner(function, mode: str):
    """``function`` as ``mode`` runs it: itself (``"eager"``) or compiled once per process."""
    if mode == "eager":
        return function
    return torch.compile(function, mode=_COMPILE_MODES[mode], dynamic=False, fullgraph=True)
