"""Elliptic problems on an L-shape, a disk, an annulus and a plate with a hole.

Three have exact solutions (verified to round-off by the catalogue's tests); the plate's
reference is a P1 finite-element solution on a mesh scikit-fem holds (:mod:`lab.solvers.fem`),
whose L2 error falls as ``h²`` under refinement (measured in ``tests/test_geometric_problems.py``).
"""
from __future__ import annotations

import math

import numpy as np
import param
import torch
from scipy.special import jv

from lab.geometry import Annulus, Disk, LShape, PlateWithHole
from lab.problems import register
from lab.problems.custom import Dirichlet, Neumann
from lab.problems.geometric import GeometryProblem
from lab.solvers.fem import plate_with_hole_heat, plate_with_hole_mesh, probe


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else np


def _laplacian(f):
    return f.d("x", "x") + f.d("y", "y")


def _mesh(grid):
    return np.meshgrid(grid["x"], grid["y"], indexing="ij")


@register
class LShapeLaplace(GeometryProblem):
    """``Δu = 0`` on ``(-s, s)² \\ [0, s] × [-s, 0]`` with ``u = r^{2/3} sin(2θ/3)`` on the boundary.

    The re-entrant corner (interior angle ``3π/2``) makes ``∇u ~ r^{-1/3}`` unbounded at the
    origin, for every smooth data: the classic test of adaptive methods (Strang & Fix 1973;
    the finite-element benchmark of Mitchell, 2013). ``u`` vanishes on the notch's two edges
    (``θ = 0`` and ``θ = 3π/2``). Reference: the exact solution.
    """

    key = "lshape_laplace"
    title = "Laplace on an L-shape (corner singularity)"
    latex = (r"\Delta u = 0 \text{ in } (-s,s)^2\setminus[0,s]\times[-s,0],\quad "
             r"u = r^{2/3}\sin(2\theta/3) \text{ on } \partial\Omega")
    description = ("A harmonic field on an L-shaped plate whose gradient is infinite at the "
                   "re-entrant corner: where a PINN's error gathers, and what adaptive sampling fixes.")
    source = "Strang & Fix, An Analysis of the Finite Element Method (1973); Mitchell, Appl. Math. Comput. 220 (2013)"
    outputs = ("u",)

    size = param.Number(1.0, bounds=(0.25, 4.0), doc="Half-width s of the L's square")

    def geometry(self):
        return LShape(self.size)

    def conditions(self):
        return {"outer": Dirichlet(self.exact), "notch": Dirichlet(self.exact)}

    def exact(self, x, y):
        r, th = self.polar(x, y)
        return _lib(x).sin(2 * th / 3) * r ** (2 / 3)

    def residual(self, f):
        return _laplacian(f)

    def _reference(self, grid):
        return self.exact(*_mesh(grid))


@register
class DiskHelmholtz(GeometryProblem):
    """``Δu + k² u = 0`` in the unit disk, ``u = J_n(k) cos(nθ)`` on the circle.

    Separation of variables gives ``u = J_n(k r) cos(nθ)`` (Bessel function of the first
    kind), unique while ``k`` is not a zero of some ``J_m`` (a Dirichlet eigenvalue of the
    disk: 2.405, 3.832, 5.136, ...). The data's extension inside, ``J_n(k) Re((x + iy)^n)``,
    is harmonic, not the solution, so a hard constraint still has the PDE to learn.
    """

    key = "disk_helmholtz"
    title = "Helmholtz on a disk (Bessel)"
    latex = r"\Delta u + k^2 u = 0 \text{ in } r<1,\quad u = J_n(k)\cos(n\theta) \text{ on } r=1"
    description = "A Bessel mode in a circular membrane: wave number k, n nodal diameters."
    source = "Separation of variables; e.g. Courant & Hilbert, Methods of Mathematical Physics I"
    outputs = ("u",)

    k = param.Number(4.0, bounds=(0.1, 12.0), doc="Wave number k (not a Bessel zero)")
    n = param.Integer(2, bounds=(0, 6), doc="Angular order n")

    def geometry(self):
        return Disk((0.0, 0.0), 1.0, part="rim")

    def conditions(self):
        return {"rim": Dirichlet(self.data)}

    def data(self, x, y):
        re, im = torch.ones_like(x), torch.zeros_like(x)
        for _ in range(self.n):  # (x + iy)^n
            re, im = re * x - im * y, re * y + im * x
        return float(jv(self.n, self.k)) * re

    def residual(self, f):
        return _laplacian(f) + self.k ** 2 * f()

    def _reference(self, grid):
        X, Y = _mesh(grid)
        r, th = self.polar(X, Y)
        return jv(self.n, self.k * r) * np.cos(self.n * th)


@register
class AnnulusLaplace(GeometryProblem):
    """``Δu = 0`` in ``a < r < 1`` with an insulated inner wall (``∂u/∂n = 0``) and
    ``u = cos(nθ)`` on the outer circle.

    Exact: ``u = (r^n + a^{2n} r^{-n}) / (1 + a^{2n}) cos(nθ)`` — the ``r^{-n}`` term is what
    the Neumann condition adds (with a Dirichlet inner wall it would enter with a minus sign).
    """

    key = "annulus_laplace"
    title = "Laplace in an annulus (insulated hole)"
    latex = (r"\Delta u = 0 \text{ in } a<r<1,\quad \partial_n u = 0 \text{ on } r=a,\quad "
             r"u = \cos(n\theta) \text{ on } r=1")
    description = "Steady heat in a ring with an insulated inner wall: a Neumann condition on a curved boundary."
    source = "Separation of variables in polar coordinates"
    outputs = ("u",)

    r_inner = param.Number(0.4, bounds=(0.1, 0.8), doc="Inner radius a")
    n = param.Integer(2, bounds=(1, 8), doc="Angular order n")

    def geometry(self):
        return Annulus((0.0, 0.0), self.r_inner, 1.0)

    def conditions(self):
        return {"inner": Neumann(0.0), "outer": Dirichlet(self.exact)}

    def exact(self, x, y):
        r, th = self.polar(x, y)
        a2n = self.r_inner ** (2 * self.n)
        return (r ** self.n + a2n * r ** (-self.n)) / (1 + a2n) * _lib(x).cos(self.n * th)

    def residual(self, f):
        return _laplacian(f)

    def _reference(self, grid):
        X, Y = _mesh(grid)
        return self.exact(np.where(np.hypot(X, Y) > 0, X, 1.0), Y)  # the centre is masked out


@register
class PlateHoleHeat(GeometryProblem):
    """``-Δu = q`` in ``[-1, 1]²`` minus the disk ``r < a``; the hole's wall at temperature
    ``T``, the plate's edges at 0.

    Reference: P1 finite elements (:func:`lab.solvers.fem.poisson`) on ``8 n × n`` polar-mapped
    layers (:func:`lab.solvers.fem.plate_with_hole_mesh`), second order in L2.
    """

    key = "plate_hole_heat"
    title = "Heat in a plate with a hole (FEM)"
    latex = r"-\Delta u = q \text{ in } [-1,1]^2\setminus\{r<a\},\quad u = T \text{ on } r=a,\quad u = 0 \text{ on the edges}"
    description = "Steady temperature of a square plate around a heated hole; the reference is finite elements."
    source = "Finite-element reference with scikit-fem (Gustafsson & McBain, JOSS 5, 2020)"
    outputs = ("u",)

    radius = param.Number(0.3, bounds=(0.05, 0.8), doc="Hole radius a")
    t_hole = param.Number(1.0, bounds=(-10.0, 10.0), doc="Temperature T of the hole's wall")
    q = param.Number(0.0, bounds=(-50.0, 50.0), doc="Heat source q")
    n = param.Integer(48, bounds=(4, 256), doc="Reference mesh layers n (8n x n cells, x2 triangles)")

    def geometry(self):
        return PlateWithHole((0.0, 0.0), self.radius)

    def conditions(self):
        return {"edges": Dirichlet(0.0), "hole": Dirichlet(self.t_hole)}

    def residual(self, f):
        return -_laplacian(f) - self.q

    def solve_fem(self):
        """``(basis, u)``: the finite-element solution on the reference mesh."""
        return plate_with_hole_heat(self.radius, self.n, self.t_hole, self.q)

    def reference_nodes(self):
        mesh = plate_with_hole_mesh(self.radius, self.n)
        return self._nodes(mesh.p.T, mesh.t.T, lambda: self.solve_fem()[1])

    def _reference(self, grid):
        basis, u = self.solve_fem()
        mask = self.inside(grid)
        X, Y = _mesh(grid)
        out = np.zeros(X.shape)
        out[mask] = probe(basis, u, np.stack([X[mask], Y[mask]]))
        return out
