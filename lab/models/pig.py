"""PIG — Physics-Informed Gaussians (Kang, Oh, Hong & Park, ICLR 2025).

The input is encoded by ``N`` trainable Gaussians with means ``μ_i``, covariances ``Σ_i``
and feature vectors ``f_i ∈ R^k``::

    φ(x) = Σ_i f_i exp(−½ (x − μ_i)ᵀ Σ_i⁻¹ (x − μ_i)),      u(x) = MLP(φ(x))

and a tiny MLP decodes ``φ``. The Gaussians move and stretch to where the solution has
structure, a mesh-free adaptive analogue of grid encodings, and their smooth kernels keep
the derivatives the residual needs. ``Σ_i`` is diagonal (per-axis log-scales) or full via a
Cholesky factor ``Σ = L Lᵀ`` (``L`` lower triangular with positive diagonal ``exp(s)``).
Coordinates are scaled to [-1, 1]^d; on a periodic axis the offset ``x − μ`` is wrapped to
its nearest image, so the field is exactly periodic.

Memory: a dense evaluation holds ``(points × Gaussians × d)`` offsets, so points are processed
in chunks of ``chunk_size``; ``top_k > 0`` keeps, for each point, only its ``k`` nearest
Gaussians (found without gradients), which bounds the autograd graph by ``points × k`` rather
than ``points × N`` during training.
"""
from __future__ import annotations

import math

import numpy as np
import param
import torch
from torch import nn

from lab.models import ModelConfig, register_model
from lab.models.mlp import ACTIVATIONS, Normalize, mlp
from lab.training.hard import HARD_MODES, hard_constrained

#: tensors of shape (chunk, gaussians) alive per chunk in a dense pass with first and second
#: input derivatives under autograd (offsets per axis, scaled offsets, exponent, weights and
#: their tangents); an upper estimate used to refuse settings that cannot fit.
_LIVE_PER_PAIR = 12


def memory_estimate_gb(chunk: int, gaussians: int, dim: int, top_k: int = 0,
                       itemsize: int = 8) -> float:
    """Approximate peak memory (GiB) of one chunk of ``chunk`` points.

    Dense: ``chunk × N`` pairs under autograd. With ``top_k``: the gradient-free neighbour
    search over all ``N`` (offsets and distances) or the ``chunk × k`` graph, whichever is larger.
    """
    if 0 < top_k < gaussians:
        pairs = max(chunk * gaussians * (2 * dim + 2), chunk * top_k * (dim + _LIVE_PER_PAIR))
    else:
        pairs = chunk * gaussians * (dim + _LIVE_PER_PAIR)
    return pairs * itemsize / 2**30


class GaussianField(nn.Module):
    """The PIG network: Gaussian feature encoding followed by a small MLP."""

    def __init__(self, bounds: dict[str, tuple[float, float]], periodic: tuple[str, ...],
                 n_gaussians: int, n_features: int, init_scale: float, full_covariance: bool,
                 hidden: int, depth: int, act: str, out_dim: int, chunk_size: int, top_k: int):
        super().__init__()
        d = len(bounds)
        self.normalize = Normalize(bounds)
        self.periodic_idx = [i for i, a in enumerate(bounds) if a in periodic]
        self.register_buffer("period", torch.tensor([bounds[a][1] - bounds[a][0] for a in bounds
                                                     if a in periodic], dtype=torch.float64))
        self.chunk_size, self.top_k = chunk_size, top_k
        self.means = nn.Parameter(2 * torch.rand(n_gaussians, d) - 1)
        self.log_scales = nn.Parameter(torch.full((n_gaussians, d), math.log(init_scale)))
        self.offdiag = nn.Parameter(torch.zeros(n_gaussians, d, d)) if full_covariance else None
        self.features = nn.Parameter(torch.randn(n_gaussians, n_features))
        self.head = mlp([n_features] + [hidden] * depth + [out_dim], act)

    # ---- Gaussian geometry ----------------------------------------------------------------
    def _offsets(self, z, mu):
        """``z − μ`` (broadcast), wrapped to the nearest image on periodic axes.

        The period in scaled units is ``P / radius`` with the very ``radius`` used to scale
        ``x``, so a shift of ``x`` by ``P`` changes the wrapped offset only by round-off.
        """
        diff = z - mu
        if self.periodic_idx:
            p = self.periodic_idx
            pz = self.period / self.normalize.radius[p]
            diff = diff.clone()
            diff[..., p] = diff[..., p] - pz * torch.round(diff[..., p] / pz)
        return diff

    def _whitener(self):
        """``L⁻¹`` (N, d, d) for full covariance, else ``1/scale`` (N, d)."""
        if self.offdiag is None:
            return torch.exp(-self.log_scales)
        L = torch.tril(self.offdiag, -1) + torch.diag_embed(torch.exp(self.log_scales))
        eye = torch.eye(L.shape[-1], dtype=L.dtype, device=L.device).expand_as(L)
        return torch.linalg.solve_triangular(L, eye, upper=False)

    def _whiten(self, diff, W):
        if self.offdiag is None:
            return diff * W
        return torch.einsum("...ij,...j->...i", W, diff)

    def _encode(self, z, W):
        """``φ`` for one chunk of scaled points ``z`` (C, d)."""
        if self.top_k and self.top_k < self.means.shape[0]:
            with torch.no_grad():  # neighbour search: which Gaussians matter at each point
                q = self._whiten(self._offsets(z[:, None], self.means), W).pow(2).sum(-1)
                idx = q.topk(self.top_k, dim=1, largest=False).indices             # (C, k)
            diff = self._offsets(z[:, None], self.means[idx])                        # (C, k, d)
            q = self._whiten(diff, W[idx]).pow(2).sum(-1)
            return (torch.exp(-0.5 * q)[..., None] * self.features[idx]).sum(1)
        q = self._whiten(self._offsets(z[:, None], self.means), W).pow(2).sum(-1)   # (C, N)
        return torch.exp(-0.5 * q) @ self.features

    def forward(self, x):
        z, W = self.normalize(x), self._whitener()
        phi = torch.cat([self._encode(c, W) for c in z.split(self.chunk_size)])
        return self.head(phi)

    def gaussians(self) -> dict[str, np.ndarray]:
        """Means and covariances in problem coordinates, for the live ellipse view.

        ``means`` (N, d); ``scales`` (N, d) the per-axis standard deviations; ``covariance``
        (N, d, d); ``weight`` (N,) the feature norm ``‖f_i‖`` (how much each one contributes).
        """
        with torch.no_grad():
            r = self.normalize.radius.to(self.means)
            if self.offdiag is None:
                L = torch.diag_embed(torch.exp(self.log_scales))
            else:
                L = torch.tril(self.offdiag, -1) + torch.diag_embed(torch.exp(self.log_scales))
            L = r[:, None] * L                        # problem coordinates: x = c + r z
            cov = L @ L.transpose(-1, -2)
            means = self.normalize.center.to(self.means) + r * self.means
            return {"means": means.double().cpu().numpy(),
                    "scales": cov.diagonal(dim1=-2, dim2=-1).sqrt().double().cpu().numpy(),
                    "covariance": cov.double().cpu().numpy(),
                    "weight": self.features.norm(dim=1).double().cpu().numpy()}


@register_model
class PIGConfig(ModelConfig):
    """Kang et al. (ICLR 2025): trainable Gaussian features decoded by a tiny MLP."""

    kind = "pig"
    title = "PIG (Physics-Informed Gaussians)"

    n_gaussians = param.Integer(1000, bounds=(1, 1_000_000), doc="Number of Gaussians N")
    n_features = param.Integer(4, bounds=(1, 256), doc="Feature dimension k per Gaussian")
    init_scale = param.Number(0.1, bounds=(1e-4, 2.0),
                              doc="Initial standard deviation of each Gaussian (in the [-1, 1] box)")
    full_covariance = param.Boolean(False, doc="Full covariance (Cholesky) instead of per-axis scales")
    hidden = param.Integer(16, bounds=(1, 1024), doc="Width of the decoding MLP")
    depth = param.Integer(1, bounds=(1, 8), doc="Hidden layers of the decoding MLP")
    activation = param.Selector(default="tanh", objects=list(ACTIVATIONS), doc="Decoder activation")
    periodic = param.Boolean(True, doc="Wrap offsets on the problem's periodic axes (exact periodicity)")
    chunk_size = param.Integer(4096, bounds=(1, 10_000_000), doc="Points evaluated per chunk")
    top_k = param.Integer(0, bounds=(0, 100_000),
                          doc="Use only the k nearest Gaussians per point (0: all of them)")
    memory_budget_gb = param.Number(4.0, bounds=(0.01, 1024.0),
                                    doc="Largest memory one chunk may need (GiB, float64 estimate)")
    hard = param.Selector(default="none", objects=list(HARD_MODES),
                          doc="Impose the initial and/or Dirichlet boundary condition exactly")

    def build(self, problem) -> nn.Module:
        dim = len(problem.axes)
        need = memory_estimate_gb(self.chunk_size, self.n_gaussians, dim, self.top_k)
        if need > self.memory_budget_gb:
            raise ValueError(
                f"n_gaussians={self.n_gaussians} (top_k={self.top_k}) needs ~{need:.3g} GiB for "
                f"chunk_size={self.chunk_size} points in {dim}D, above memory_budget_gb="
                f"{self.memory_budget_gb}; lower chunk_size or set top_k")
        net = GaussianField(problem.bounds(), problem.periodic if self.periodic else (),
                            self.n_gaussians, self.n_features, self.init_scale,
                            self.full_covariance, self.hidden, self.depth, self.activation,
                            len(problem.outputs), self.chunk_size, self.top_k)
        return hard_constrained(net, problem, self.hard)
