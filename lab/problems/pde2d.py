"""Steady 2D problems: Poisson and Helmholtz (manufactured solutions), Darcy flow (FNO setting)."""
from __future__ import annotations

import math

import numpy as np
import param
import torch
from scipy.interpolate import RegularGridInterpolator

from lab.problems import register
from lab.problems.base import Problem
from lab.solvers.elliptic import darcy_coefficient, darcy_solve
from lab.solvers.grf import cosine_series, cosine_series_points, grf_cosine_coefficients


def _mesh(grid, axes=("x", "y")):
    return np.meshgrid(*(grid[a] for a in axes), indexing="ij")


@register
class Poisson2D(Problem):
    """``-lap u = f`` on ``[0, 1]^2``, ``u = 0`` on the boundary, ``u = sin(k pi x) sin(k pi y)``.

    The manufactured solution gives ``f = 2 k^2 pi^2 u``; ``k`` sets how oscillatory it is
    (spectral bias grows with ``k``). Reference: the exact solution.
    """

    key = "poisson2d"
    kind = "2d"
    title = "Poisson 2D"
    latex = r"-\Delta u = 2k^2\pi^2 \sin(k\pi x)\sin(k\pi y)\ \text{in } [0,1]^2,\quad u = 0 \text{ on } \partial\Omega"
    description = ("The model elliptic problem with a manufactured solution: a smooth field "
                   "pinned to zero on the square's boundary. Raise k to make it oscillatory.")
    source = "Manufactured solution, e.g. Lu et al., SIAM Rev. 63 (2021) (DeepXDE)"
    axes = ("x", "y")
    outputs = ("u",)
    grid_shape = (101, 101)

    k = param.Integer(1, bounds=(1, 16), doc="Mode number k of u = sin(kπx) sin(kπy)")

    def bounds(self):
        return {"x": (0.0, 1.0), "y": (0.0, 1.0)}

    def exact(self, x, y):
        lib = torch if isinstance(x, torch.Tensor) else np
        return lib.sin(self.k * math.pi * x) * lib.sin(self.k * math.pi * y)

    def residual(self, f):
        x, y = f.coord("x"), f.coord("y")
        rhs = 2 * (self.k * math.pi) ** 2 * self.exact(x, y)
        return -(f.d("x", "x") + f.d("y", "y")) - rhs

    def boundary_value(self, X):
        return self.exact(X[:, 0], X[:, 1])[:, None]

    def _reference(self, grid):
        return self.exact(*_mesh(grid))


@register
class Helmholtz2D(Problem):
    """``lap u + kappa^2 u = q`` on ``[-1, 1]^2`` with ``u = sin(a1 pi x) sin(a2 pi y)``.

    ``q = (kappa^2 - (a1^2 + a2^2) pi^2) u``; Dirichlet data from ``u``. Low-frequency preset
    ``(a1, a2) = (1, 4)``, ``kappa = 1`` (Wang, Teng & Perdikaris, SIAM J. Sci. Comput. 2021);
    :class:`Helmholtz2DHigh` is PIG's high-frequency case ``(10, 10)`` (Kang et al., ICLR
    2025, where PINNs fail to converge). Reference: the exact solution.
    """

    key = "helmholtz2d"
    kind = "2d"
    title = "Helmholtz 2D (a1=1, a2=4)"
    latex = r"\Delta u + \kappa^2 u = q,\quad u = \sin(a_1\pi x)\sin(a_2\pi y)\ \text{on } [-1,1]^2"
    description = ("Helmholtz equation with a manufactured sinusoidal solution: a standard test "
                   "of gradient pathologies and spectral bias in PINNs.")
    source = ("Wang, Teng & Perdikaris, SIAM J. Sci. Comput. 43 (2021); Kang, Oh, Hong & Park, "
              "PIG: Physics-Informed Gaussians, ICLR 2025")
    axes = ("x", "y")
    outputs = ("u",)
    grid_shape = (201, 201)

    a1 = param.Number(1.0, bounds=(0.5, 20.0), doc="Frequency a1 of sin(a1 π x)")
    a2 = param.Number(4.0, bounds=(0.5, 20.0), doc="Frequency a2 of sin(a2 π y)")
    kappa = param.Number(1.0, bounds=(0.0, 50.0), doc="Wavenumber κ of the Helmholtz operator")

    def bounds(self):
        return {"x": (-1.0, 1.0), "y": (-1.0, 1.0)}

    def exact(self, x, y):
        lib = torch if isinstance(x, torch.Tensor) else np
        return lib.sin(self.a1 * math.pi * x) * lib.sin(self.a2 * math.pi * y)

    def source_term(self, x, y):
        return (self.kappa**2 - (self.a1**2 + self.a2**2) * math.pi**2) * self.exact(x, y)

    def residual(self, f):
        x, y = f.coord("x"), f.coord("y")
        return f.d("x", "x") + f.d("y", "y") + self.kappa**2 * f() - self.source_term(x, y)

    def boundary_value(self, X):
        return self.exact(X[:, 0], X[:, 1])[:, None]

    def _reference(self, grid):
        return self.exact(*_mesh(grid))


@register
class Helmholtz2DHigh(Helmholtz2D):
    """High-frequency preset of :class:`Helmholtz2D`: ``a1 = a2 = 10`` (PIG, Kang et al. 2025)."""

    key = "helmholtz2d_high"
    title = "Helmholtz 2D (a1=a2=10)"
    grid_shape = (401, 401)

    a1 = param.Number(10.0, bounds=(0.5, 20.0), doc="Frequency a1 of sin(a1 π x)")
    a2 = param.Number(10.0, bounds=(0.5, 20.0), doc="Frequency a2 of sin(a2 π y)")


@register
class Darcy2D(Problem):
    """``-div(a grad u) = f`` on ``[0, 1]^2``, ``u = 0`` on the boundary; two-phase ``a``.

    The FNO Darcy benchmark (Li et al., ICLR 2021): ``a = 12`` where a Gaussian random field
    ``N(0, (-lap + tau^2)^(-alpha))`` with Neumann (cosine) modes is ``>= 0`` and ``a = 3``
    elsewhere, ``f = 1``. The field is the finite cosine series of
    :func:`lab.solvers.grf.grf_cosine_coefficients` (``modes`` per axis, drawn from ``seed``),
    so ``a`` is a known function at every point (:meth:`coefficient`) and the residual uses it.

    Residual: since ``a`` is piecewise constant, ``div(a grad u) = a lap u`` away from the
    interfaces; flux continuity across them is left to the data (a known limitation of the
    strong-form PINN for this problem). Reference: the conservative 5-point scheme
    (:func:`lab.solvers.elliptic.darcy_solve`) on ``n`` x ``n`` nodes, interpolated bilinearly;
    with a discontinuous ``a`` it converges at first order in ``h = 1/(n-1)``.
    """

    key = "darcy2d"
    kind = "2d"
    title = "Darcy flow 2D (piecewise-constant a)"
    latex = r"-\nabla\cdot(a(x,y)\,\nabla u) = f \ \text{in } [0,1]^2,\quad u = 0 \text{ on } \partial\Omega,\quad a\in\{3, 12\}"
    description = ("Steady pressure in a two-phase porous medium. The permeability is a "
                   "thresholded random field; it is the FNO paper's operator-learning benchmark.")
    source = "Li et al., Fourier Neural Operator for Parametric PDEs, ICLR 2021"
    axes = ("x", "y")
    outputs = ("u",)
    grid_shape = (85, 85)

    seed = param.Integer(0, bounds=(0, 2**31 - 1), doc="Seed of the random coefficient field")
    alpha = param.Number(2.0, bounds=(0.5, 5.0), doc="GRF smoothness exponent α")
    tau = param.Number(3.0, bounds=(0.1, 50.0), doc="GRF inverse length scale τ")
    a_high = param.Number(12.0, bounds=(1e-3, 1e3), doc="Permeability where the field is >= 0")
    a_low = param.Number(3.0, bounds=(1e-3, 1e3), doc="Permeability where the field is < 0")
    forcing = param.Number(1.0, bounds=(-100.0, 100.0), doc="Constant source f")
    modes = param.Integer(64, bounds=(4, 256), doc="Cosine modes per axis of the random field")
    n = param.Integer(241, bounds=(17, 1025), doc="Reference finite-difference nodes per axis")

    def bounds(self):
        return {"x": (0.0, 1.0), "y": (0.0, 1.0)}

    def _coeffs(self):
        g = torch.Generator().manual_seed(self.seed)
        return grf_cosine_coefficients(self.modes, self.alpha, self.tau, 1, g)[0]

    def coefficient(self, X: torch.Tensor) -> torch.Tensor:
        """``a`` at the points ``X`` (``(N, 2)``), as ``(N,)`` on ``X``'s device and dtype."""
        field = cosine_series_points(self.on_device("coeffs", self._coeffs, X.device), X[:, 0].detach(),
                                     X[:, 1].detach())
        return darcy_coefficient(field, self.a_high, self.a_low).to(X.dtype)

    def coefficient_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``a`` on the tensor grid ``x`` x ``y`` (for display and the reference)."""
        field = cosine_series(self._coeffs()[None], torch.as_tensor(x), torch.as_tensor(y))[0]
        return darcy_coefficient(field, self.a_high, self.a_low).numpy()

    def residual(self, f):
        return -self.coefficient(f.X) * (f.d("x", "x") + f.d("y", "y")) - self.forcing

    def _reference(self, grid):
        nodes = np.linspace(0.0, 1.0, self.n)
        a = self.coefficient_grid(nodes, nodes)
        u = darcy_solve(a, self.forcing).numpy()
        interp = RegularGridInterpolator((nodes, nodes), u, method="linear")
        X, Y = _mesh(grid)
        return interp(np.stack([X.clip(0, 1), Y.clip(0, 1)], axis=-1))
