"""Adaptive loss weights that balance the terms of a PINN loss.

Both methods set ``λ_k = (Σ_j s_j) / s_k`` from a per-term statistic ``s_k`` and smooth it
with a moving average ``λ ← m λ + (1 − m) λ̂`` (weights start at 1):

* **grad_norm** — ``s_k = ‖∇_θ L_k‖``: every weighted term pulls the parameters equally hard
  (Wang, Teng & Perdikaris 2021; Wang et al. 2023, "An expert's guide to training PINNs",
  the jaxpi default).
* **ntk** — ``s_k = tr(K_kk)/n_k = mean_j ‖∇_θ r_j‖²``, the mean diagonal of the neural
  tangent kernel block of term ``k``: equalises the convergence rates of the terms under
  gradient flow (Wang, Yu & Perdikaris, J. Comput. Phys. 449, 2022). Estimated exactly on a
  small random subset of points, one backward pass per point.
"""
from __future__ import annotations

import torch


def balanced(stats: dict[str, float]) -> dict[str, float]:
    """``λ_k = Σ_j s_j / s_k``; a term with ``s_k = 0`` (nothing to balance) keeps weight 1."""
    total = sum(stats.values())
    return {k: total / s if s > 0 else 1.0 for k, s in stats.items()}


def grad_norms(terms: dict[str, torch.Tensor], params: list[torch.Tensor]) -> dict[str, float]:
    """``‖∇_θ L_k‖₂`` per term (the graphs are kept for the optimiser's backward pass)."""
    out = {}
    for k, v in terms.items():
        grads = torch.autograd.grad(v, params, retain_graph=True, allow_unused=True)
        out[k] = float(torch.sqrt(sum(g.pow(2).sum() for g in grads if g is not None)))
    return out


def ntk_traces(residuals: dict[str, torch.Tensor], params: list[torch.Tensor]) -> dict[str, float]:
    """``mean_j ‖∇_θ r_j‖²`` per term from per-point residuals ``r`` of shape ``(n,)``."""
    out = {}
    for k, r in residuals.items():
        acc = 0.0
        for j in range(r.shape[0]):
            grads = torch.autograd.grad(r[j], params, retain_graph=True, allow_unused=True)
            acc += float(sum(g.pow(2).sum() for g in grads if g is not None))
        out[k] = acc / r.shape[0]
    return out


class MovingWeights:
    """Exponential moving average of balancing weights, ``λ ← m λ + (1 − m) λ̂``."""

    def __init__(self, momentum: float):
        if not 0 <= momentum < 1:
            raise ValueError(f"balance_momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self.weights: dict[str, float] = {}

    def update(self, target: dict[str, float]) -> dict[str, float]:
        m = self.momentum
        self.weights = {k: m * self.weights.get(k, 1.0) + (1 - m) * v for k, v in target.items()}
        return self.weights
