"""Input embeddings for coordinate networks, and the options every embedded PINN shares.

* **Exact periodic embedding** (Dong & Ni 2021; Wang et al. 2023, jaxpi): a periodic axis
  ``x`` of period ``P`` enters only as ``cos(2πk x/P), sin(2πk x/P)``, ``k = 1..K``, so any
  network on top is periodic in ``x`` to round-off — the periodic boundary condition is
  satisfied by construction instead of penalised.
* **Trainable time period** (jaxpi, Wang et al. 2023, advection): the time axis ``t`` enters
  as ``cos(ω (t − t0)), sin(ω (t − t0))`` with a trainable angular frequency ``ω``; for pure
  transport (convection at large β) their ablation shows it is essential (7e-1 without).
* **Random Fourier features** (Tancik et al., NeurIPS 2020; Wang, Wang & Perdikaris 2021):
  ``γ(v) = [cos(2π B v), sin(2π B v)]`` with fixed ``B_ij ~ N(0, σ²)``. The feature scale
  ``σ`` sets the frequencies the network sees from step one, which counters spectral bias
  (an MLP learns low frequencies first).

Non-periodic axes are first mapped onto [-1, 1] (:class:`lab.nn.Normalize`).
"""
from __future__ import annotations

import math

import param
import torch
from torch import nn

from lab.models import ModelConfig
from lab.nn import Normalize
from lab.models.hard import HARD_MODES, hard_constrained


class PeriodicEmbedding(nn.Module):
    """Replace each periodic coordinate by ``K`` exact harmonics; other axes pass through."""

    def __init__(self, bounds: dict[str, tuple[float, float]], periodic: tuple[str, ...],
                 harmonics: int = 1, time_omega: float = 0.0):
        super().__init__()
        axes = list(bounds)
        unknown = [a for a in periodic if a not in axes]
        if unknown:
            raise ValueError(f"periodic axes {unknown} are not among the problem axes {axes}")
        if harmonics < 1:
            raise ValueError(f"harmonics must be >= 1, got {harmonics}")
        self.normalize = Normalize(bounds)
        # optional trainable time period: t is replaced by cos/sin(ω (t − t0)), ω trained
        self.time_idx = axes.index("t") if time_omega > 0 and "t" in axes and "t" not in periodic else None
        self.periodic_idx = [i for i, a in enumerate(axes) if a in periodic]
        self.plain_idx = [i for i, a in enumerate(axes) if a not in periodic and i != self.time_idx]
        period = torch.tensor([bounds[axes[i]][1] - bounds[axes[i]][0] for i in self.periodic_idx],
                              dtype=torch.float64)
        # 2πk/P for every periodic axis and harmonic, shape (n_periodic, K)
        k = torch.arange(1, harmonics + 1, dtype=torch.float64)
        self.register_buffer("omega", 2 * math.pi * k[None, :] / period[:, None])
        self.out_dim = len(self.plain_idx) + 2 * harmonics * len(self.periodic_idx) + 2 * (self.time_idx is not None)
        # the column indices live on the model's device: indexing with a Python list copies it
        # from the host on every call, which a CUDA graph cannot capture
        self.register_buffer("_plain", torch.tensor(self.plain_idx, dtype=torch.long), persistent=False)
        self.register_buffer("_periodic", torch.tensor(self.periodic_idx, dtype=torch.long), persistent=False)
        if self.time_idx is not None:
            self.t0 = float(bounds["t"][0])
            self.time_omega = nn.Parameter(torch.tensor(float(time_omega)))

    def forward(self, x):
        plain = self.normalize(x).index_select(1, self._plain)
        parts = [plain]
        if self.time_idx is not None:
            wt = self.time_omega * (x[:, self.time_idx:self.time_idx + 1] - self.t0)
            parts += [torch.cos(wt), torch.sin(wt)]
        if not self.periodic_idx:
            return torch.cat(parts, dim=1) if len(parts) > 1 else plain
        phase = (x.index_select(1, self._periodic)[:, :, None] * self.omega).flatten(1)
        return torch.cat(parts + [torch.cos(phase), torch.sin(phase)], dim=1)


class FourierFeatures(nn.Module):
    """``[cos(2π B v), sin(2π B v)]`` with a fixed Gaussian matrix ``B`` (a buffer, not trained)."""

    def __init__(self, in_dim: int, n_features: int, sigma: float, generator: torch.Generator | None = None):
        super().__init__()
        if n_features < 1 or sigma <= 0:
            raise ValueError(f"need n_features >= 1 and sigma > 0, got {n_features}, {sigma}")
        self.register_buffer("B", sigma * torch.randn(in_dim, n_features, dtype=torch.float64, generator=generator))
        self.out_dim = 2 * n_features

    def forward(self, v):
        z = 2 * math.pi * v @ self.B
        return torch.cat([torch.cos(z), torch.sin(z)], dim=1)


class EmbeddedConfig(ModelConfig):
    """Options shared by the modern PINN architectures: input embedding and hard constraints.

    Not registered itself; ``build`` wraps the core network that :meth:`core` returns
    between the embedding and the optional hard-constraint output transform.
    """

    embedding = param.Selector(default="fourier", objects=["none", "fourier"],
                               doc="Input embedding: random Fourier features, or none")
    fourier_features = param.Integer(64, bounds=(1, 4096), doc="Number of random Fourier frequencies")
    fourier_sigma = param.Number(1.0, bounds=(1e-3, 1e3),
                                 doc="Standard deviation σ of the Fourier frequencies (per unit of the [-1, 1] box)")
    periodic = param.Boolean(True, doc="Embed the problem's periodic axes exactly (cos/sin harmonics)")
    harmonics = param.Integer(1, bounds=(1, 64), doc="Harmonics per periodic axis")
    time_omega = param.Number(0.0, bounds=(0.0, 1e3),
                              doc="If > 0: embed time as cos/sin(ω (t − t0)) with ω trainable, starting "
                                  "here (jaxpi's trainable time period, e.g. 2π); 0: time enters raw")
    hard = param.Selector(default="none", objects=list(HARD_MODES),
                          doc="Impose the initial and/or Dirichlet boundary condition exactly")

    def embed(self, problem, generator=None) -> tuple[nn.Module, int]:
        """The input embedding for ``problem`` and its output width."""
        periodic = problem.periodic if self.periodic else ()
        first = PeriodicEmbedding(problem.bounds(), tuple(periodic), self.harmonics, self.time_omega)
        if self.embedding == "none":
            return first, first.out_dim
        ff = FourierFeatures(first.out_dim, self.fourier_features, self.fourier_sigma, generator)
        return nn.Sequential(first, ff), ff.out_dim

    def core(self, problem, in_dim: int, generator: torch.Generator | None = None) -> nn.Module:
        """The network after the embedding, mapping ``in_dim`` features to the outputs."""
        raise NotImplementedError

    def build(self, problem, generator=None) -> nn.Module:
        emb, dim = self.embed(problem, generator)
        net = nn.Sequential(emb, self.core(problem, dim, generator))
        return hard_constrained(net, problem, self.hard)
