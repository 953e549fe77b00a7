"""The Lagrangian PINN network: the state and the characteristic on a moving grid.

Mojgani, Balajewicz & Hassanzadeh, "Lagrangian PINNs: a causality-conforming solution to
failure modes of physics-informed neural networks", CMAME 404 (2023), arXiv 2205.02902.
For ``u_t + a(u) u_x = ν u_xx`` the network takes a label ``ξ`` (where a characteristic starts)
and a time ``t`` and gives two branches in parallel:

    x(ξ, t)   the position of the characteristic, ∂x/∂t = a(u),
    u(ξ, t)   the state carried along it,         ∂u/∂t = ν u_xx.

In that frame pure transport is a function constant in time, which a network learns at any
speed, where an Eulerian PINN fails once ``β`` grows (Krishnapriyan et al. 2021). The task
(:mod:`lab.training.tasks.lagrangian`) states the residuals and maps the prediction back to
the fixed grid.

Where this differs from the authors' code: the branches are two separate MLPs (theirs share
layers); the path starts where it should, ``x(ξ, t0) = ξ`` exactly, as
``x = ξ + (t − t0)(c + g(ξ, t))`` with ``c`` the mean characteristic speed at ``t0`` (a
buffer, from the initial condition) and ``g`` a network whose last layer starts at zero, so
the characteristics start straight at speed ``c`` and learn their bending (theirs learn ``x``
whole with a soft initial condition). For convection ``c = β``: the path is exact from the
first step and stays so (its residual and gradient vanish), the known-path form of the method,
and only ``u(ξ, t) = u0(ξ)`` is learned; for Burgers ``c = 0`` by symmetry and the path is
learned. On a periodic axis both branches see ``ξ`` through exact harmonics, so ``u`` and
``x − ξ`` are periodic in ``ξ`` (the authors' polar input).
"""
from __future__ import annotations

import torch
from torch import nn

from lab.config import ConfigError
from lab.models import register_model
from lab.models.embeddings import PeriodicEmbedding
from lab.models.mlp import MLPConfig
from lab.nn import mlp


def check_lagrangian(problem) -> None:
    """The Lagrangian form needs ``u_t + a(u) u_x = ν u_xx`` in one space dimension and time:
    a problem that states its characteristic speed ``a(u)`` and diffusivity ``ν``."""
    if tuple(problem.axes) != ("x", "t") or len(problem.outputs) != 1 or \
            not callable(getattr(problem, "characteristic_speed", None)) or not hasattr(problem, "diffusivity"):
        raise ConfigError("model", f"the Lagrangian PINN solves u_t + a(u) u_x = ν u_xx on a line; "
                                   f"{problem.title or problem.key} does not state its characteristics. "
                                   "Pick Convection 1D or Burgers 1D, or another model.")


class LagrangianNet(nn.Module):
    """``(ξ, t) ↦ (u, x)``: the state and the position of the characteristic from ``ξ``."""

    def __init__(self, problem, width: int, depth: int, act: str, generator: torch.Generator | None = None):
        super().__init__()
        bounds = problem.bounds()
        self.t0 = float(bounds["t"][0])
        self.u_embed = PeriodicEmbedding(bounds, tuple(problem.periodic))
        self.path_embed = PeriodicEmbedding(bounds, tuple(problem.periodic))
        sizes = [self.u_embed.out_dim] + [width] * depth + [1]
        self.u_net = mlp(sizes, act, generator)
        self.path_net = mlp(sizes, act, generator)
        nn.init.zeros_(self.path_net[-1].weight)  # straight characteristics at first
        lo, hi = bounds["x"]
        xi = torch.linspace(lo, hi, 257, dtype=torch.float64)[:, None]
        u0 = problem.initial_condition(torch.cat([xi, torch.full_like(xi, self.t0)], 1))
        self.register_buffer("speed", problem.characteristic_speed(u0[:, 0]).mean())

    def forward(self, X):
        t = X[:, 1:2] - self.t0
        path = X[:, :1] + t * (self.speed.to(X.dtype) + self.path_net(self.path_embed(X)))
        return torch.cat([self.u_net(self.u_embed(X)), path], dim=1)


@register_model
class LagrangianConfig(MLPConfig):
    """Mojgani et al. (2023): u and the characteristic x on a moving grid, two MLP branches of
    the plain PINN's width, depth and activation."""

    kind = "lagrangian"
    family = "lagrangian"
    title = "Lagrangian PINN (MLP)"

    def build(self, problem, generator=None) -> nn.Module:
        check_lagrangian(problem)
        return LagrangianNet(problem, self.width, self.depth, self.activation, generator)
