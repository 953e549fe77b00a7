"""Nonlinear (porous-medium) diffusion ``u_t = alpha (|grad u|^2 + u lap u) = (alpha/2) lap(u^2)``.

The PIG / SPINN "nonlinear diffusion" benchmark (Cho et al., NeurIPS 2023; Kang et al., ICLR
2025) on ``[-1, 1]^2`` with ``u = 0`` on the boundary. Written as ``u_t = (alpha/2) lap(u^2)``
the equation is discretised conservatively with the 5-point Laplacian of ``u^2`` (second order
in space) and classical RK4 in time; the step obeys the explicit diffusive bound for the
local diffusivity ``alpha u``: ``dt <= 0.8 * 2.785 h^2 / (8 alpha max u)`` (``max u`` does not
grow: maximum principle). The boundary nodes are held at zero for ``t > 0``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from lab.solvers.time_stepping import output_times

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"


def _lap_square(u: torch.Tensor, h: float) -> torch.Tensor:
    """5-point Laplacian of ``u^2`` at the interior nodes, zero on the boundary."""
    w = u * u
    out = torch.zeros_like(u)
    out[..., 1:-1, 1:-1] = (w[..., 2:, 1:-1] + w[..., :-2, 1:-1] + w[..., 1:-1, 2:]
                            + w[..., 1:-1, :-2] - 4 * w[..., 1:-1, 1:-1]) / (h * h)
    return out


def porous_medium_fd(u0: torch.Tensor, alpha: float, times: Sequence[float], *,
                     length: float = 2.0) -> torch.Tensor:
    """Solve on the ``(n+1) x (n+1)`` node grid of a square of side ``length``.

    ``u0``: ``(..., n+1, n+1)`` including boundary nodes (their values are replaced by the
    boundary condition ``u = 0`` after ``t = 0``). Returns ``(..., len(times), n+1, n+1)``.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if u0.shape[-1] != u0.shape[-2] or u0.shape[-1] < 3:
        raise ValueError(f"u0 must end with a square grid of >= 3 nodes, got {tuple(u0.shape)}")
    if float(u0.min()) < 0:
        raise ValueError("u0 must be non-negative (the diffusivity alpha*u must be >= 0)")
    h = length / (u0.shape[-1] - 1)
    umax = float(u0.max())
    dt_max = 0.8 * 2.785 * h * h / (8 * alpha * max(umax, 1e-300))

    def rhs(u):
        return 0.5 * alpha * _lap_square(u, h)

    t, u, frames = 0.0, u0.clone(), []
    for target in output_times(times):
        gap = target - t
        if gap > 0:
            m = max(1, math.ceil(gap / dt_max - 1e-9))
            dt = gap / m
            u[..., 0, :] = u[..., -1, :] = u[..., :, 0] = u[..., :, -1] = 0.0
            for _ in range(m):
                k1 = rhs(u)
                k2 = rhs(u + 0.5 * dt * k1)
                k3 = rhs(u + 0.5 * dt * k2)
                k4 = rhs(u + dt * k3)
                u = u + (dt / 6) * (k1 + 2 * (k2 + k3) + k4)
            t = target
        frames.append(u.clone())
    return torch.stack(frames, dim=-3)
