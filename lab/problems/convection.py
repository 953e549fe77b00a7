"""Coupled physics: 2D Rayleigh–Bénard convection between free-slip isothermal walls.

The reference comes from the pseudo-spectral solver :class:`lab.solvers.rayleigh_benard.RayleighBenard2D`
in float64 on the CPU (sine series in ``z``, Fourier in ``x``), stepped exactly to the requested
times, checked for resolution at each of them and evaluated at the requested points by
spectral interpolation, like the Navier–Stokes references of :mod:`lab.problems.flows`.
"""
from __future__ import annotations

import math

import param
import torch

from lab.config import ConfigError, label
from lab.limits import Need, check_needs
from lab.problems import register
from lab.problems.base import Problem
from lab.problems.flows import _unique_times
from lab.solvers.rayleigh_benard import POINTS_PER_LAYER, RayleighBenard2D, roll_perturbation

F64 = torch.float64


@register
class RayleighBenard2DProblem(Problem):
    """Onset and saturation of convection rolls in a layer heated from below.

    Thermal-diffusion units, ``T = 1 - z + theta``, ``u = psi_z``, ``w = -psi_x``,
    ``omega = lap psi``:

        omega_t + u.grad omega = Pr lap omega - Pr Ra theta_x,
        theta_t + u.grad theta = lap theta + w,

    on ``[0, Lx) x [0, 1]``, periodic in ``x``, ``theta = psi = omega = 0`` on the free-slip
    walls, from rest with ``theta0 = A sin(pi z) cos(2 pi x / Lx)`` (one pair of rolls;
    ``Lx = 2 sqrt 2`` is the critical wavelength). Conduction is stable below
    ``Ra_c = 27 pi^4 / 4 ~ 657.5``; above it the rolls grow and saturate.

    Outputs ``(theta, omega, psi)``: temperature and vorticity, plus the stream function so
    that the PINN residual is pointwise (``lap psi - omega = 0`` instead of a global Poisson
    solve); the velocity is ``(psi_z, -psi_x)``.
    """

    key = "rayleigh_benard2d"
    kind = "2d+t"
    title = "Rayleigh–Bénard convection 2D (free-slip)"
    latex = (r"\omega_t + \mathbf u\cdot\nabla\omega = \mathrm{Pr}\,\Delta\omega - \mathrm{Pr}\,\mathrm{Ra}\,"
             r"\theta_x,\ \theta_t + \mathbf u\cdot\nabla\theta = \Delta\theta + w,\ \omega = \Delta\psi,\ "
             r"\mathbf u = (\psi_z, -\psi_x),\ \theta = \psi = \omega = 0 \text{ at } z = 0, 1")
    description = ("A fluid layer heated from below: above the critical Rayleigh number 657.5 "
                   "buoyancy beats diffusion and convection rolls carry heat upwards (Nusselt "
                   "number above 1). Temperature and flow are coupled both ways.")
    source = ("Rayleigh, Phil. Mag. 32 (1916); Chandrasekhar, Hydrodynamic and Hydromagnetic "
              "Stability (1961); Blankenbach et al., Geophys. J. Int. 98 (1989)")
    axes = ("x", "z", "t")
    outputs = ("theta", "omega", "psi")
    coupled = ("theta", "omega")
    periodic = ("x",)
    grid_shape = (32, 17, 11)

    ra = param.Number(3000.0, bounds=(1.0, 1e7), label="Rayleigh number Ra",
                      doc="Rayleigh number Ra (onset at 657.5)")
    pr = param.Number(1.0, bounds=(0.01, 1e4), label="Prandtl number Pr", doc="Prandtl number Pr")
    amplitude = param.Number(0.1, bounds=(1e-8, 1.0), doc="Amplitude A of the initial temperature rolls")
    aspect = param.Number(2 * math.sqrt(2), bounds=(0.5, 16.0), doc="Period Lx of the layer in x")
    t_end = param.Number(0.5, bounds=(0.01, 10.0), doc="Final time T (thermal diffusion times)")
    n = param.Integer(32, bounds=(8, 512), label="Reference grid n",
                      doc="Reference grid: n points in x and n + 1 in z (refused when too coarse for Ra)")
    max_memory_gb = param.Number(2.0, bounds=(0.01, 1024.0), label="Max memory (GB)",
                                 doc="Refuse reference solves estimated to need more memory")

    @param.depends("n", "ra", watch=True, on_init=True)
    def _check_resolution(self):
        need = math.ceil(POINTS_PER_LAYER * self.ra ** (1 / 3))
        if self.n < need:
            n, ra = label(self.param["n"]), label(self.param["ra"])
            raise ConfigError("n", f"{n} = {self.n} cannot resolve {ra} = {self.ra:g}: the thermal "
                                   f"boundary layers, about Ra^(-1/3) = {self.ra ** (-1 / 3):.3g} thick, "
                                   f"need {n} >= {need}; raise {n} or lower {ra}.")

    def bounds(self):
        return {"x": (0.0, self.aspect), "z": (0.0, 1.0), "t": (0.0, self.t_end)}

    def memory_needs(self):
        frames = 5 * self.grid_shape[-1]
        return super().memory_needs() + [
            Need((48 + frames) * 2 * self.n * (self.n + 1) * 8, "the reference solve", self, ("n",),
                 cap="max_memory_gb")]

    def solver(self) -> RayleighBenard2D:
        check_needs(self.memory_needs())
        return RayleighBenard2D(self.n, self.n, ra=self.ra, pr=self.pr, aspect=self.aspect, dtype=F64)

    def solve(self, times) -> torch.Tensor:
        """Solver-grid ``(theta, omega, psi, u, w)`` at ``times``: ``(T, 5, n, n + 1)``."""
        w0, t0 = roll_perturbation(self.n, self.n, self.amplitude, aspect=self.aspect)
        return self.solver().solve(w0, t0, list(times))

    def initial_condition(self, X):
        x, z = X[:, 0], X[:, 1]
        theta = self.amplitude * torch.sin(math.pi * z) * torch.cos(2 * math.pi * x / self.aspect)
        zero = torch.zeros_like(theta)
        return torch.stack([theta, zero, zero], dim=1)

    def residual(self, f):
        u, w = f.d("z", out=2), -f.d("x", out=2)
        lap = lambda i: f.d("x", "x", out=i) + f.d("z", "z", out=i)  # noqa: E731
        r_om = f.d("t", out=1) + u * f.d("x", out=1) + w * f.d("z", out=1) \
            - self.pr * lap(1) + self.pr * self.ra * f.d("x", out=0)
        r_th = f.d("t", out=0) + u * f.d("x", out=0) + w * f.d("z", out=0) - lap(0) - w
        r_psi = lap(2) - f(1)
        return torch.stack([r_om, r_th, r_psi], dim=1)

    def _reference(self, grid):
        ts, inverse = _unique_times(grid["t"])
        fields = self.solve(ts)[:, :3]                                 # (T, 3, n, n + 1)
        fields = self.solver().interpolate(fields, torch.as_tensor(grid["x"]), torch.as_tensor(grid["z"]))
        return fields.permute(2, 3, 0, 1).numpy()[:, :, inverse, :]

