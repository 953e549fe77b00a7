"""Coupled physics: 2D incompressible magnetohydrodynamics, the Orszag–Tang vortex.

The reference comes from the pseudo-spectral solver :class:`lab.solvers.mhd.MHD2D` in
float64 on the CPU, stepped exactly to the requested times, checked for resolution at each
of them and evaluated at the requested points by trigonometric interpolation, like the
Navier–Stokes references of :mod:`lab.problems.flows`.
"""
from __future__ import annotations

import math

import param
import torch

from lab.limits import Need, capped_bytes, check_needs
from lab.problems import register
from lab.problems.base import Problem
from lab.problems.flows import _interpolate, _reference_params, _unique_times
from lab.solvers.mhd import MHD2D, orszag_tang

F64 = torch.float64


@register
class OrszagTang2D(Problem):
    """Orszag–Tang vortex of 2D incompressible MHD on ``[0, 2 pi)^2``.

    Convention (that of :mod:`lab.solvers.mhd`): ``u = (psi_y, -psi_x)``, ``w = -lap psi``,
    ``B = (a_y, -a_x)``, ``j = -lap a``;

        w_t + u.grad w = B.grad j + nu lap w,    a_t + u.grad a = eta lap a,

    from ``u0 = (-sin y, sin x)``, ``B0 = (-sin y, sin 2x)``, i.e. ``w0 = psi0 = cos x + cos y``
    and ``a0 = cos y + cos(2x)/2`` (``E0 = 4 pi^2``, ``H_c0 = 2 pi^2``).

    Outputs ``(omega, a, psi)``: the vorticity and flux function the brief of the problem is
    about, plus the stream function, so that the PINN residual is pointwise: the velocity is
    a derivative of ``psi`` and the current ``j = -lap a`` of ``a``, and the residual holds
    the vorticity equation, the induction equation and the Poisson equation
    ``lap psi + omega = 0`` (a residual in ``(omega, a)`` alone would need ``psi`` from a
    global Poisson solve). ``psi`` is fixed up to a constant by the equations; the initial
    condition and the reference take the mean-free one.

    Accuracy of the default reference (``nu = eta = 0.015``, ``n = 64``, ``T = 1``): relative L2
    difference from ``n = 128`` of 9e-7 at ``t = 0.5`` and 6e-3 at ``t = 1``, when the current
    sheets have thinned; the solver refuses a grid whose spectrum reaches its cut-off (see
    :mod:`lab.solvers.mhd`), so longer horizons or smaller ``nu``, ``eta`` ask for larger ``n``.
    """

    key = "mhd2d_orszag_tang"
    kind = "2d+t"
    title = "MHD 2D: Orszag–Tang vortex"
    latex = (r"\omega_t + \mathbf u\cdot\nabla\omega = \mathbf B\cdot\nabla j + \nu\Delta\omega,\ "
             r"a_t + \mathbf u\cdot\nabla a = \eta\Delta a,\ \omega = -\Delta\psi,\ j = -\Delta a,\ "
             r"\mathbf u_0 = (-\sin y, \sin x),\ \mathbf B_0 = (-\sin y, \sin 2x)")
    description = ("A conducting fluid whose vortices and magnetic islands interact: the flow "
                   "sweeps the field into thin current sheets, where it reconnects and "
                   "dissipates. The standard test of 2D MHD codes.")
    source = ("Orszag & Tang, J. Fluid Mech. 90 (1979); Biskamp & Welter, Phys. Fluids B 1 "
              "(1989)")
    axes = ("x", "y", "t")
    outputs = ("omega", "a", "psi")
    coupled = ("omega", "a")
    periodic = ("x", "y")
    grid_shape = (64, 64, 11)
    length = 2 * math.pi

    nu = param.Number(0.015, bounds=(1e-3, 1.0), doc="Kinematic viscosity ν")
    eta = param.Number(0.015, bounds=(1e-3, 1.0), doc="Magnetic resistivity η")
    t_end = param.Number(1.0, bounds=(0.01, 5.0), doc="Final time T")
    n, dt, max_memory_gb = _reference_params(
        64, (32, 1024), "Reference pseudo-spectral grid per axis (refused when too coarse for ν, η and T)")

    def bounds(self):
        return {"x": (0.0, self.length), "y": (0.0, self.length), "t": (0.0, self.t_end)}

    def memory_needs(self):
        frames = 4 * self.grid_shape[-1]
        return super().memory_needs() + [
            Need((MHD2D.working_arrays + frames) * self.n**2 * 8, "the reference solve", self,
                 ("n",), cap="max_memory_gb")]

    def solver(self) -> MHD2D:
        check_needs(self.memory_needs())  # in the user's terms, before the solver's own check
        return MHD2D(self.n, nu=self.nu, eta=self.eta, max_bytes=capped_bytes(self.max_memory_gb),
                     dtype=F64)

    def solve(self, times) -> torch.Tensor:
        """Solver-grid ``(omega, a, psi, j)`` at ``times``: ``(T, 4, n, n)``."""
        w0, a0 = orszag_tang(self.n, dtype=F64)
        return self.solver().solve(w0, a0, list(times), dt=self.dt, output="all")

    def initial_condition(self, X):
        x, y = X[:, 0], X[:, 1]
        w = torch.cos(x) + torch.cos(y)
        return torch.stack([w, torch.cos(y) + 0.5 * torch.cos(2 * x), w], dim=1)

    def residual(self, f):
        w = f(0)
        u, v = f.d("y", out=2), -f.d("x", out=2)
        bx, by = f.d("y", out=1), -f.d("x", out=1)
        jx = -(f.d("x", "x", "x", out=1) + f.d("x", "y", "y", out=1))
        jy = -(f.d("x", "x", "y", out=1) + f.d("y", "y", "y", out=1))
        lap_w = f.d("x", "x", out=0) + f.d("y", "y", out=0)
        lap_a = f.d("x", "x", out=1) + f.d("y", "y", out=1)
        r_w = f.d("t", out=0) + u * f.d("x", out=0) + v * f.d("y", out=0) \
            - (bx * jx + by * jy) - self.nu * lap_w
        r_a = f.d("t", out=1) + u * f.d("x", out=1) + v * f.d("y", out=1) - self.eta * lap_a
        r_psi = f.d("x", "x", out=2) + f.d("y", "y", out=2) + w
        return torch.stack([r_w, r_a, r_psi], dim=1)

    def _reference(self, grid):
        ts, inverse = _unique_times(grid["t"])
        fields = _interpolate(self.solve(ts)[:, :3], grid, ("x", "y"), self.length)  # (T, 3, nx, ny)
        return fields.permute(2, 3, 0, 1).numpy()[:, :, inverse, :]
