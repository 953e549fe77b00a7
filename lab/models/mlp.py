"""The plain PINN: a fully connected tanh network on inputs scaled to [-1, 1]."""
from __future__ import annotations

import param
from torch import nn

from lab.models import ModelConfig, register_model
from lab.nn import ACTIVATIONS, Normalize, mlp


@register_model
class MLPConfig(ModelConfig):
    """Raissi, Perdikaris & Karniadakis (2019): u(x, t) ≈ MLP(x, t)."""

    kind = "mlp"
    title = "PINN (MLP)"

    width = param.Integer(32, bounds=(2, 4096), doc="Neurons per hidden layer")
    depth = param.Integer(3, bounds=(1, 64), doc="Number of hidden layers")
    activation = param.Selector(default="tanh", objects=list(ACTIVATIONS), doc="Hidden activation")

    def build(self, problem, generator=None) -> nn.Module:
        sizes = [len(problem.axes)] + [self.width] * self.depth + [len(problem.outputs)]
        return nn.Sequential(Normalize(problem.bounds()), mlp(sizes, self.activation, generator))
