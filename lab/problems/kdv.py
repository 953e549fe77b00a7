"""Korteweg–de Vries: dispersive waves breaking up into a train of solitons."""
from __future__ import annotations

import math

import param
import torch

from lab.problems import register
from lab.problems.spectral1d import PeriodicSpectralProblem
from lab.solvers.etdrk4 import KdV as KdVEquation


@register
class KdV(PeriodicSpectralProblem):
    """``u_t + η u u_x + μ² u_xxx = 0``, ``u(x, 0) = cos(πx)``, periodic on ``[−1, 1)``, ``t ∈ [0, 1]``.

    η = 1, μ = 0.022 is Zabusky & Kruskal's (1965) soliton-discovery setting, used as a PINN
    benchmark by Raissi et al. (2019) and jaxpi. Mass ``∫u dx`` is conserved. Reference:
    ETDRK4 (the stiff dispersion ``L = iμ²k³`` exact), 512 points and ``dt ≤ 2e-4/max(1, η)``
    for μ ≥ 0.022 (1024 points and half the step below): max error 2e-8 against 2048 points
    and ``dt = 2.5e-5`` at the defaults, ≤ 5e-7 over the parameter box (η = 2). The solver is
    checked against the exact soliton in the tests.
    """

    key = "kdv"
    title = "Korteweg–de Vries 1D"
    latex = (r"u_t + \eta\,u\,u_x + \mu^2\,u_{xxx} = 0,\quad u(x,0) = \cos(\pi x),"
             r"\quad x \in [-1, 1)\ \text{periodic}")
    description = ("Nonlinear steepening balanced by dispersion: the cosine breaks into "
                   "solitons that pass through each other (Zabusky–Kruskal).")
    source = ("Zabusky & Kruskal, Phys. Rev. Lett. 15 (1965); Raissi, Perdikaris & Karniadakis, "
              "J. Comput. Phys. 378 (2019)")

    eta = param.Number(1.0, bounds=(0.5, 2.0), doc="Nonlinear coefficient η")
    mu = param.Number(0.022, bounds=(0.015, 0.1), doc="Dispersion length μ (the term is μ² u_xxx)")

    def bounds(self):
        return {"x": (-1.0, 1.0), "t": (0.0, 1.0)}

    def residual(self, f):
        return f.d("t") + self.eta * f() * f.d("x") + self.mu**2 * f.d("x", "x", "x")

    def u0(self, x):
        return torch.cos(math.pi * x)

    def solver_resolution(self):
        n, dt = (512, 2e-4) if self.mu >= 0.022 else (1024, 1e-4)
        return n, dt / max(1.0, self.eta)  # the nonlinear wave speed scales with η

    def equation(self, n, device=None, dtype=torch.float64):
        return KdVEquation(n, 2.0, origin=-1.0, eta=self.eta, mu=self.mu, device=device,
                           dtype=dtype)
