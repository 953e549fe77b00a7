"""Multigrid neural operator, MgNO (He, Liu & Xu, "MgNO: Efficient parameterization of linear
operators via multigrid", ICLR 2024), for 1, 2 and 3 spatial dimensions.

``v_0 = P(a, x)``, ``v_{l+1} = σ(M_l v_l + W_l v_l + b_l)``, ``u = Q(v_L)``: the same skeleton as
the FNO (:mod:`lab.models.fno`) with the Fourier layer replaced by ``M_l``, one V-cycle of a
multigrid solver whose operators are learnt. On each level ``ℓ`` of ``levels`` (the grid
halved each time by a stride-2 convolution):

* pre-smoothing, ``smoothing`` times from ``u = 0``: ``u ← u + S_ℓ * (f − A_ℓ * u)`` (3-point
  stencils ``A``, ``S``);
* the residual ``f − A_ℓ * u`` restricted to the next level, ``f_{ℓ+1} = R_ℓ * (f − A_ℓ * u)``;
* on the way back the coarse correction prolongated, ``u ← u + P_ℓ * u_{ℓ+1}`` (a transposed
  stride-2 convolution), then one post-smoothing step (the coarsest level: pre and post).

Every operator is a small convolution, so ``M_l`` costs ``O(n)`` per layer, reaches the whole
domain through the coarse levels, and needs no periodicity: boundaries are zero-padded unless
every axis is periodic (then circular). Unlike the FNO's fixed set of frequencies, the
convolutions act on grid cells, so a trained MgNO is tied to its grid spacing.

Model seam as the FNO's: :class:`MgNOConfig` (``family = "operator"``) reads
``problem.in_channels``, ``out_channels``, ``axes``, ``periodic`` and ``shape``.
"""
from __future__ import annotations

import math

import param
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import skip_init

from lab.models import register_model
from lab.models.fno import OperatorModelConfig, Pointwise, coordinates

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


def _stencil(cls, channels: int, generator: torch.Generator | None, **kw) -> nn.Module:
    """A bias-free 3-point-per-axis convolution initialised as torch does (uniform in
    ``±1/sqrt(fan_in)``), drawn from ``generator`` rather than the global one."""
    conv = skip_init(cls, channels, channels, 3, bias=False, **kw)
    fan_in = conv.weight.shape[1] * math.prod(conv.weight.shape[2:])
    with torch.no_grad():
        conv.weight.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)
    return conv


class VCycle(nn.Module):
    """One learnt V-cycle ``f -> u ≈ A⁻¹ f`` on ``(batch, channels, *s)``, any grid size."""

    def __init__(self, channels: int, ndim: int, levels: int, smoothing: int, periodic: tuple[bool, ...],
                 generator: torch.Generator | None = None):
        super().__init__()
        mode = "circular" if all(periodic) else "zeros"
        conv = lambda stride=1: _stencil(_CONV[ndim], channels, generator, stride=stride,  # noqa: E731
                                         padding=1, padding_mode=mode)
        self.levels, self.smoothing = levels, smoothing
        self.A = nn.ModuleList(conv() for _ in range(levels))
        self.S = nn.ModuleList(conv() for _ in range(levels))
        self.R = nn.ModuleList(conv(stride=2) for _ in range(levels - 1))
        self.P = nn.ModuleList(_stencil(_CONV_T[ndim], channels, generator, stride=2, padding=1)
                               for _ in range(levels - 1))

    def forward(self, f: torch.Tensor, level: int = 0) -> torch.Tensor:
        A, S = self.A[level], self.S[level]
        u = S(f)  # first smoothing from u = 0
        for _ in range(self.smoothing - 1):
            u = u + S(f - A(u))
        if level + 1 < self.levels and min(f.shape[2:]) > 2:
            coarse = self.forward(self.R[level](f - A(u)), level + 1)
            u = u + self.P[level](coarse, output_size=f.shape[2:])
        return u + S(f - A(u))  # post-smoothing


class MgNO(nn.Module):
    """``(batch, in_channels, *spatial) -> (batch, out_channels, *spatial)``."""

    def __init__(self, in_channels: int, out_channels: int, ndim: int, *, width: int = 32, n_layers: int = 4,
                 levels: int = 4, smoothing: int = 1, projection_channels: int = 128,
                 positional_encoding: bool = True, periodic: tuple[bool, ...] | None = None,
                 generator: torch.Generator | None = None):
        super().__init__()
        if ndim not in _CONV:
            raise ValueError(f"MgNO works on 1 to 3 spatial axes, got {ndim}")
        periodic = tuple(bool(p) for p in (periodic if periodic is not None else (False,) * ndim))
        self.config = dict(in_channels=in_channels, out_channels=out_channels, ndim=ndim, width=width,
                           n_layers=n_layers, levels=levels, smoothing=smoothing,
                           projection_channels=projection_channels,
                           positional_encoding=positional_encoding, periodic=periodic)
        self.ndim, self.periodic, self.positional_encoding = ndim, periodic, positional_encoding
        g = generator
        self.lift = Pointwise(in_channels + (ndim if positional_encoding else 0), width, g)
        self.cycles = nn.ModuleList(VCycle(width, ndim, levels, smoothing, periodic, g) for _ in range(n_layers))
        self.skip = nn.ModuleList(Pointwise(width, width, g) for _ in range(n_layers))
        self.project = nn.Sequential(Pointwise(width, projection_channels, g), nn.GELU(),
                                     Pointwise(projection_channels, out_channels, g))

    @classmethod
    def from_config(cls, config: dict) -> "MgNO":
        c = dict(config)
        return cls(c.pop("in_channels"), c.pop("out_channels"), c.pop("ndim"), **c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape[-self.ndim:])
        v = x.transpose(0, 1)                                   # channel-major for the pointwise maps
        if self.positional_encoding:
            grid = coordinates(shape, self.periodic, device=x.device, dtype=x.dtype)
            v = torch.cat([v, grid.expand(-1, x.shape[0], *shape)], dim=0)
        v = self.lift(v)
        last = len(self.cycles) - 1
        for i, (cycle, w) in enumerate(zip(self.cycles, self.skip)):
            v = cycle(v.transpose(0, 1)).transpose(0, 1) + w(v)  # M v + W v + b
            if i < last:
                v = F.gelu(v)
        return self.project(v).transpose(0, 1).contiguous()


@register_model
class MgNOConfig(OperatorModelConfig):
    """Multigrid neural operator (He et al. 2024): learnt V-cycles instead of Fourier layers."""

    kind = "mgno"
    title = "Multigrid neural operator (MgNO)"

    width = param.Integer(32, bounds=(1, 1024), doc="Channels of the multigrid layers")
    n_layers = param.Integer(4, bounds=(1, 64), doc="Number of multigrid layers (one V-cycle each)")
    levels = param.Integer(4, bounds=(1, 12), doc="Grid levels of each V-cycle (the grid halves per level)")
    smoothing = param.Integer(1, bounds=(1, 8), doc="Smoothing iterations per level on the way down")
    projection_channels = param.Integer(128, bounds=(1, 4096), doc="Hidden channels of the projection")
    positional_encoding = param.Boolean(True, doc="Append normalised coordinates to the input")

    def build(self, problem, generator=None) -> MgNO:
        self.check_problem(problem, self.kind)
        return MgNO(problem.in_channels, problem.out_channels, len(problem.axes), width=self.width,
                    n_layers=self.n_layers, levels=self.levels, smoothing=self.smoothing,
                    projection_channels=self.projection_channels,
                    positional_encoding=self.positional_encoding,
                    periodic=tuple(a in problem.periodic for a in problem.axes), generator=generator)
