"""PirateNet: residual adaptive networks for PINNs (Wang, Wang & Perdikaris, JMLR 25, 2024).

After the embedding ``φ`` (width ``m``) and the gates ``U = σ(W_u φ)``, ``V = σ(W_v φ)``,
each of the ``L`` blocks computes::

    f = σ(W_1 x + b_1),  z_1 = f ⊙ U + (1 − f) ⊙ V
    g = σ(W_2 z_1 + b_2), z_2 = g ⊙ U + (1 − g) ⊙ V
    h = σ(W_3 z_2 + b_3), x ← α h + (1 − α) x

with a trainable ``α`` per block initialised to **zero**: at initialisation the network is a
linear model of the embedding, so it starts shallow (well-conditioned derivatives) and
learns how much depth to use — which is why deep PirateNets train where deep MLPs stall.
(The paper's physics-informed least-squares initialisation of the last layer is not used.)
"""
from __future__ import annotations

import param
import torch
from torch import nn

from lab.models import register_model
from lab.models.embeddings import EmbeddedConfig
from lab.nn import ACTIVATIONS, activation, linear


class PirateBlock(nn.Module):
    def __init__(self, dim: int, width: int, act: str, generator=None):
        super().__init__()
        g = generator
        self.l1, self.l2, self.l3 = linear(dim, width, g), linear(width, width, g), linear(width, dim, g)
        self.alpha = nn.Parameter(torch.zeros(1))
        self.act = activation(act)

    def forward(self, x, u, v):
        f = self.act(self.l1(x))
        z = f * u + (1 - f) * v
        g = self.act(self.l2(z))
        z = g * u + (1 - g) * v
        h = self.act(self.l3(z))
        return self.alpha * h + (1 - self.alpha) * x


class PirateNet(nn.Module):
    def __init__(self, in_dim: int, width: int, blocks: int, out_dim: int, act: str, generator=None):
        super().__init__()
        g = generator
        self.encode_u, self.encode_v = linear(in_dim, width, g), linear(in_dim, width, g)
        self.blocks = nn.ModuleList([PirateBlock(in_dim, width, act, g) for _ in range(blocks)])
        self.out = linear(in_dim, out_dim, g)
        self.act = activation(act)

    def forward(self, x):
        u, v = self.act(self.encode_u(x)), self.act(self.encode_v(x))
        for block in self.blocks:
            x = block(x, u, v)
        return self.out(x)


@register_model
class PirateConfig(EmbeddedConfig):
    """Wang, Wang & Perdikaris (2024): gated residual blocks with a zero-initialised skip α."""

    kind = "pirate"
    title = "PirateNet"

    width = param.Integer(128, bounds=(2, 4096), doc="Neurons in the gated layers of a block")
    blocks = param.Integer(3, bounds=(1, 32), doc="Number of residual blocks (3 dense layers each)")
    activation = param.Selector(default="tanh", objects=list(ACTIVATIONS), doc="Hidden activation")

    def core(self, problem, in_dim, generator=None):
        return PirateNet(in_dim, self.width, self.blocks, len(problem.outputs), self.activation, generator)
