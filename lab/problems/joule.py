"""Coupled physics through sources: steady Joule heating with a temperature-dependent conductivity.

A manufactured solution fixes the reference exactly: the sources ``f_phi``, ``f_T`` are what
the exact ``(phi, T)`` leaves in the equations (in closed form), so the
problem keeps the full two-way coupling, and the finite-difference solver
:func:`lab.solvers.joule.joule_solve` converges to it at second order (tests).
"""
from __future__ import annotations

import math

import numpy as np
import param
import torch

from lab.problems import register
from lab.problems.base import Problem
from lab.solvers.joule import conductivity, joule_solve


@register
class JouleHeating2D(Problem):
    """Electro-thermal coupling on ``[0, 1]^2``: potential ``phi`` and temperature ``T``.

        -div(sigma(T) grad phi) = f_phi,   -lap T = sigma(T) |grad phi|^2 + f_T,
        sigma(T) = sigma0 / (1 + beta T),

    manufactured solution ``phi = x + a sin(pi x) sin(2 pi y)``, ``T = sin(pi x) sin(pi y)``
    (a voltage of 1 across the square, bent by ``a``; a hot centre), Dirichlet data from it.
    """

    key = "joule_heating2d"
    kind = "2d"
    title = "Joule heating 2D (electro-thermal)"
    latex = (r"-\nabla\cdot(\sigma(T)\nabla\phi) = f_\phi,\ -\Delta T = \sigma(T)|\nabla\phi|^2 + f_T,\ "
             r"\sigma(T) = \frac{\sigma_0}{1 + \beta T},\ \phi = x + a\sin\pi x\sin 2\pi y,\ "
             r"T = \sin\pi x\sin\pi y")
    description = ("A current heats the conductor it flows through, and the heat lowers the "
                   "conductivity: two fields coupled through sources rather than transport, "
                   "as in the electro-thermal cases of multiphysics benchmarks.")
    source = ("Manufactured solution; coupling as in Multiphysics Bench (electro-thermal), "
              "e.g. Holst, Numer. Methods PDEs (2010) for the thermistor problem")
    axes = ("x", "y")
    outputs = ("phi", "T")
    coupled = ("phi", "T")
    grid_shape = (65, 65)

    sigma0 = param.Number(1.0, bounds=(0.01, 100.0), doc="Electrical conductivity σ0 at T = 0")
    beta = param.Number(0.5, bounds=(0.0, 0.9), doc="Temperature coefficient β of 1/σ")
    a = param.Number(0.25, bounds=(0.0, 1.0), doc="Amplitude a of the potential's bend")

    def bounds(self):
        return {"x": (0.0, 1.0), "y": (0.0, 1.0)}

    def exact(self, x, y):
        lib = torch if isinstance(x, torch.Tensor) else np
        phi = x + self.a * lib.sin(math.pi * x) * lib.sin(2 * math.pi * y)
        return phi, lib.sin(math.pi * x) * lib.sin(math.pi * y)

    def sources(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f_phi, f_T)`` at the points ``X`` ``(N, 2)``: what the exact solution leaves in the
        equations, in closed form (``lap phi = -5 pi^2 a sin(pi x) sin(2 pi y)``,
        ``lap T = -2 pi^2 T``); the tests check it against autograd through the residual."""
        x, y = X[:, 0], X[:, 1]
        pi = math.pi
        _, T = self.exact(x, y)
        px = 1 + self.a * pi * torch.cos(pi * x) * torch.sin(2 * pi * y)
        py = 2 * self.a * pi * torch.sin(pi * x) * torch.cos(2 * pi * y)
        lap_phi = -5 * pi**2 * self.a * torch.sin(pi * x) * torch.sin(2 * pi * y)
        Tx, Ty = pi * torch.cos(pi * x) * torch.sin(pi * y), pi * torch.sin(pi * x) * torch.cos(pi * y)
        sigma = conductivity(T, self.sigma0, self.beta)
        ds = -self.sigma0 * self.beta / (1 + self.beta * T) ** 2  # d sigma / dT
        f_phi = -(sigma * lap_phi + ds * (Tx * px + Ty * py))
        return f_phi, 2 * pi**2 * T - sigma * (px**2 + py**2)

    def residual(self, f):
        x, y = f.coord("x"), f.coord("y")
        T = f(1)
        sigma = conductivity(T, self.sigma0, self.beta)
        ds = -self.sigma0 * self.beta / (1 + self.beta * T) ** 2  # d sigma / dT
        px, py, Tx, Ty = f.d("x", out=0), f.d("y", out=0), f.d("x", out=1), f.d("y", out=1)
        div = sigma * (f.d("x", "x", out=0) + f.d("y", "y", out=0)) + ds * (Tx * px + Ty * py)
        f_phi, f_T = self.sources(torch.stack([x, y], dim=1).detach())
        r_phi = -div - f_phi
        r_T = -(f.d("x", "x", out=1) + f.d("y", "y", out=1)) - sigma * (px**2 + py**2) - f_T
        return torch.stack([r_phi, r_T], dim=1)

    def boundary_value(self, X):
        return torch.stack(self.exact(X[:, 0], X[:, 1]), dim=1)

    def solve(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The finite-difference solution on ``n x n`` nodes (what the tests converge)."""
        x = torch.linspace(0, 1, n, dtype=torch.float64)
        X, Y = torch.meshgrid(x, x, indexing="ij")
        phi_b, T_b = self.exact(X, Y)
        f_phi, f_T = self.sources(torch.stack([X.reshape(-1), Y.reshape(-1)], 1))
        return joule_solve(n, sigma0=self.sigma0, beta=self.beta, phi_b=phi_b, T_b=T_b,
                           f_phi=f_phi.reshape(n, n), f_T=f_T.reshape(n, n))

    def _reference(self, grid):
        X, Y = np.meshgrid(grid["x"], grid["y"], indexing="ij")
        return np.stack(self.exact(X, Y), axis=-1)
