"""Viscous Burgers' equation: the classic first PINN benchmark (Raissi et al. 2019)."""
from __future__ import annotations

import math

import numpy as np
import param
import torch

from lab.problems import register
from lab.problems.base import Problem
from lab.solvers.burgers_exact import burgers_sine


@register
class Burgers(Problem):
    """u_t + u u_x = ν u_xx on [-1, 1] × [0, T], u(x, 0) = −sin(πx), u(±1, t) = 0.

    With ν = 0.01/π a steep front forms at x = 0 near t ≈ 0.5 (max |u_x| = 152.005 at
    t = 1.6037/π, Basdevant et al. 1986). Reference: exact Cole–Hopf solution.
    """

    key = "burgers"
    kind = "1d+t"
    title = "Burgers 1D"
    latex = r"u_t + u\,u_x = \nu\,u_{xx},\quad u(x,0) = -\sin(\pi x),\quad u(\pm 1, t) = 0"
    description = ("Viscous Burgers' equation: nonlinear advection steepens the sine into a "
                   "shock that viscosity keeps smooth. The first benchmark of every PINN code.")
    source = "Raissi, Perdikaris & Karniadakis, J. Comput. Phys. 378 (2019); Basdevant et al., Comput. Fluids 14 (1986)"
    axes = ("x", "t")
    outputs = ("u",)
    grid_shape = (256, 101)

    nu = param.Number(0.01 / math.pi, bounds=(1e-4, 1.0), inclusive_bounds=(True, True),
                      doc="Kinematic viscosity ν")
    t_end = param.Number(1.0, bounds=(0.01, 2.0), doc="Final time T")

    def bounds(self):
        return {"x": (-1.0, 1.0), "t": (0.0, self.t_end)}

    def residual(self, f):
        return f.d("t") + f() * f.d("x") - self.nu * f.d("x", "x")

    def initial_condition(self, X):
        return -torch.sin(math.pi * X[:, :1])

    # Lagrangian form (:mod:`lab.models.lagrangian`): dx/dt = u, du/dt = ν u_xx along x(ξ, t)
    @property
    def diffusivity(self):
        return self.nu

    def characteristic_speed(self, u):
        return u

    def _reference(self, grid):
        return burgers_sine(grid["x"], grid["t"], self.nu)
