"""Neural ODE (Chen, Rubanova, Bettencourt & Duvenaud, NeurIPS 2018): ``dy/dt = f_theta(y)``.

An MLP vector field on the problem's state (``len(problem.outputs)`` components) integrated
with the lab's RK4 or adaptive Dormand–Prince (:mod:`lab.solvers.ode`); gradients flow by
back-propagating through the solver's operations (discretise-then-optimise, exact for the
discrete solution). It is trained on windows of the problem's reference trajectory
(:func:`trajectory_loss`): short windows keep the gradients of a chaotic system bounded, as in
multiple shooting.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import param
import torch
from torch import nn

from lab.models import ModelConfig, register_model
from lab.nn import ACTIVATIONS, mlp
from lab.solvers.ode import dopri5, rk4


def tolerances(dtype: torch.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` of the adaptive integrator in ``dtype``: ``1e-6, 1e-8``, or 100 machine
    epsilons where that is coarser (float32: ``1.2e-5, 1.2e-7``) — an error estimate cannot be
    held below the rounding of the stages it is made of."""
    rtol = max(1e-6, 100 * torch.finfo(dtype).eps)
    return rtol, rtol / 100


class NeuralODE(nn.Module):
    """Autonomous MLP vector field; ``forward(y0, t)`` returns ``(len(t), *y0.shape)``.

    DOPRI5's ``rtol``/``atol`` default to :func:`tolerances` of the state's dtype."""

    def __init__(self, state_dim: int, width: int, depth: int, activation: str, method: str,
                 rtol: float | None = None, atol: float | None = None,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.field = mlp([state_dim] + [width] * depth + [state_dim], activation, generator)
        self.method, self.rtol, self.atol = method, rtol, atol

    def vector_field(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.field(y)

    def forward(self, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.method == "rk4":
            return rk4(self.vector_field, y0, t)
        rtol, atol = tolerances(y0.dtype)
        return dopri5(self.vector_field, y0, t, rtol=self.rtol or rtol, atol=self.atol or atol)


@register_model
class NeuralODEConfig(ModelConfig):
    """Neural ODE: ``dy/dt = MLP(y)``, integrated by RK4 on the data's time grid or by DOPRI5."""

    kind = "neural_ode"
    family = "ode"
    title = "Neural ODE"

    width = param.Integer(64, bounds=(2, 4096), doc="Neurons per hidden layer of the vector field")
    depth = param.Integer(2, bounds=(1, 16), doc="Hidden layers of the vector field")
    activation = param.Selector(default="tanh", objects=list(ACTIVATIONS), doc="Hidden activation")
    method = param.Selector(default="rk4", objects=["rk4", "dopri5"],
                            doc="Integrator: fixed-step RK4 on the time grid, or adaptive DOPRI5")

    def build(self, problem, generator=None) -> NeuralODE:
        return NeuralODE(len(problem.outputs), self.width, self.depth, self.activation, self.method,
                         generator=generator)


def windowed_loss(t: torch.Tensor, states: torch.Tensor, *, window: int, batch: int,
                  generator: torch.Generator) -> Callable[[NeuralODE], torch.Tensor]:
    """Loss closure: mean-square error of ``window``-step rollouts from ``batch`` random starts.

    ``t``: ``(nt,)`` uniformly spaced times, ``states``: ``(nt, d)``. Each call draws start
    indices ``i`` from ``generator`` and compares ``model(states[i], t[:window+1] - t[0])``
    with ``states[i : i + window + 1]`` (the field is autonomous, so only time differences
    matter).
    """
    if t.ndim != 1 or states.ndim != 2 or states.shape[0] != t.numel():
        raise ValueError(f"need t (nt,) and states (nt, d), got {tuple(t.shape)} and {tuple(states.shape)}")
    nt = t.numel()
    if not 1 <= window < nt:
        raise ValueError(f"window must be in [1, {nt - 1}], got {window}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    dt = t[1:] - t[:-1]
    # a difference of two times rounded to t's dtype is off by up to eps·max|t| each
    rounding = 4 * torch.finfo(t.dtype).eps * float(t.abs().max())
    if not torch.allclose(dt, dt[0].expand_as(dt), rtol=0, atol=rounding):
        raise ValueError("windowed_loss needs a uniformly spaced time grid")
    tau = t[:window + 1] - t[0]
    offsets = torch.arange(window + 1, device=states.device)

    def loss(model: NeuralODE) -> torch.Tensor:
        start = torch.randint(0, nt - window, (batch,), generator=generator).to(states.device)
        pred = model(states[start], tau)  # (window + 1, batch, d)
        target = states[start[None, :] + offsets[:, None]]
        return (pred - target).square().mean()

    return loss


def trajectory_loss(problem, *, window: int = 10, batch: int = 32, generator: torch.Generator,
                    grid_shape: tuple[int] | None = None, device=None,
                    dtype: torch.dtype = torch.float32) -> Callable[[NeuralODE], torch.Tensor]:
    """:func:`windowed_loss` on the reference trajectory of an ODE problem (axes ``("t",)``)."""
    if tuple(problem.axes) != ("t",):
        raise ValueError(f"a neural ODE trains on problems with axes ('t',), got {problem.axes}")
    grid = problem.grid(grid_shape)
    ref = np.asarray(problem.reference(grid)).reshape(len(grid["t"]), len(problem.outputs))
    t = torch.as_tensor(grid["t"], dtype=dtype, device=device)
    return windowed_loss(t, torch.as_tensor(ref, dtype=dtype, device=device), window=window,
                         batch=batch, generator=generator)
