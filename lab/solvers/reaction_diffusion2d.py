"""Gray–Scott reaction–diffusion on a periodic square, pseudo-spectral, integrating-factor RK4.

    u_t = D_u lap u - u v^2 + F (1 - u)
    v_t = D_v lap v + u v^2 - (F + k) v

(Gray & Scott 1984; the pattern catalogue of Pearson, *Science* 261, 1993). Diffusion and the
linear decay rates ``-F``, ``-(F + k)`` are integrated exactly (Lawson's integrating-factor
RK4, :func:`lab.solvers.time_stepping.lawson_rk4`), so the
step is bounded only by the reaction Jacobian, whose nonlinear part has the eigenvalues ``0``
and ``2uv - v^2``: ``dt * max|2uv - v^2| <= 2.5``; the cubic
product is de-aliased with the 2/3 rule. State ``(..., 2, n, n)`` holds ``(u, v)``; the
model fulfils the semilinear protocol of :mod:`lab.solvers.time_stepping`.
"""
from __future__ import annotations

import torch

from lab.solvers import time_stepping
from lab.solvers.spectral import dealias_mask, wavenumber_grid

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
# 2: each interval between outputs is split into equal steps (was: the last one shortened)
VERSION = "2"

#: bound on ``dt * max|2uv - v^2|`` (RK4 real-axis stability limit is 2.785)
REACTION_LIMIT = 2.5


class GrayScott:
    """Gray–Scott model on ``[0, length)^2`` with ``n x n`` points."""

    def __init__(self, n: int, *, du: float = 2e-5, dv: float = 1e-5, feed: float = 0.0367,
                 kill: float = 0.0649, length: float = 2.5, device=None, dtype=torch.float64):
        if int(n) != n or n < 8:
            raise ValueError(f"n must be an integer >= 8, got {n}")
        for name, value in (("du", du), ("dv", dv), ("feed", feed), ("kill", kill)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not length > 0:
            raise ValueError(f"length must be positive, got {length}")
        self.n, self.length, self.feed, self.kill = int(n), float(length), float(feed), float(kill)
        self.device, self.dtype = torch.device(device or "cpu"), dtype
        self.shape, self.dims = (self.n, self.n), (-2, -1)
        kx, ky = wavenumber_grid(self.shape, self.length, device=self.device, dtype=dtype)
        k2 = kx * kx + ky * ky
        self.linear = torch.stack([-du * k2 - feed, -dv * k2 - (feed + kill)])
        self.mask = dealias_mask(self.shape, device=self.device)

    def to_spectral(self, f):
        return torch.fft.rfftn(f.to(device=self.device, dtype=self.dtype), dim=self.dims)

    def to_physical(self, f_hat):
        return torch.fft.irfftn(f_hat, s=self.shape, dim=self.dims)

    def nonlinear(self, s_hat):
        s = self.to_physical(s_hat * self.mask)
        uvv = s[..., 0, :, :] * s[..., 1, :, :] ** 2
        n = torch.stack([self.feed - uvv, uvv], dim=-3)
        return torch.fft.rfftn(n, dim=self.dims) * self.mask

    def reaction_rate(self, s_hat) -> float:
        s = self.to_physical(s_hat)
        u, v = s[..., 0, :, :], s[..., 1, :, :]
        return float((2 * u * v - v * v).abs().max())

    def check_dt(self, s_hat, dt):
        r = dt * self.reaction_rate(s_hat)
        if not r <= REACTION_LIMIT:
            raise ValueError(f"dt={dt:g} is unstable: dt * max|2uv - v^2| = {r:.3g} exceeds "
                             f"{REACTION_LIMIT}")

    def solve(self, s0: torch.Tensor, times, *, dt: float = 1.0) -> torch.Tensor:
        """``(u, v)`` at ``times`` from ``s0`` of shape ``(..., 2, n, n)``: ``(..., T, 2, n, n)``;
        steps no longer than ``dt``, each checked against the reaction's stability limit."""
        if tuple(s0.shape[-3:]) != (2,) + self.shape:
            raise ValueError(f"s0 must end with shape {(2,) + self.shape}, got {tuple(s0.shape)}")
        frames = time_stepping.solve(self, s0, times, dt=dt, method=time_stepping.lawson_rk4,
                                     check=self.check_dt)
        return frames.movedim(0, s0.ndim - 3)
