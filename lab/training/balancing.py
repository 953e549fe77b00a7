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

Statistics and weights stay on the device, and an update overwrites the weights in place:
the steps between updates read them there without waiting for the host, so they can be
replays of a captured CUDA graph (:mod:`lab.training.graphs`).
"""
from __future__ import annotations

import torch


def balanced(stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``λ_k = Σ_j s_j / s_k``; a term with ``s_k = 0`` (nothing to balance) keeps weight 1."""
    total = sum(stats.values())
    return {k: torch.where(s > 0, total / s, 1.0) for k, s in stats.items()}


def _grad_sq(out: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """``‖∇_θ out‖²``, keeping the graph for the optimiser's backward pass."""
    grads = torch.autograd.grad(out, params, retain_graph=True, allow_unused=True)
    return sum(g.pow(2).sum() for g in grads if g is not None)


def grad_norms(terms: dict[str, torch.Tensor], params: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """``‖∇_θ L_k‖₂`` per term."""
    return {k: torch.sqrt(_grad_sq(v, params)) for k, v in terms.items()}


def ntk_traces(residuals: dict[str, torch.Tensor], params: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """``mean_j ‖∇_θ r_j‖²`` per term from per-point residuals ``r`` of shape ``(n,)``."""
    return {k: sum(_grad_sq(r[j], params) for j in range(len(r))) / len(r) for k, r in residuals.items()}


class MovingWeights:
    """Exponential moving average of balancing weights, ``λ ← m λ + (1 − m) λ̂``.

    One 0-d tensor per term, of ``dtype`` on ``device``, updated only in place so that a captured
    step reads the newest value. It is created at 1 when the term is first read, which must be
    an eager step (the Trainer's first steps are): created during a capture, every replay would
    reset it to 1.
    """

    def __init__(self, momentum: float, *, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float64):
        if not 0 <= momentum < 1:
            raise ValueError(f"balance_momentum must be in [0, 1), got {momentum}")
        self.momentum, self.device, self.dtype = momentum, device, dtype
        self.weights: dict[str, torch.Tensor] = {}

    def current(self, keys) -> dict[str, torch.Tensor]:
        """The weight tensor of each term in ``keys``."""
        for k in keys:
            if k not in self.weights:
                self.weights[k] = torch.ones((), dtype=self.dtype, device=self.device)
        return {k: self.weights[k] for k in keys}

    def update(self, target: dict[str, torch.Tensor]) -> None:
        m = self.momentum
        for k, w in self.current(target).items():
            w.copy_(m * w + (1 - m) * target[k])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.weights)

    def load_state_dict(self, weights: dict[str, torch.Tensor]) -> None:
        """Copy saved weights in, into the tensors a captured step reads."""
        for k, w in self.current(weights).items():
            w.copy_(weights[k])
