"""Time-dependent 3D problems with closed-form solutions."""
from __future__ import annotations

import math

import numpy as np
import param
import torch

from lab.problems import register
from lab.problems.base import Problem


@register
class Heat3D(Problem):
    """``u_t = kappa lap u`` on ``[0, 1]^3 x [0, T]``, ``u = 0`` on the boundary (exact solution).

    ``u = sin(pi x) sin(pi y) sin(pi z) e^{-3 pi^2 kappa t}
    + 1/2 sin(2 pi x) sin(pi y) sin(3 pi z) e^{-14 pi^2 kappa t}``: two separable modes decaying
    at different rates, so the shape of the solution changes in time.
    """

    key = "heat3d"
    kind = "3d+t"
    title = "Heat equation 3D"
    latex = (r"u_t = \kappa\Delta u \text{ in } [0,1]^3,\ u = \sum_m c_m \sin(a_m\pi x)"
             r"\sin(b_m\pi y)\sin(c_m\pi z)\,e^{-\kappa\pi^2(a_m^2+b_m^2+c_m^2)t}")
    description = ("Diffusion in a cube with an exact two-mode solution: the high mode fades "
                   "first. A cheap first 3D+t problem.")
    source = "Separation of variables, e.g. Evans, Partial Differential Equations (2010), sec. 2.3"
    axes = ("x", "y", "z", "t")
    outputs = ("u",)
    grid_shape = (21, 21, 21, 11)

    kappa = param.Number(0.01, bounds=(1e-4, 1.0), doc="Diffusivity κ")
    t_end = param.Number(1.0, bounds=(0.01, 10.0), doc="Final time T")

    MODES = ((1.0, 1, 1, 1), (0.5, 2, 1, 3))

    def bounds(self):
        return {"x": (0.0, 1.0), "y": (0.0, 1.0), "z": (0.0, 1.0), "t": (0.0, self.t_end)}

    def exact(self, x, y, z, t):
        lib = torch if isinstance(x, torch.Tensor) else np
        return sum(c * lib.sin(a * math.pi * x) * lib.sin(b * math.pi * y) * lib.sin(d * math.pi * z)
                   * lib.exp(-self.kappa * math.pi**2 * (a * a + b * b + d * d) * t)
                   for c, a, b, d in self.MODES)

    def residual(self, f):
        return f.d("t") - self.kappa * (f.d("x", "x") + f.d("y", "y") + f.d("z", "z"))

    def initial_condition(self, X):
        return self.exact(X[:, 0], X[:, 1], X[:, 2], torch.zeros_like(X[:, 0]))[:, None]

    def _reference(self, grid):
        return self.exact(*np.meshgrid(grid["x"], grid["y"], grid["z"], grid["t"], indexing="ij"))
