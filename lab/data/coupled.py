"""Operator-learning data of the coupled systems: magnetohydrodynamics and convection.

=============  ========================================  =========================================
spec           arrays                                    setting
=============  ========================================  =========================================
mhd2d          ``x`` = (w0, a0), ``y`` = (w, a)(T),      2D incompressible MHD (:mod:`lab.solvers.mhd`)
               (N, 2, s, s)                              from Orszag–Tang-like states: random
                                                         amplitudes and phases of its four modes
convection2d   ``x`` = theta0 (N, 1, nx, nz+1),          Rayleigh–Bénard between free-slip walls
               ``y`` = (theta, psi)(T) (N, 2, nx, nz+1)  (:mod:`lab.solvers.rayleigh_benard`) from
                                                         random low-mode temperature perturbations
=============  ========================================  =========================================
"""
from __future__ import annotations

import math

import param
import torch

from lab.data.datasets import DatasetSpec, register_dataset
from lab.solvers.mhd import MHD2D
from lab.solvers.rayleigh_benard import RayleighBenard2D


@register_dataset
class MHD2DData(DatasetSpec):
    """``(w0, a0) -> (w, a)(T)`` on ``[0, 2 pi)^2``, ``s^2`` grid, float64 pseudo-spectral.

    ``psi0 = c1 cos(x + p1) + c2 cos(y + p2)`` (``w0 = psi0``) and
    ``a0 = c3 cos(y + p3) + c4 cos(2x + p4) / 2`` with ``c ~ U(1 - spread, 1 + spread)`` and
    uniform phases: the Orszag–Tang vortex at ``c = 1``, ``p = 0``, and its neighbours.
    """

    key = "mhd2d"
    fields = ("x", "y")

    nu = param.Number(0.015, bounds=(1e-3, 1.0), doc="Viscosity ν")
    eta = param.Number(0.015, bounds=(1e-3, 1.0), doc="Resistivity η")
    t_end = param.Number(0.5, bounds=(0.01, 5.0), doc="Final time T")
    resolution = param.Integer(32, bounds=(16, 1024), doc="Grid of the data and the solver")
    spread = param.Number(0.3, bounds=(0.0, 0.9), doc="Relative spread of the mode amplitudes")

    def shapes(self):
        s = (self.n_samples, 2, self.resolution, self.resolution)
        return {"x": s, "y": s}

    def solver_bytes(self):
        return (MHD2D.working_arrays + 8) * 8 * self.solver_batch * self.resolution**2

    def _generate(self, batch, generator, device):
        n = self.resolution
        c = 1 + self.spread * (2 * torch.rand(batch, 4, generator=generator, dtype=torch.float64) - 1)
        p = 2 * math.pi * torch.rand(batch, 4, generator=generator, dtype=torch.float64)
        c, p = (t.to(device)[:, :, None, None] for t in (c, p))
        x = torch.arange(n, device=device, dtype=torch.float64) * (2 * math.pi / n)
        X, Y = torch.meshgrid(x, x, indexing="ij")
        w0 = c[:, 0] * torch.cos(X + p[:, 0]) + c[:, 1] * torch.cos(Y + p[:, 1])
        a0 = c[:, 2] * torch.cos(Y + p[:, 2]) + 0.5 * c[:, 3] * torch.cos(2 * X + p[:, 3])
        s = MHD2D(n, nu=self.nu, eta=self.eta, device=device, max_bytes=max(2 * self.solver_bytes(), 2**30))
        y = s.solve(w0, a0, [self.t_end])[:, 0]  # (B, 2, n, n)
        return {"x": torch.stack([w0, a0], dim=1), "y": y}


@register_dataset
class Convection2DData(DatasetSpec):
    """``theta0 -> (theta, psi)(T)`` of convection from rest, on ``nx x (nz + 1)`` nodes.

    ``theta0 = sum_{k, m = 1, 2} c_km sin(m pi z) cos(2 pi k x / Lx + p_km)`` with
    ``c_km ~ amplitude * N(0, 1) / (k m)`` and uniform phases.
    """

    key = "convection2d"
    fields = ("x", "y")

    ra = param.Number(2000.0, bounds=(700.0, 1e5), doc="Rayleigh number Ra")
    pr = param.Number(1.0, bounds=(0.01, 1e4), doc="Prandtl number Pr")
    aspect = param.Number(2 * math.sqrt(2), bounds=(0.5, 16.0), doc="Period Lx in x")
    t_end = param.Number(0.2, bounds=(0.01, 5.0), doc="Final time T")
    amplitude = param.Number(0.1, bounds=(1e-4, 1.0), doc="Amplitude of the initial perturbation")
    nx = param.Integer(16, bounds=(8, 1024), doc="Nodes in x")
    nz = param.Integer(16, bounds=(8, 1024), doc="Intervals in z (nz + 1 nodes, walls included)")

    def shapes(self):
        return {"x": (self.n_samples, 1, self.nx, self.nz + 1), "y": (self.n_samples, 2, self.nx, self.nz + 1)}

    def solver_bytes(self):
        return 64 * 8 * self.solver_batch * self.nx * 2 * self.nz

    def _generate(self, batch, generator, device):
        c = torch.randn(batch, 2, 2, generator=generator, dtype=torch.float64)
        p = 2 * math.pi * torch.rand(batch, 2, 2, generator=generator, dtype=torch.float64)
        s = RayleighBenard2D(self.nx, self.nz, ra=self.ra, pr=self.pr, aspect=self.aspect, device=device)
        x, z = s.grid()
        X, Z = torch.meshgrid(x, z, indexing="ij")
        theta0 = torch.zeros(batch, self.nx, self.nz + 1, dtype=torch.float64, device=device)
        for k in (1, 2):
            for m in (1, 2):
                amp = (self.amplitude * c[:, k - 1, m - 1] / (k * m)).to(device)[:, None, None]
                phase = p[:, k - 1, m - 1].to(device)[:, None, None]
                theta0 = theta0 + amp * torch.sin(m * math.pi * Z) * torch.cos(2 * math.pi * k * X / self.aspect + phase)
        out = s.solve(torch.zeros_like(theta0), theta0, [self.t_end])[:, 0]  # (B, 5, nx, nz + 1)
        return {"x": theta0[:, None], "y": out[:, [0, 2]]}
