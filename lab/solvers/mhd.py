"""Pseudo-spectral 2D incompressible magnetohydrodynamics on a periodic square.

Vorticity ``w`` and magnetic (flux) potential ``a`` on ``[0, L)^2`` with the convention of
:class:`lab.solvers.navier_stokes.NavierStokes2D`:

    u = (psi_y, -psi_x),  w = v_x - u_y = -lap psi,
    B = curl(a e_z) = (a_y, -a_x),  j = (curl B)_z = -lap a,

    w_t + u.grad w = B.grad j + nu  lap w,
    a_t + u.grad a =             eta lap a.

With the bracket ``[f, g] = f_x g_y - f_y g_x`` this convention has ``u.grad f = [f, psi]`` and
``B.grad f = [f, a]``, so ``w_t + [w, psi] = [j, a] + nu lap w`` and ``a_t + [a, psi] = eta lap a``
(the curl of the Lorentz force ``j x B`` is ``B.grad j``). Ideal invariants (``nu = eta = 0``):
energy ``E = 1/2 int |u|^2 + |B|^2``, cross helicity ``H_c = int u.B`` and ``int a^2``;
dissipative, ``dE/dt = -nu int w^2 - eta int j^2``.

Stepping as for Navier–Stokes (the same base class): products in physical space, Orszag's
2/3 de-aliasing, Lawson integrating-factor RK4 with viscosity and resistivity integrated
exactly, so the step is bounded by the advective/Alfvénic CFL number
``dt * sum_d (max|u_d| + max|B_d|) k_max,d <= 2.5``. A solve checks its resolution at every
output: the share of ``|u|^2 + |B|^2`` in the outer third of the retained band (the modes
with ``max(|m_x|, |m_y|) > 2/3 k_cut``) must stay below ``resolution_tol``, else the grid
``n`` is too small for ``nu``, ``eta`` and the horizon, and ``ValueError`` names ``n``. On the
Orszag–Tang vortex at ``nu = eta = 0.015`` a share of 1e-4 goes with a relative L2 error of
about 1e-2 against a grid twice as fine (8e-6: 1e-3, 1e-7: 5e-5).
"""
from __future__ import annotations

import math

import torch

from lab.solvers.navier_stokes import DEFAULT_MAX_BYTES, _PeriodicNS

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"

#: default bound on the energy share of the outer third of the retained band
RESOLUTION_TOL = 1e-4


class MHD2D(_PeriodicNS):
    """2D incompressible MHD in ``(w, a)``; the spectral state is ``(..., 2, n, n//2 + 1)``."""

    ndim = 2
    working_arrays = 64

    def __init__(self, n: int, *, nu: float, eta: float, length: float = 2 * math.pi,
                 resolution_tol: float | None = RESOLUTION_TOL,
                 max_bytes: float = DEFAULT_MAX_BYTES, device=None, dtype=torch.float64):
        if not eta >= 0:
            raise ValueError(f"eta (resistivity) must be >= 0, got {eta}")
        if resolution_tol is not None and not 0 < resolution_tol < 1:
            raise ValueError(f"resolution_tol must be in (0, 1) or None, got {resolution_tol}")
        self.eta = float(eta)
        self.resolution_tol = resolution_tol
        super().__init__(n, nu=nu, length=length, max_bytes=max_bytes, device=device, dtype=dtype)
        m = [torch.abs(k) * (self.length / (2 * math.pi)) for k in self.k]
        cut = max(self.k_max) * self.length / (2 * math.pi)
        self.outer = self.mask & ((m[0] > 2 * cut / 3) | (m[1] > 2 * cut / 3))

    def linear_symbol(self):
        return -torch.stack([self.nu * self.k2, self.eta * self.k2]).expand(2, *self.k2.shape[-2:])

    # ---- fields ---------------------------------------------------------------------------
    def _fields(self, v: torch.Tensor) -> torch.Tensor:
        """Physical ``(u_x, u_y, B_x, B_y)``: ``(..., 4, n, n)``."""
        kx, ky = self.ik
        psi, a = v[..., 0, :, :] * self.inv_k2, v[..., 1, :, :]
        return self.to_physical(torch.stack([ky * psi, -kx * psi, ky * a, -kx * a], dim=-3))

    def velocity(self, v: torch.Tensor) -> torch.Tensor:
        return self._fields(v)[..., :2, :, :]

    def max_velocity(self, v: torch.Tensor) -> list[float]:
        """``max|u_d| + max|B_d|`` per direction: the advective plus Alfvénic signal speed."""
        f = self._fields(v)
        return [float(f[..., d, :, :].abs().max() + f[..., 2 + d, :, :].abs().max()) for d in range(2)]

    def nonlinear(self, v):
        kx, ky = self.ik
        w, a = v[..., 0, :, :], v[..., 1, :, :]
        psi, j = w * self.inv_k2, a * self.k2
        f = self.to_physical(torch.stack([ky * psi, -kx * psi, ky * a, -kx * a,
                                          kx * w, ky * w, kx * j, ky * j], dim=-3))
        ux, uy, bx, by, wx, wy, jx, jy = f.unbind(-3)
        n_w = bx * jx + by * jy - ux * wx - uy * wy
        n_a = ux * by - uy * bx  # -u.grad a, with grad a = (-B_y, B_x)
        return torch.fft.rfftn(torch.stack([n_w, n_a], dim=-3), dim=self.dims) * self.mask

    def all_fields(self, v: torch.Tensor) -> torch.Tensor:
        """Physical ``(w, a, psi, j)``: ``(..., 4, n, n)``."""
        w, a = v[..., 0, :, :], v[..., 1, :, :]
        return self.to_physical(torch.stack([w, a, w * self.inv_k2, a * self.k2], dim=-3))

    # ---- diagnostics (box integrals, not averages) ------------------------------------------
    def _integral(self, f: torch.Tensor) -> torch.Tensor:
        return f.mean(dim=self.dims) * self.length**2

    def energy(self, v: torch.Tensor) -> torch.Tensor:
        """``E = 1/2 int |u|^2 + |B|^2`` per batch member."""
        return 0.5 * self._integral(self._fields(v).pow(2).sum(-3))

    def cross_helicity(self, v: torch.Tensor) -> torch.Tensor:
        """``H_c = int u.B``."""
        f = self._fields(v)
        return self._integral(f[..., 0, :, :] * f[..., 2, :, :] + f[..., 1, :, :] * f[..., 3, :, :])

    def dissipation(self, v: torch.Tensor) -> torch.Tensor:
        """``nu int w^2 + eta int j^2`` (``= -dE/dt``)."""
        f = self.all_fields(v)
        return self._integral(self.nu * f[..., 0, :, :] ** 2 + self.eta * f[..., 3, :, :] ** 2)

    def tail_share(self, v: torch.Tensor) -> float:
        """Largest share over the batch of ``|u|^2 + |B|^2`` in the outer third of the band."""
        # |u_hat|^2 = |w_hat|^2 / k^2 and |B_hat|^2 = k^2 |a_hat|^2, mode by mode
        spec = v[..., 0, :, :].abs() ** 2 * self.inv_k2 + v[..., 1, :, :].abs() ** 2 * self.k2
        total = spec.sum(dim=self.dims)
        tail = (spec * self.outer).sum(dim=self.dims)
        return float((tail / total.clamp_min(1e-300)).max())

    # ---- solve ----------------------------------------------------------------------------
    def _checked(self, out):
        def frame(v):
            if self.resolution_tol is not None:
                share = self.tail_share(v)
                if share > self.resolution_tol:
                    raise ValueError(
                        f"n={self.n} is too small for nu={self.nu:g}, eta={self.eta:g} over this "
                        f"horizon: {share:.2g} of the energy sits in the outer third of the "
                        f"resolved band (allowed {self.resolution_tol:g}); raise n, nu or eta, or "
                        f"shorten the final time")
            return out(v)
        return frame

    def solve(self, w0: torch.Tensor, a0: torch.Tensor, times, *, dt: float | None = None,
              cfl: float = 1.0, output: str = "omega_a") -> torch.Tensor:
        """Fields at ``times`` from ``w0``, ``a0`` of shape ``(..., n, n)`` at ``t = 0``.

        ``output="omega_a"``: ``(..., len(times), 2, n, n)`` holding ``(w, a)``;
        ``output="all"``: ``(..., len(times), 4, n, n)`` holding ``(w, a, psi, j)``;
        ``output="spectral"``: the spectral state ``(..., len(times), 2, n, n//2 + 1)``.
        """
        for name, f in (("w0", w0), ("a0", a0)):
            if tuple(f.shape[-2:]) != self.shape:
                raise ValueError(f"{name} must end with shape {self.shape}, got {tuple(f.shape)}")
        outs = {"omega_a": lambda v: self.all_fields(v)[..., :2, :, :], "all": self.all_fields,
                "spectral": lambda v: v}
        if output not in outs:
            raise ValueError(f"output must be one of {sorted(outs)}, got {output!r}")
        w0, a0 = torch.broadcast_tensors(w0, a0)
        batch = math.prod(w0.shape[:-2])
        n_out = 4 if output == "all" else 2
        self.check_memory(batch, frames=len(torch.as_tensor(times).reshape(-1)) * n_out // 2)
        v0 = self.to_spectral(torch.stack([w0, a0], dim=-3))
        frames = self._solve(v0, times, dt, cfl, self._checked(outs[output]))
        return frames.movedim(0, w0.ndim - 2)


def orszag_tang(n: int, *, device=None, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Orszag–Tang vortex ``(w0, a0)`` on the ``n^2`` grid of ``[0, 2 pi)^2``.

    ``u0 = (-sin y, sin x)``, ``B0 = (-sin y, sin 2x)``: ``psi0 = cos x + cos y = w0`` and
    ``a0 = cos y + cos(2x) / 2`` (``j0 = cos y + 2 cos 2x``). ``E0 = 4 pi^2``, ``H_c0 = 2 pi^2``.
    """
    x = torch.arange(n, device=device, dtype=dtype) * (2 * math.pi / n)
    X, Y = torch.meshgrid(x, x, indexing="ij")
    return torch.cos(X) + torch.cos(Y), torch.cos(Y) + 0.5 * torch.cos(2 * X)
