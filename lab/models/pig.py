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

The authors' code (github.com/NamGyuKang/Physics-Informed-Gaussians) builds ``φ`` per channel:
each of the ``k`` channels owns its own ``N`` Gaussians with a scalar weight ``w ~ N(0, 0.01²)``
and trains ``σ`` itself, ``φ_c(x) = Σ_i w_ci exp(−½ |(x − μ_ci)/σ_ci|²)``. That is the form
above with ``k·N`` Gaussians whose features are ``w × one-hot(c)``: ``per_channel=True``,
``feature_std=0.01``, ``scale_param="linear"`` (:class:`PIGConfig`).

Memory: a dense evaluation holds ``(points × Gaussians × d)`` offsets, so points are processed
in chunks of ``chunk_size``; ``top_k > 0`` keeps, for each point, only its ``k`` nearest
Gaussians (found without gradients), which bounds the autograd graph by ``points × k`` rather
than ``points × N`` during training.

Derivatives: the residual's input partials of ``φ`` are closed form (:meth:`GaussianField.
encoding_jet`), so Taylor mode (:class:`lab.autodiff.TaylorFields`) propagates them with the
head's jet in one forward pass — compiled on CUDA, like a plain MLP's — instead of autograd's
nested reverse passes through the neighbour gathers.
"""
from __future__ import annotations

import math

import numpy as np
import param
import torch
from torch import nn

from lab.config import ConfigError, label
from lab.limits import GB, capped_bytes
from lab.autodiff import _activate
from lab.models import ModelConfig, register_model
from lab.nn import ACTIVATIONS, Normalize, mlp
from lab.models.hard import HARD_MODES, hard_constrained

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


def _take(t, idx):
    """Rows ``idx`` of a per-Gaussian tensor (``(C, k, ...)``), or all of it for ``idx=None``."""
    return t if idx is None else t[idx]


def _contract(g, features):
    """``Σ_i g_i f_i``: ``g`` (..., C, n) against all features (n, k) or gathered ones (C, n, k)."""
    return g @ features if features.ndim == 2 else (g[..., None] * features).sum(-2)


def _exponent_chunks(jet, s, grad, curv):
    """The exponent's jet as :func:`lab.autodiff._activate` takes it: ``s`` (C, n), then per
    order a stack over that order's components: ``grad[..., a]`` for ``∂_a``, ``−curv[..., a, b]``
    for ``∂_a∂_b``, zero above second order."""
    out, start = [s], 1
    for k in range(1, jet.order + 1):
        keys = jet.keys[start:start + jet.sizes[k]]
        start += jet.sizes[k]
        if k == 1:
            out.append(torch.stack([grad[..., a] for (a,) in keys]))
        elif k == 2:
            out.append(torch.stack([-curv[..., a, b].expand_as(s) for a, b in keys]))
        else:
            out.append(s.new_zeros((len(keys),) + s.shape))
    return out


class GaussianField(nn.Module):
    """The PIG network: Gaussian feature encoding followed by a small MLP."""

    def __init__(self, bounds: dict[str, tuple[float, float]], periodic: tuple[str, ...],
                 n_gaussians: int, n_features: int, init_scale: float, full_covariance: bool,
                 hidden: int, depth: int, act: str, out_dim: int, chunk_size: int, top_k: int,
                 per_channel: bool = False, feature_std: float = 1.0, scale_param: str = "log",
                 generator: torch.Generator | None = None):
        super().__init__()
        d = len(bounds)
        # per channel: every feature channel owns n_gaussians Gaussians with one scalar weight
        # (the authors' code), i.e. k·N Gaussians whose features are weight × one-hot(channel)
        total = n_gaussians * n_features if per_channel else n_gaussians
        self.normalize = Normalize(bounds)
        self.periodic_idx = [i for i, a in enumerate(bounds) if a in periodic]
        self.register_buffer("period", torch.tensor([bounds[a][1] - bounds[a][0] for a in bounds
                                                     if a in periodic], dtype=torch.float64))
        # the periodic axes as a device tensor: indexing with a Python list copies it from the
        # host on every call, which a captured CUDA graph cannot do
        self.register_buffer("_periodic", torch.tensor(self.periodic_idx, dtype=torch.long),
                             persistent=False)
        self.chunk_size, self.top_k = chunk_size, top_k
        g = generator
        self.means = nn.Parameter(2 * torch.rand(total, d, generator=g) - 1)
        if scale_param == "log":
            self.log_scales = nn.Parameter(torch.full((total, d), math.log(init_scale)))
            self.scales = None
        else:  # the standard deviations themselves (the authors' code): Adam moves σ by ~lr
            self.log_scales = None
            self.scales = nn.Parameter(torch.full((total, d), float(init_scale)))
        self.offdiag = nn.Parameter(torch.zeros(total, d, d)) if full_covariance else None
        if per_channel:
            self.features = nn.Parameter(feature_std * torch.randn(total, 1, generator=g))
            self.register_buffer("_channel", torch.eye(n_features).repeat_interleave(n_gaussians, 0),
                                 persistent=False)
        else:
            self.features = nn.Parameter(feature_std * torch.randn(total, n_features, generator=g))
            self._channel = None
        self.head = mlp([n_features] + [hidden] * depth + [out_dim], act, g)

    # ---- Gaussian geometry ----------------------------------------------------------------
    def _offsets(self, z, mu):
        """``z − μ`` (broadcast), wrapped to the nearest image on periodic axes.

        The period in scaled units is ``P / radius`` with the very ``radius`` used to scale
        ``x``, so a shift of ``x`` by ``P`` changes the wrapped offset only by round-off.
        """
        diff = z - mu
        if self.periodic_idx:
            p = self._periodic
            pz = self.period / self.normalize.radius.index_select(0, p)
            dp = diff.index_select(-1, p)
            diff = diff.index_copy(-1, p, dp - pz * torch.round(dp / pz))
        return diff

    def _sigma(self):
        """Per-axis standard deviations (N, d) (the Cholesky diagonal with full covariance)."""
        return torch.exp(self.log_scales) if self.scales is None else self.scales

    def _features(self):
        """Feature matrix (N, k): the trained features, or per channel weight × one-hot."""
        return self.features if self._channel is None else self.features * self._channel

    def _whitener(self):
        """``L⁻¹`` (N, d, d) for full covariance, else ``1/scale`` (N, d)."""
        if self.offdiag is None:
            return torch.exp(-self.log_scales) if self.scales is None else 1 / self.scales
        L = torch.tril(self.offdiag, -1) + torch.diag_embed(self._sigma())
        eye = torch.eye(L.shape[-1], dtype=L.dtype, device=L.device).expand_as(L)
        return torch.linalg.solve_triangular(L, eye, upper=False)

    def _whiten(self, diff, W):
        if self.offdiag is None:
            return diff * W
        return torch.einsum("...ij,...j->...i", W, diff)

    def _neighbours(self, z, W):
        """Indices (C, k) of the ``top_k`` Gaussians nearest each point of ``z`` (whitened
        distance), or ``None`` where every Gaussian is used. A selection, so no gradient."""
        if not (self.top_k and self.top_k < self.means.shape[0]):
            return None
        with torch.no_grad():
            q = self._whiten(self._offsets(z[:, None], self.means), W).pow(2).sum(-1)  # (C, N)
            return q.topk(self.top_k, dim=1, largest=False).indices

    def _whitened(self, z, W):
        """``(idx, r)`` for one chunk of scaled points ``z`` (C, d): the Gaussians each point
        sees (:meth:`_neighbours`) and the whitened offsets ``r`` (C, k or N, d) to them."""
        idx = self._neighbours(z, W)
        return idx, self._whiten(self._offsets(z[:, None], _take(self.means, idx)), _take(W, idx))

    def _encode(self, z, W):
        """``φ`` for one chunk of scaled points ``z`` (C, d)."""
        idx, r = self._whitened(z, W)
        return _contract(torch.exp(-0.5 * r.pow(2).sum(-1)), _take(self._features(), idx))

    def forward(self, x):
        z, W = self.normalize(x), self._whitener()
        phi = torch.cat([self._encode(c, W) for c in z.split(self.chunk_size)])
        return self.head(phi)

    # ---- Taylor mode (lab.autodiff.TaylorFields) -------------------------------------------
    def encoding_jet(self, jet, x):
        """``φ`` and its partials in ``x`` along the components of ``jet``: ``(K, points, k)``.

        Why: each Gaussian is ``exp(s)`` of a quadratic ``s = −½|r|²``, ``r = V (x − m)`` (``V``
        the whitener in problem coordinates), so ``s_a = −(Vᵀr)_a``, ``s_ab = −(VᵀV)_ab`` and
        every higher partial is zero; Faà di Bruno through ``exp`` then gives the Gaussian's
        partials of any order in one pass, where autograd nests a reverse pass per order
        through the neighbour gathers. The MLP head continues the jet
        (:func:`lab.autodiff._propagate`).
        """
        z, W = self.normalize(x), self._whitener()
        V = W / self.normalize.radius.to(W)   # ∂r/∂x: the columns of the whitener over the radii
        curv = torch.diag_embed(V.pow(2)) if self.offdiag is None else V.transpose(-1, -2) @ V
        return torch.cat([self._encode_jet(jet, c, W, V, curv) for c in z.split(self.chunk_size)],
                         dim=1)

    def _encode_jet(self, jet, z, W, V, curv):
        idx, r = self._whitened(z, W)
        V, curv = _take(V, idx), _take(curv, idx)
        s = -0.5 * r.pow(2).sum(-1)                                              # (C, n)
        grad = -r * V if self.offdiag is None else -torch.einsum("...j,...ja->...a", r, V)
        return _contract(_activate(jet, "exp", _exponent_chunks(jet, s, grad, curv)),
                         _take(self._features(), idx))

    def gaussians(self) -> dict[str, np.ndarray]:
        """Means and covariances in problem coordinates, for the live ellipse view.

        ``means`` (N, d); ``scales`` (N, d) the per-axis standard deviations; ``covariance``
        (N, d, d); ``weight`` (N,) the feature norm ``‖f_i‖`` (how much each one contributes).
        """
        with torch.no_grad():
            r = self.normalize.radius.to(self.means)
            L = torch.diag_embed(self._sigma())
            if self.offdiag is not None:
                L = L + torch.tril(self.offdiag, -1)
            L = r[:, None] * L                        # problem coordinates: x = c + r z
            cov = L @ L.transpose(-1, -2)
            means = self.normalize.center.to(self.means) + r * self.means
            return {"means": means.double().cpu().numpy(),
                    "scales": cov.diagonal(dim1=-2, dim2=-1).sqrt().double().cpu().numpy(),
                    "covariance": cov.double().cpu().numpy(),
                    "weight": self.features.norm(dim=1).double().cpu().numpy()}

    def snapshot_extras(self) -> dict[str, dict[str, np.ndarray]]:
        """What a training snapshot carries for this model (the PINN task's hook): the Gaussians."""
        return {"gaussians": self.gaussians()}


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
    memory_budget_gb = param.Number(4.0, bounds=(0.01, 1024.0), label="Memory budget (GB)",
                                    doc="Largest memory one chunk may need (GB of 2^30 bytes, float64 estimate)")
    hard = param.Selector(default="none", objects=list(HARD_MODES),
                          doc="Impose the initial and/or Dirichlet boundary condition exactly")
    per_channel = param.Boolean(
        False, doc="Each of the n_features channels owns its own n_gaussians Gaussians with a "
                   "scalar weight (n_features × n_gaussians Gaussians in all), as in the authors' "
                   "code (Kang et al. 2025); off: N Gaussians share their position across a "
                   "k-vector feature (the paper's equation)")
    feature_std = param.Number(1.0, bounds=(1e-8, 10.0),
                               doc="Standard deviation of the initial features (authors' code: 0.01)")
    scale_param = param.Selector(
        default="log", objects=["log", "linear"],
        doc="How the widths are trained: 'log' (log σ, positive by construction) or 'linear' "
            "(σ itself, as in the authors' code: Adam then moves σ by about lr per step)")

    def build(self, problem, generator=None) -> nn.Module:
        dim = len(problem.axes)
        total = self.n_gaussians * (self.n_features if self.per_channel else 1)
        need = memory_estimate_gb(self.chunk_size, total, dim, self.top_k)
        if need > capped_bytes(self.memory_budget_gb) / GB:  # a run's config.json cannot raise it past the machine
            shown = {n: label(self.param[n]) for n in ("n_gaussians", "top_k", "chunk_size", "memory_budget_gb")}
            raise ConfigError(
                "chunk_size", f"{shown['n_gaussians']} = {self.n_gaussians}"
                f"{' per channel' if self.per_channel else ''} "
                f"({shown['top_k']} = {self.top_k}) needs about {need:.3g} GB for {shown['chunk_size']} = "
                f"{self.chunk_size} points in {dim}D, above {shown['memory_budget_gb']} = {self.memory_budget_gb:g}. "
                f"Lower {shown['chunk_size']}, or set {shown['top_k']}.")
        net = GaussianField(problem.bounds(), problem.periodic if self.periodic else (),
                            self.n_gaussians, self.n_features, self.init_scale,
                            self.full_covariance, self.hidden, self.depth, self.activation,
                            len(problem.outputs), self.chunk_size, self.top_k,
                            self.per_channel, self.feature_std, self.scale_param, generator)
        return hard_constrained(net, problem, self.hard)
