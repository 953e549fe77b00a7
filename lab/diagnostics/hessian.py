"""Hessian spectra of a training loss from Hessian-vector products alone (never forming ``H``).

* :class:`HessianOperator` — ``v -> H v`` by double backward (Pearlmutter 1994): the gradient
  graph is built once, each product is one more reverse pass. Works for any loss closure,
  including physics-informed losses whose residual already uses ``autograd.grad``.
* :func:`top_eigenvalues` — Lanczos with full re-orthogonalisation; stops when the Ritz
  residuals ``|beta_j s_ji|`` of the wanted ``k`` pairs fall below ``tol`` times the spectral
  scale (Golub & Van Loan, *Matrix Computations*, sec. 10.1).
* :func:`hutchinson_trace` — ``tr H = E[z^T H z]`` with Rademacher ``z`` (Hutchinson 1989);
  variance ``2 (||H||_F^2 - sum_i H_ii^2)`` per sample.
* :func:`spectral_density` — stochastic Lanczos quadrature (Golub & Meurant 1994; Ghorbani,
  Krishnan & Xiao 2019; PyHessian, Yao et al. 2020): for unit probe ``v``, ``m`` Lanczos steps
  give nodes ``theta_j`` (eigenvalues of ``T_m``) and weights ``tau_j = (e_1^T s_j)^2`` with
  ``sum_j tau_j theta_j^p = v^T H^p v`` exactly for ``p <= 2m - 1``; averaging over probes
  estimates the spectral density ``(1/n) sum_i delta(t - lambda_i)``.

Randomness comes from an explicit ``torch.Generator`` (drawn on the CPU, then moved).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

MatVec = Callable[[torch.Tensor], torch.Tensor]


class HessianOperator:
    """``H v`` for the Hessian of ``loss_fn(model)`` with respect to the trainable parameters."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[nn.Module], torch.Tensor]):
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no trainable parameters")
        loss = loss_fn(model)
        self.grads = torch.autograd.grad(loss, self.params, create_graph=True)
        self.n = sum(p.numel() for p in self.params)
        self.dtype, self.device = self.params[0].dtype, self.params[0].device

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        if v.shape != (self.n,):
            raise ValueError(f"v must have shape ({self.n},), got {tuple(v.shape)}")
        chunks, offset = [], 0
        for p in self.params:
            chunks.append(v[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
        hv = torch.autograd.grad(self.grads, self.params, grad_outputs=chunks, retain_graph=True,
                                 allow_unused=True)
        return torch.cat([(h if h is not None else torch.zeros_like(p)).reshape(-1)
                          for h, p in zip(hv, self.params)]).detach()


def rademacher(shape, generator: torch.Generator, *, device=None, dtype=torch.float64) -> torch.Tensor:
    """Independent ``+/-1`` entries (drawn on the CPU from ``generator``)."""
    z = torch.randint(0, 2, tuple(shape), generator=generator).to(dtype) * 2 - 1
    return z.to(device)


def lanczos(matvec: MatVec, v0: torch.Tensor, m: int,
            stop: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], bool] | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``m`` Lanczos steps from ``v0`` with full re-orthogonalisation (twice, classical GS).

    Returns ``(alpha (j,), beta (j,), V (j, n))`` with ``T = tridiag(beta[:-1], alpha, beta[:-1])``
    and ``beta[-1]`` the residual norm of the last step; ``j < m`` when an invariant subspace is
    found (``beta`` below round-off) or ``stop(alpha, beta, V)`` returns True.
    """
    n = v0.numel()
    m = min(int(m), n)
    V = torch.empty(m, n, dtype=v0.dtype, device=v0.device)
    alpha, beta = [], []
    V[0] = v0 / v0.norm()
    scale = 0.0
    for j in range(m):
        w = matvec(V[j])
        a = torch.dot(w, V[j])
        w = w - a * V[j] - (beta[-1] * V[j - 1] if j > 0 else 0)
        for _ in range(2):
            w = w - V[:j + 1].T @ (V[:j + 1] @ w)
        b = w.norm()
        alpha.append(a)
        beta.append(b)
        scale = max(scale, float(a.abs()) + float(b))
        if (b <= 1e-12 * max(scale, 1e-300) or j == m - 1
                or (stop is not None and stop(torch.stack(alpha), torch.stack(beta), V[:j + 1]))):
            break
        V[j + 1] = w / b
    return torch.stack(alpha), torch.stack(beta), V[:len(alpha)]


def _tridiagonal(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return torch.diag(alpha) + torch.diag(beta[:-1], 1) + torch.diag(beta[:-1], -1)


def top_eigenvalues(op: HessianOperator | MatVec, k: int, generator: torch.Generator, *,
                    n: int | None = None, which: str = "LA", max_iter: int | None = None,
                    tol: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest (``"LA"``) or largest-magnitude (``"LM"``) eigenpairs of ``H``.

    Returns ``(values (k,), vectors (k, n))``, values in descending order (of magnitude for
    ``"LM"``). Converged when every wanted Ritz residual ``||H y - theta y|| = |beta s_last|``
    is below ``tol * max|theta|``; ``max_iter`` defaults to ``min(n, max(4 k, 40) + 20)``
    Lanczos steps and raises ``RuntimeError`` if that is not enough (ask for a larger one).
    """
    n = op.n if n is None else n
    if which not in ("LA", "LM"):
        raise ValueError(f"which must be 'LA' or 'LM', got {which!r}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    max_iter = min(n, max_iter or max(4 * k, 40) + 20)
    dtype = getattr(op, "dtype", torch.float64)
    device = getattr(op, "device", None)
    v0 = torch.randn(n, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)

    def ritz(alpha, beta):
        theta, S = torch.linalg.eigh(_tridiagonal(alpha, beta))
        order = torch.argsort(theta.abs() if which == "LM" else theta, descending=True)[:k]
        return theta[order], S[:, order], (beta[-1] * S[-1, order]).abs()

    def converged(alpha, beta, V):
        if alpha.numel() < k:
            return False
        theta, _, res = ritz(alpha, beta)
        return bool((res <= tol * theta.abs().max().clamp_min(1e-300)).all())

    alpha, beta, V = lanczos(op, v0, max_iter, converged)
    exhausted = alpha.numel() == n or beta[-1] <= 1e-12 * alpha.abs().max()
    if alpha.numel() < k or not (exhausted or converged(alpha, beta, V)):
        raise RuntimeError(f"Lanczos did not converge to tol={tol} for k={k} in {alpha.numel()} "
                           f"steps; raise max_iter (n={n})")
    theta, S, _ = ritz(alpha, beta)
    return theta, S.T @ V


def hutchinson_trace(op: HessianOperator | MatVec, n_samples: int, generator: torch.Generator, *,
                     n: int | None = None) -> tuple[float, float]:
    """Hutchinson's estimate of ``tr H`` and its standard error from ``n_samples`` Rademacher probes."""
    n = op.n if n is None else n
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2 (for a standard error), got {n_samples}")
    Z = rademacher((n_samples, n), generator, device=getattr(op, "device", None),
                   dtype=getattr(op, "dtype", torch.float64))
    samples = torch.stack([torch.dot(z, op(z)) for z in Z]).to(torch.float64)
    return float(samples.mean()), float(samples.std() / math.sqrt(n_samples))


@dataclass
class SpectralDensity:
    """Gauss quadrature rules, one per probe vector, of the Hessian's spectral density."""

    #: ``(n_vectors, m)`` Ritz values
    nodes: torch.Tensor
    #: ``(n_vectors, m)`` weights; each row sums to 1
    weights: torch.Tensor

    def moment(self, p: int) -> torch.Tensor:
        """``(1/n) tr(H^p)`` estimated as the probe average of ``sum_j tau_j theta_j^p``."""
        return (self.weights * self.nodes ** p).sum(-1).mean()

    def on_grid(self, t: torch.Tensor, sigma: float) -> torch.Tensor:
        """Density smoothed by a Gaussian of width ``sigma`` at the points ``t`` (integrates to 1)."""
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        t = t.to(self.nodes)
        g = torch.exp(-0.5 * ((t[:, None, None] - self.nodes) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        return (g * self.weights).sum(-1).mean(-1)


def spectral_density(op: HessianOperator | MatVec, n_vectors: int, n_lanczos: int,
                     generator: torch.Generator, *, n: int | None = None) -> SpectralDensity:
    """Stochastic Lanczos quadrature with probes ``rademacher((n_vectors, n)) / sqrt(n)``.

    Rows shorter than ``n_lanczos`` (a probe that spans an invariant subspace early) are padded
    with zero-weight nodes.
    """
    n = op.n if n is None else n
    if n_vectors < 1 or n_lanczos < 1:
        raise ValueError(f"n_vectors and n_lanczos must be positive, got {n_vectors}, {n_lanczos}")
    dtype = getattr(op, "dtype", torch.float64)
    probes = rademacher((n_vectors, n), generator, device=getattr(op, "device", None), dtype=dtype)
    m = min(n_lanczos, n)
    nodes = torch.zeros(n_vectors, m, dtype=dtype, device=probes.device)
    weights = torch.zeros_like(nodes)
    for i, v in enumerate(probes / math.sqrt(n)):
        alpha, beta, _ = lanczos(op, v, m)
        theta, S = torch.linalg.eigh(_tridiagonal(alpha, beta))
        nodes[i, :theta.numel()] = theta
        weights[i, :theta.numel()] = S[0] ** 2
    return SpectralDensity(nodes, weights)
