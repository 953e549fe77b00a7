"""Convection, reaction and reaction–diffusion: the PINN failure-mode trio.

Krishnapriyan et al. (2021) showed that plain PINNs fail on these simple periodic problems
once the coefficient grows (β ≳ 10, ρ ≳ 5): the loss landscape becomes ill-conditioned
although the network could represent the solution. Domain ``x ∈ [0, 2π)`` periodic,
``t ∈ [0, 1]``, as in the paper's code.
"""
from __future__ import annotations

import math

import param
import torch

from lab.problems import register
from lab.problems.base import Problem
from lab.problems.spectral1d import PeriodicSpectralProblem
from lab.solvers.etdrk4 import ReactionDiffusion as ReactionDiffusionEquation
from lab.solvers.exact import convection_sine, logistic_reaction

SOURCE = ("Krishnapriyan, Gholami, Zhe, Kirby & Mahoney, Characterizing possible failure modes "
          "in physics-informed neural networks, NeurIPS 2021")


def gaussian_bump(x):
    """``exp(−(x − π)² / (2 (π/4)²))``, the paper's ``gauss`` initial condition."""
    return torch.exp(-((x - math.pi) ** 2) / (2 * (math.pi / 4) ** 2))


@register
class Convection(Problem):
    """``u_t + β u_x = 0``, ``u(x, 0) = sin x``, periodic on ``[0, 2π)``; exact ``sin(x − βt)``."""

    key = "convection"
    kind = "1d+t"
    title = "Convection 1D"
    latex = r"u_t + \beta\,u_x = 0,\quad u(x,0) = \sin x,\quad x \in [0, 2\pi)\ \text{periodic}"
    description = ("Pure transport at speed β. Trivial to solve exactly, yet plain PINNs fail "
                   "beyond β ≈ 10: the residual loss becomes ill-conditioned.")
    source = SOURCE
    axes = ("x", "t")
    periodic = ("x",)
    grid_shape = (256, 101)

    beta = param.Number(30.0, bounds=(0.0, 100.0), doc="Convection speed β")

    def bounds(self):
        return {"x": (0.0, 2 * math.pi), "t": (0.0, 1.0)}

    def residual(self, f):
        return f.d("t") + self.beta * f.d("x")

    def initial_condition(self, X):
        return torch.sin(X[:, :1])

    #: Lagrangian form (:mod:`lab.models.lagrangian`): ``dx/dt = β``, ``du/dt = 0`` along x(ξ, t)
    diffusivity = 0.0

    def characteristic_speed(self, u):
        return torch.full_like(u, self.beta)

    def _reference(self, grid):
        return convection_sine(grid["x"][:, None], grid["t"][None, :], self.beta)


@register
class Reaction(Problem):
    """``u_t = ρ u (1 − u)`` (logistic growth at every point), Gaussian bump initial condition.

    Exact: ``u = u0 e^{ρt} / (u0 e^{ρt} + 1 − u0)``.
    """

    key = "reaction"
    kind = "1d+t"
    title = "Reaction 1D"
    latex = (r"u_t = \rho\,u(1-u),\quad u(x,0) = e^{-(x-\pi)^2 / (2(\pi/4)^2)},"
             r"\quad x \in [0, 2\pi)\ \text{periodic}")
    description = ("Logistic (Fisher) reaction without transport: each point saturates to 1 at "
                   "its own pace, so sharp fronts form. PINNs fail for ρ ≳ 5.")
    source = SOURCE
    axes = ("x", "t")
    periodic = ("x",)
    grid_shape = (256, 101)

    rho = param.Number(5.0, bounds=(0.0, 20.0), doc="Reaction rate ρ")

    def bounds(self):
        return {"x": (0.0, 2 * math.pi), "t": (0.0, 1.0)}

    def residual(self, f):
        u = f()
        return f.d("t") - self.rho * u * (1 - u)

    def initial_condition(self, X):
        return gaussian_bump(X[:, :1])

    def _reference(self, grid):
        u0 = gaussian_bump(torch.as_tensor(grid["x"], dtype=torch.float64)).numpy()
        return logistic_reaction(u0[:, None], grid["t"][None, :], self.rho)


@register
class ReactionDiffusionProblem(PeriodicSpectralProblem):
    """``u_t = ν u_xx + ρ u (1 − u)`` (Fisher–KPP), Gaussian bump, periodic on ``[0, 2π)``.

    Reference: ETDRK4 with ``L = ρ − ν k²`` and ``N = −ρ u²``, 512 points, ``dt ≤ 1e-3``.
    The Gaussian's periodic extension has a slope jump of 3e-3 at ``x = 0 ≡ 2π``, so the
    Fourier reference converges like ``dx²`` there: max error 5e-7 against 1024 points over
    the parameter box (3e-8 at the defaults). Small ν would let the reaction amplify that kink
    unresolved (ν = 0.01, ρ = 20: 3e-4), hence ν ≥ 0.5.
    """

    key = "reaction_diffusion"
    title = "Reaction–diffusion 1D"
    latex = (r"u_t = \nu\,u_{xx} + \rho\,u(1-u),\quad u(x,0) = e^{-(x-\pi)^2 / (2(\pi/4)^2)},"
             r"\quad x \in [0, 2\pi)\ \text{periodic}")
    description = ("Fisher–KPP: logistic growth plus diffusion; the bump spreads and saturates "
                   "into travelling fronts.")
    source = SOURCE

    nu = param.Number(3.0, bounds=(0.5, 10.0), doc="Diffusion coefficient ν")
    rho = param.Number(5.0, bounds=(0.0, 10.0), doc="Reaction rate ρ")

    def bounds(self):
        return {"x": (0.0, 2 * math.pi), "t": (0.0, 1.0)}

    def residual(self, f):
        u = f()
        return f.d("t") - self.nu * f.d("x", "x") - self.rho * u * (1 - u)

    def u0(self, x):
        return gaussian_bump(x)

    def solver_resolution(self):
        return 512, 1e-3

    def equation(self, n, device=None, dtype=torch.float64):
        return ReactionDiffusionEquation(n, 2 * math.pi, diffusivity=self.nu, linear=self.rho,
                                         quadratic=-self.rho, device=device, dtype=dtype)


__all__ = ["Convection", "Reaction", "ReactionDiffusionProblem", "gaussian_bump"]
