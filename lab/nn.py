"""Network building blocks shared by the models and the Taylor-mode engine.

:mod:`lab.autodiff` propagates jets through ``Normalize`` / ``Linear`` / ``Sine`` layers, and
every model family builds its networks from them; living here, below both, neither has to
import the other.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import skip_init

ACTIVATIONS = {"tanh": nn.Tanh, "sin": None, "gelu": nn.GELU, "silu": nn.SiLU}


class Sine(nn.Module):
    def forward(self, x):
        return torch.sin(x)


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return Sine() if name == "sin" else ACTIVATIONS[name]()


class Normalize(nn.Module):
    """Affine map of the problem's box onto [-1, 1]^d.

    The buffers are built in float64 so a float64 model keeps the bounds exact (π stays π to
    1e-16, which exactly periodic embeddings rely on); ``.to(dtype)`` rounds them for float32
    models, and inputs of another dtype are matched on the fly.
    """

    def __init__(self, bounds: dict[str, tuple[float, float]]):
        super().__init__()
        lo = torch.tensor([b[0] for b in bounds.values()], dtype=torch.float64)
        hi = torch.tensor([b[1] for b in bounds.values()], dtype=torch.float64)
        self.register_buffer("center", (hi + lo) / 2)
        self.register_buffer("radius", (hi - lo) / 2)

    def forward(self, x):
        return (x - self.center.to(x.dtype)) / self.radius.to(x.dtype)


def linear(a: int, b: int, generator: torch.Generator | None = None) -> nn.Linear:
    """``nn.Linear(a, b)`` with Xavier-normal weights (Glorot & Bengio 2010), the usual PINN
    init, drawn from ``generator``, and zero biases."""
    lin = skip_init(nn.Linear, a, b)  # torch's own init would draw from the global generator
    nn.init.xavier_normal_(lin.weight, generator=generator)
    nn.init.zeros_(lin.bias)
    return lin


def mlp(sizes: list[int], act: str, generator: torch.Generator | None = None) -> nn.Sequential:
    """:func:`linear` layers with ``act`` between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(linear(a, b, generator))
        if i < len(sizes) - 2:
            layers.append(activation(act))
    return nn.Sequential(*layers)
