"""Shared machinery of the periodic 1D+t problems whose reference comes from ETDRK4.

A subclass states its equation (:meth:`equation`), its initial condition (:meth:`u0`) and
the solver resolution (:meth:`solver_resolution`, chosen by a convergence study recorded in
its docstring). The reference is then computed once on the fine periodic solver grid, hitting
every requested time exactly (:func:`lab.solvers.time_stepping.solve` by ETDRK4), and evaluated at the
requested ``x`` by exact trigonometric interpolation
(:func:`lab.solvers.spectral.fourier_interpolate`) — so it is spectrally accurate on any grid.
"""
from __future__ import annotations

import numpy as np
import torch

from lab.problems.base import Problem
from lab.solvers.etdrk4 import PeriodicEquation
from lab.solvers.spectral import fourier_interpolate
from lab.solvers.time_stepping import solve


class PeriodicSpectralProblem(Problem):
    """Base of periodic-in-``x`` problems with an ETDRK4 pseudo-spectral reference."""

    kind = "1d+t"
    axes = ("x", "t")
    outputs = ("u",)
    periodic = ("x",)
    grid_shape = (256, 101)

    def equation(self, n: int, device=None, dtype=torch.float64) -> PeriodicEquation:
        raise NotImplementedError

    def u0(self, x: torch.Tensor) -> torch.Tensor:
        """Initial profile ``u(x, t0)`` (elementwise)."""
        raise NotImplementedError

    def solver_resolution(self) -> tuple[int, float]:
        """``(points, max_dt)`` of the reference solver."""
        raise NotImplementedError

    def initial_condition(self, X):
        return self.u0(X[:, 0])[:, None]

    def solve(self, times, device=None, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        """Solver-grid solution ``(x_nodes, u[len(times), n])`` at absolute ``times``."""
        n, dt = self.solver_resolution()
        eq = self.equation(n, device=device, dtype=dtype)
        t0 = self.bounds()["t"][0]
        times = torch.as_tensor(np.asarray(times, dtype=np.float64), device=eq.device) - t0
        x = eq.grid()
        return x, solve(eq, self.u0(x), times, dt=dt)

    def _reference(self, grid):
        t = np.asarray(grid["t"], dtype=np.float64)
        t0 = self.bounds()["t"][0]
        if t.size and t.min() < t0:
            raise ValueError(f"reference times must be >= t0 = {t0}, got min {t.min()}")
        order = np.argsort(t, kind="stable")
        _, u = self.solve(t[order])
        lo, hi = self.bounds()["x"]
        ux = fourier_interpolate(u, torch.as_tensor(grid["x"], dtype=torch.float64),
                                 hi - lo, lo)
        out = np.empty((len(grid["x"]), len(t)))
        out[:, order] = ux.T.cpu().numpy()
        return out
