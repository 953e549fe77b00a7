"""Steady problems on 3D geometries (kind ``"3d"``, axes ``x, y, z``).

The spherical shell's solution is a radial Poisson part plus a harmonic dipole, written in
polynomials and powers of ``r``: its reference is exact to round-off (checked through the
problem's own residual and boundary terms in ``tests/test_geometric_problems.py``).
"""
from __future__ import annotations

import numpy as np
import param

from lab.config import ConfigError, label
from lab.geometry import Ball
from lab.problems import register
from lab.problems.custom import Dirichlet, Neumann
from lab.problems.geometric import GeometryProblem

#: the inner radius may reach this fraction of the outer one (a thinner shell is degenerate:
#: it fills too little of its bounding box to be sampled, and its fields too little of a grid)
MAX_RATIO = 0.9


@register
class ShellPoisson(GeometryProblem):
    """``-Δu = q`` in the spherical shell ``a < r < b``, an insulated inner sphere
    (``∂u/∂n = 0``) and ``u = cos θ`` on the outer one (``cos θ = z / r``).

    Exact: ``u = q (b² − r²) / 6 + q a³ / 3 (1/b − 1/r) + C (r + a³ / (2 r²)) cos θ`` with
    ``C = 1 / (b + a³ / (2 b²))``. The radial part is the source's response (its ``1/r`` term is
    what the insulated wall adds); the dipole is harmonic, ``r`` and ``r⁻²`` times ``cos θ``
    being the two ``ℓ = 1`` solutions of Laplace's equation, in the ratio the Neumann
    condition fixes. Heat through a hollow sphere with a cold pole and a warm one.
    """

    key = "shell_poisson"
    title = "Poisson in a spherical shell (3D, insulated core)"
    kind = "3d"
    axes = ("x", "y", "z")
    grid_shape = (33, 33, 33)
    latex = (r"-\Delta u = q \text{ in } a<r<b,\quad \partial_n u = 0 \text{ on } r=a,\quad "
             r"u = \cos\theta \text{ on } r=b")
    description = ("Steady heat in a hollow sphere with a source q, an insulated inner wall and "
                   "a pole-to-pole temperature on the outer wall: a 3D geometry with curved "
                   "Dirichlet and Neumann parts and an exact solution.")
    source = "Separation of variables in spherical coordinates (Legendre ℓ = 0, 1)"
    outputs = ("u",)

    r_inner = param.Number(0.5, bounds=(0.1, 1.8), label="Inner radius a", doc="Inner radius a (length units)")
    r_outer = param.Number(1.0, bounds=(0.5, 2.0), label="Outer radius b", doc="Outer radius b (length units)")
    q = param.Number(1.0, bounds=(-20.0, 20.0), label="Source q", doc="Heat source q (temperature / length²)")

    @param.depends("r_inner", "r_outer", watch=True, on_init=True)
    def _check_shell(self):
        a, b, lo = self.r_inner, self.r_outer, self.param["r_inner"].bounds[0]
        if not a <= MAX_RATIO * b:
            raise ConfigError("r_inner", f"{label(self.param['r_inner'])} = {a:g} leaves no shell inside the "
                                         f"outer radius b = {b:g}: it must lie in [{lo:g}, {MAX_RATIO * b:.4g}] "
                                         f"({MAX_RATIO:g} b)")

    def geometry(self):
        return Ball((0.0, 0.0, 0.0), self.r_outer, part="outer") - Ball((0.0, 0.0, 0.0), self.r_inner, part="inner")

    def conditions(self):
        return {"inner": Neumann(0.0), "outer": Dirichlet(self.exact)}

    def exact(self, x, y, z):
        """The solution at points (numpy or torch; ``r > 0``)."""
        a, b, q = self.r_inner, self.r_outer, self.q
        r2 = x * x + y * y + z * z
        r = r2 ** 0.5
        c = 1.0 / (b + a ** 3 / (2 * b * b))
        return q * (b * b - r2) / 6 + q * a ** 3 / 3 * (1 / b - 1 / r) + c * z * (1 + a ** 3 / (2 * r2 * r))

    def residual(self, f):
        return -(f.d("x", "x") + f.d("y", "y") + f.d("z", "z")) - self.q

    def _reference(self, grid):
        X, Y, Z = np.meshgrid(grid["x"], grid["y"], grid["z"], indexing="ij")
        hole = X * X + Y * Y + Z * Z < (self.r_inner / 2) ** 2  # masked out: keeps 1/r finite
        return self.exact(np.where(hole, self.r_inner, X), Y, Z)

