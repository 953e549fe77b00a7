"""Fourier neural operator (Li et al., ICLR 2021) for 1, 2 and 3 spatial dimensions.

``v_0 = P(a, x)``, ``v_{l+1} = sigma(K_l v_l + W_l v_l)``, ``u = Q(v_L)`` where ``P`` lifts the
input channels (and, optionally, the normalised coordinates ``x``) to ``width`` channels,
``K_l`` is a :class:`~lab.models.layers.spectral_conv.SpectralConv`, ``W_l`` a pointwise linear
map and ``Q`` a two-layer pointwise projection; ``sigma`` = GELU, none after the last block.
Because ``K_l`` acts on a fixed set of physical frequencies and everything else is
pointwise, the same weights apply on any grid (zero-shot super-resolution).

Non-periodic axes are zero-padded by ``domain_padding * n`` points after lifting and cropped
before projection (the FFT otherwise wraps the two ends of the domain into each other).
``mixed_precision`` runs the pointwise layers under bfloat16 autocast; the spectral layers
keep float32 FFTs (see the layer's docstring), which is where reduced precision is unsafe.
``normalizer_shape`` adds the paper's pointwise output normaliser
(:mod:`lab.models.layers.normalizer`) on that training grid; the operator task fits it to the
training outputs.

Model seam: :class:`FNOConfig` (``family = "operator"``) builds from an operator problem
(:mod:`lab.problems.operators`), reading ``problem.in_channels``, ``problem.out_channels``,
``problem.axes``, ``problem.periodic`` and ``problem.shape``. The module keeps its
constructor arguments in ``.config``; :meth:`FNO.from_config` rebuilds it.
"""
from __future__ import annotations

import math

import param
import torch
import torch.nn.functional as F
from torch import nn

from lab.models import ModelConfig, register_model
from lab.models.layers.normalizer import OutputNormalizer
from lab.models.layers.spectral_conv import FACTORIZATIONS, SpectralConv, check_modes


class Pointwise(nn.Module):
    """A per-point linear map on channel-major ``(c_in, batch, *s) -> (c_out, batch, *s)``.

    In this layout the map is one GEMM ``W @ x`` over all ``batch * N`` points, and so are both
    of its gradients (``W^T g`` and ``g x^T``, the latter one reduction over every point); in
    ``(batch, c, *s)`` the weight gradient needs both tensors transposed first, two copies of
    the activation per layer. Initialised as :class:`torch.nn.Linear` (uniform in
    ``±1/sqrt(c_in)``, Kaiming's bound for ``a = sqrt(5)``), drawn from ``generator``.
    """

    def __init__(self, c_in: int, c_out: int, generator: torch.Generator | None = None):
        super().__init__()
        bound = 1 / math.sqrt(c_in)
        self.weight = nn.Parameter(torch.empty(c_out, c_in).uniform_(-bound, bound, generator=generator))
        self.bias = nn.Parameter(torch.empty(c_out).uniform_(-bound, bound, generator=generator))

    def forward(self, x: torch.Tensor, *, bias: bool = True) -> torch.Tensor:
        """``W x + b``; ``bias=False`` leaves ``b`` to the caller (the FNO's Fourier layers add it
        as a zero-frequency coefficient, saving a pass over the grid)."""
        flat = x.reshape(x.shape[0], -1)
        y = torch.addmm(self.bias[:, None], self.weight, flat) if bias else self.weight @ flat
        return y.reshape(-1, *x.shape[1:])


def coordinates(shape, periodic, *, device, dtype) -> torch.Tensor:
    """Normalised coordinates in ``[0, 1]`` as channels ``(d, 1, *shape)`` (channel-major).

    A periodic axis omits its end point (``x_j = j / n``), a bounded one includes it, so the
    coordinate of a physical point does not depend on the resolution.
    """
    axes = [torch.linspace(0, 1, n + int(p), device=device, dtype=dtype)[:n] for n, p in zip(shape, periodic)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"))[:, None]


class FNO(nn.Module):
    """``(batch, in_channels, *spatial) -> (batch, out_channels, *spatial)`` on any grid size."""

    def __init__(self, in_channels: int, out_channels: int, modes: tuple[int, ...], *, width: int = 32,
                 n_layers: int = 4, projection_channels: int = 128, factorization: str = "dense",
                 rank: int = 16, positional_encoding: bool = True, periodic: tuple[bool, ...] | None = None,
                 domain_padding: float = 0.0, mixed_precision: bool = False,
                 normalizer_shape: tuple[int, ...] | None = None, generator: torch.Generator | None = None):
        super().__init__()
        modes = tuple(int(m) for m in modes)
        d = len(modes)
        periodic = tuple(bool(p) for p in (periodic if periodic is not None else (True,) * d))
        if len(periodic) != d:
            raise ValueError(f"periodic has {len(periodic)} entries but modes has {d}")
        if not 0 <= domain_padding < 1:
            raise ValueError(f"domain_padding must be in [0, 1), got {domain_padding}")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        if normalizer_shape is not None:
            normalizer_shape = tuple(int(n) for n in normalizer_shape)
            if len(normalizer_shape) != d:
                raise ValueError(f"normalizer_shape has {len(normalizer_shape)} entries but modes has {d}")
        self.config = dict(in_channels=in_channels, out_channels=out_channels, modes=modes, width=width,
                           n_layers=n_layers, projection_channels=projection_channels,
                           factorization=factorization, rank=rank,
                           positional_encoding=positional_encoding, periodic=periodic,
                           domain_padding=domain_padding, mixed_precision=mixed_precision,
                           normalizer_shape=normalizer_shape)
        self.ndim, self.modes, self.periodic = d, modes, periodic
        self.positional_encoding, self.domain_padding = positional_encoding, domain_padding
        self.mixed_precision = mixed_precision
        g = generator
        self.lift = Pointwise(in_channels + (d if positional_encoding else 0), width, g)
        self.spectral = nn.ModuleList(SpectralConv(width, width, modes, factorization=factorization, rank=rank,
                                                   generator=g) for _ in range(n_layers))
        self.skip = nn.ModuleList(Pointwise(width, width, g) for _ in range(n_layers))
        self.project = nn.Sequential(Pointwise(width, projection_channels, g), nn.GELU(),
                                     Pointwise(projection_channels, out_channels, g))
        self.normalizer = (OutputNormalizer(out_channels, normalizer_shape, periodic)
                           if normalizer_shape is not None else None)

    @classmethod
    def from_config(cls, config: dict) -> "FNO":
        c = dict(config)
        return cls(c.pop("in_channels"), c.pop("out_channels"), tuple(c.pop("modes")), **c)

    def _pads(self, shape) -> list[int]:
        return [0 if p else math.ceil(self.domain_padding * n) for n, p in zip(shape, self.periodic)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, in, *s) -> (batch, out, *s)``; inside, activations are channel-major
        ``(width, batch, *s)`` so that every pointwise layer is a single GEMM."""
        shape = tuple(x.shape[-self.ndim:])
        check_modes(self.modes, [n + p for n, p in zip(shape, self._pads(shape))])
        v = x.transpose(0, 1)
        if self.positional_encoding:
            grid = coordinates(shape, self.periodic, device=x.device, dtype=x.dtype)
            v = torch.cat([v, grid.expand(-1, x.shape[0], *shape)], dim=0)
        amp = torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=self.mixed_precision)
        with amp:
            v = self.lift(v)
            pads = self._pads(shape)
            if any(pads):
                # F.pad lists the last axis first: (left, right) per axis
                v = F.pad(v, [q for p in reversed(pads) for q in (0, p)])
            last = len(self.spectral) - 1
            for i, (k, w) in enumerate(zip(self.spectral, self.skip)):
                v = k(v, add=w(v, bias=False), bias=w.bias)  # K v + W v + b, one pass over v's grid
                if i < last:
                    v = F.gelu(v)
            if any(pads):
                v = v[(Ellipsis, *[slice(0, n) for n in shape])]
            out = self.project(v)
        if self.normalizer is not None:
            out = self.normalizer(out)
        return out.transpose(0, 1).to(x.dtype).contiguous()


class OperatorModelConfig(ModelConfig):
    """Common base of operator-family configs: checks the problem is an operator problem."""

    family = "operator"

    @staticmethod
    def check_problem(problem, kind: str) -> None:
        if getattr(problem, "kind", None) != "operator":
            raise ValueError(f"model {kind!r} maps functions to functions and needs an operator "
                             f"problem (kind 'operator'); {problem.key!r} is of kind {problem.kind!r}")


@register_model
class FNOConfig(OperatorModelConfig):
    """Fourier neural operator (Li et al. 2021); with a problem's ``physics`` on, this is PINO."""

    kind = "fno"
    title = "Fourier neural operator"

    modes = param.Integer(12, bounds=(1, 1024), doc="Fourier modes kept per axis (|f| < modes)")
    width = param.Integer(32, bounds=(1, 1024), doc="Channels of the Fourier layers")
    n_layers = param.Integer(4, bounds=(1, 64), doc="Number of Fourier layers")
    projection_channels = param.Integer(128, bounds=(1, 4096), doc="Hidden channels of the projection")
    factorization = param.Selector(default="dense", objects=list(FACTORIZATIONS),
                                   doc="Spectral weights: dense, CP (low rank) or separable")
    rank = param.Integer(16, bounds=(1, 1024), doc="CP rank (factorization='cp')")
    positional_encoding = param.Boolean(True, doc="Append normalised coordinates to the input")
    domain_padding = param.Number(0.125, bounds=(0.0, 0.5),
                                  doc="Zero padding of non-periodic axes, as a fraction of the grid")
    mixed_precision = param.Boolean(False, doc="bfloat16 autocast for pointwise layers (FFTs stay float32)")
    normalize_output = param.Boolean(False, doc="Decode the output by the training set's pointwise mean and "
                                                "standard deviation (the FNO paper's normaliser)")

    def build(self, problem, generator=None) -> FNO:
        self.check_problem(problem, self.kind)
        d = len(problem.axes)
        modes = (self.modes,) * d
        try:
            check_modes(modes, problem.shape)
        except ValueError as err:
            raise ValueError(f"modes={self.modes} is too many for {problem.key!r} at resolution "
                             f"{problem.shape}: {err}") from None
        return FNO(problem.in_channels, problem.out_channels, modes, width=self.width,
                   n_layers=self.n_layers, projection_channels=self.projection_channels,
                   factorization=self.factorization, rank=self.rank,
                   positional_encoding=self.positional_encoding,
                   periodic=tuple(a in problem.periodic for a in problem.axes),
                   domain_padding=self.domain_padding, mixed_precision=self.mixed_precision,
                   normalizer_shape=tuple(problem.shape) if self.normalize_output else None,
                   generator=generator)
