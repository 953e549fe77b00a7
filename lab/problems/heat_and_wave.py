"""The two classical linear PDEs on ``[0, 1]`` with fixed ends, references in closed form."""
from __future__ import annotations

import math

import param
import torch

from lab.autodiff import Fields
from lab.problems import register
from lab.problems.base import Problem
from lab.solvers.exact import heat_sine_series, wave_standing


@register
class Heat(Problem):
    """``u_t = κ u_xx`` on ``[0, 1]``, ``u(0, t) = u(1, t) = 0``, ``u(x, 0) = sin(nπx)``.

    Exact: ``u = exp(−κ n²π² t) sin(nπx)`` (DeepXDE's heat example: κ = 0.4, n = 1).
    """

    key = "heat"
    kind = "1d+t"
    title = "Heat 1D"
    latex = (r"u_t = \kappa\,u_{xx},\quad u(x,0) = \sin(n\pi x),"
             r"\quad u(0,t) = u(1,t) = 0")
    description = ("Diffusion of a sine mode between two cold walls; it decays at rate κn²π² "
                   "(separation of variables). The first PDE of any course.")
    source = "Lu, Meng, Mao & Karniadakis, DeepXDE, SIAM Review 63 (2021), heat example"
    axes = ("x", "t")
    grid_shape = (256, 101)

    kappa = param.Number(0.4, bounds=(0.0, 10.0), doc="Diffusivity κ")
    mode = param.Integer(1, bounds=(1, 10), doc="Sine mode number n of the initial condition")

    def bounds(self):
        return {"x": (0.0, 1.0), "t": (0.0, 1.0)}

    def residual(self, f):
        return f.d("t") - self.kappa * f.d("x", "x")

    def initial_condition(self, X):
        return torch.sin(self.mode * math.pi * X[:, :1])

    def _reference(self, grid):
        coefficients = [0.0] * (self.mode - 1) + [1.0]
        return heat_sine_series(grid["x"][:, None], grid["t"][None, :], self.kappa, coefficients)


@register
class Wave(Problem):
    """``u_tt = c² u_xx`` on ``[0, 1]``, fixed ends, ``u(x,0) = sin(πx) + ½ sin(4πx)``, ``u_t(x,0) = 0``.

    Exact standing waves ``u = sin(πx) cos(cπt) + ½ sin(4πx) cos(4cπt)`` (d'Alembert). With
    c = 2 this is the wave benchmark of Wang, Yu & Perdikaris (2022), hard for PINNs because
    the two modes train at very different rates (NTK spectrum).
    """

    key = "wave"
    kind = "1d+t"
    title = "Wave 1D"
    latex = (r"u_{tt} = c^2\,u_{xx},\quad u(x,0) = \sin(\pi x) + \tfrac12\sin(4\pi x),"
             r"\quad u_t(x,0) = 0,\quad u(0,t) = u(1,t) = 0")
    description = ("A plucked string: two standing modes oscillating at frequencies cπ and "
                   "4cπ. Second order in time, so the initial velocity is a loss term too.")
    source = ("Wang, Yu & Perdikaris, When and why PINNs fail to train: a neural tangent kernel "
              "perspective, J. Comput. Phys. 449 (2022)")
    axes = ("x", "t")
    grid_shape = (256, 101)

    c = param.Number(2.0, bounds=(0.1, 10.0), doc="Wave speed c")

    AMPLITUDES = (1.0, 0.0, 0.0, 0.5)

    def bounds(self):
        return {"x": (0.0, 1.0), "t": (0.0, 1.0)}

    def residual(self, f):
        return f.d("t", "t") - self.c**2 * f.d("x", "x")

    def initial_condition(self, X):
        x = X[:, :1]
        return torch.sin(math.pi * x) + 0.5 * torch.sin(4 * math.pi * x)

    def initial_velocity(self, X):
        """``u_t(x, 0)``; zero (the string starts at rest)."""
        return torch.zeros(X.shape[0], dtype=X.dtype, device=X.device)

    def loss_names(self):
        return super().loss_names() + ("ic_velocity",)

    def losses(self, model, batch, engine="auto"):
        """The base terms plus ``ic_velocity``: mean square of ``u_t − u_t(x,0)`` at t = 0."""
        out = super().losses(model, batch, engine)
        if "ic" in batch:
            f = Fields(model, batch["ic"], self.axes)
            out["ic_velocity"] = (f.d("t") - self.initial_velocity(batch["ic"])).pow(2).mean()
        return out

    def _reference(self, grid):
        return wave_standing(grid["x"][:, None], grid["t"][None, :], self.c, self.AMPLITUDES)
