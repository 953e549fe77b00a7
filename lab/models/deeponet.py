"""Deep operator network (Lu, Jin, Pang, Zhang & Karniadakis, Nat. Mach. Intell. 3, 2021).

``G(a)(y) ≈ sum_{k=1}^p b_k(a(x_1), ..., a(x_m)) t_k(y) + b_0``: a *branch* MLP reads the input
function at ``m`` fixed sensors (here: the problem's training grid) and a *trunk* MLP reads the
query coordinate ``y``; one ``p``-vector pair per output channel. The universal approximation
theorem for operators (Chen & Chen 1995) guarantees the form; the sensor grid is fixed, so
the input must come on that grid, while the output can be queried on any grid
(``out_shape``) — which is how :func:`lab.training.tasks.operator.super_resolution` uses it.
"""
from __future__ import annotations

import math

import param
import torch
from torch import nn

from lab.models import register_model
from lab.models.fno import OperatorModelConfig, coordinates
from lab.nn import ACTIVATIONS, mlp
from lab.nn import activation as make_activation


class DeepONet(nn.Module):
    """``(batch, in_channels, *sensor_shape) -> (batch, out_channels, *out_shape)``."""

    def __init__(self, in_channels: int, out_channels: int, sensor_shape: tuple[int, ...], *,
                 branch_width: int = 128, branch_depth: int = 3, trunk_width: int = 128,
                 trunk_depth: int = 3, basis: int = 64, activation: str = "gelu",
                 periodic: tuple[bool, ...] | None = None, generator: torch.Generator | None = None):
        super().__init__()
        sensor_shape = tuple(int(n) for n in sensor_shape)
        d = len(sensor_shape)
        self.periodic = tuple(periodic) if periodic is not None else (True,) * d
        self.config = dict(in_channels=in_channels, out_channels=out_channels, sensor_shape=sensor_shape,
                           branch_width=branch_width, branch_depth=branch_depth, trunk_width=trunk_width,
                           trunk_depth=trunk_depth, basis=basis, activation=activation,
                           periodic=self.periodic)
        self.sensor_shape, self.out_channels, self.basis = sensor_shape, out_channels, basis
        m = in_channels * math.prod(sensor_shape)
        self.branch = mlp([m] + [branch_width] * branch_depth + [basis * out_channels], activation, generator)
        # a periodic axis enters the trunk as (cos, sin): the output is then exactly periodic
        n_trunk = sum(2 if p else 1 for p in self.periodic)
        self.trunk = nn.Sequential(mlp([n_trunk] + [trunk_width] * trunk_depth + [basis * out_channels],
                                       activation, generator), make_activation(activation))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def trunk_features(self, shape, *, device, dtype) -> torch.Tensor:
        grid = coordinates(shape, self.periodic, device=device, dtype=dtype)[:, 0]
        cols = []
        for g, p in zip(grid, self.periodic):
            g = g.reshape(-1)
            cols += [torch.cos(2 * math.pi * g), torch.sin(2 * math.pi * g)] if p else [2 * g - 1]
        return torch.stack(cols, dim=1)

    def forward(self, x: torch.Tensor, out_shape: tuple[int, ...] | None = None) -> torch.Tensor:
        if tuple(x.shape[2:]) != self.sensor_shape:
            raise ValueError(f"DeepONet reads its input at {self.sensor_shape} sensors; got spatial "
                             f"shape {tuple(x.shape[2:])} (resample the input to the sensor grid)")
        out_shape = tuple(out_shape or self.sensor_shape)
        b = self.branch(x.reshape(x.shape[0], -1)).reshape(x.shape[0], self.out_channels, self.basis)
        t = self.trunk(self.trunk_features(out_shape, device=x.device, dtype=x.dtype))
        t = t.reshape(-1, self.out_channels, self.basis)
        out = torch.einsum("bcp,ncp->bcn", b, t) + self.bias[:, None]
        return out.reshape(x.shape[0], self.out_channels, *out_shape)


@register_model
class DeepONetConfig(OperatorModelConfig):
    """Unstacked DeepONet with ``p`` basis functions per output channel."""

    kind = "deeponet"
    title = "DeepONet"

    branch_width = param.Integer(128, bounds=(1, 8192), doc="Neurons per branch hidden layer")
    branch_depth = param.Integer(3, bounds=(1, 32), doc="Branch hidden layers")
    trunk_width = param.Integer(128, bounds=(1, 8192), doc="Neurons per trunk hidden layer")
    trunk_depth = param.Integer(3, bounds=(1, 32), doc="Trunk hidden layers")
    basis = param.Integer(64, bounds=(1, 4096), doc="Basis functions p per output channel")
    activation = param.Selector(default="gelu", objects=list(ACTIVATIONS), doc="Hidden activation")

    def build(self, problem, generator=None) -> DeepONet:
        self.check_problem(problem, self.kind)
        return DeepONet(problem.in_channels, problem.out_channels, tuple(problem.shape),
                        branch_width=self.branch_width, branch_depth=self.branch_depth,
                        trunk_width=self.trunk_width, trunk_depth=self.trunk_depth, basis=self.basis,
                        activation=self.activation,
                        periodic=tuple(a in problem.periodic for a in problem.axes), generator=generator)
