"""Causal training for time-dependent PINNs (Wang, Sankaran & Perdikaris, CMAME 421, 2024).

A plain PINN minimises the residual at all times at once and can fit late times before the
early ones it depends on — and converge to a wrong solution (e.g. Allen–Cahn, convection
with β = 30). Causal training splits ``[t0, T]`` into ``M`` chunks with mean squared residual
``L_i`` and minimises ``(1/M) Σ_i w_i L_i`` with

    w_i = exp(−ε Σ_{k<i} L_k)      (stop-gradient: the weights are constants to the optimiser)

so chunk ``i`` only counts once every earlier chunk is resolved. The causality parameter
``ε`` climbs a schedule ``ε_1 < ε_2 < …``: it moves to the next value once
``min_i w_i > δ``, i.e. the whole interval is resolved at the current tolerance.
"""
from __future__ import annotations

import torch


def causal_weights(chunk_losses: torch.Tensor, eps: float) -> torch.Tensor:
    """``w_i = exp(−ε Σ_{k<i} L_k)`` from the chunk losses, detached."""
    L = chunk_losses.detach()
    return torch.exp(-eps * (torch.cumsum(L, 0) - L))


def check_schedule(eps: list[float]) -> None:
    """``causal_eps`` must be a non-empty, strictly increasing list of positive numbers."""
    if not eps or any(e <= 0 for e in eps) or any(b <= a for a, b in zip(eps, eps[1:])):
        raise ValueError(f"causal_eps must be a non-empty increasing list of positive numbers, got {eps}")


class CausalWeighting:
    """Time-chunked causal residual loss with an ``ε`` schedule advanced by ``min w > δ``."""

    def __init__(self, t_bounds: tuple[float, float], chunks: int, eps: list[float], delta: float):
        if not 0 < delta < 1:
            raise ValueError(f"causal_delta must be in the open interval (0, 1), got {delta}")
        if chunks < 1:
            raise ValueError(f"causal_chunks must be >= 1, got {chunks}")
        check_schedule(eps)
        self.t0, self.t1 = t_bounds
        self.chunks, self.schedule, self.delta = chunks, list(eps), delta
        self.level = 0
        self.weights: torch.Tensor | None = None
        self.chunk_losses: torch.Tensor | None = None

    @property
    def eps(self) -> float:
        return self.schedule[self.level]

    def chunk_mean(self, sq: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean of the squared residuals ``sq`` per time chunk (an empty chunk counts 0)."""
        idx = ((t - self.t0) / (self.t1 - self.t0) * self.chunks).long().clamp_(0, self.chunks - 1)
        sums = torch.zeros(self.chunks, dtype=sq.dtype, device=sq.device).index_add(0, idx, sq)
        counts = torch.bincount(idx, minlength=self.chunks).clamp_(min=1)
        return sums / counts

    def loss(self, sq: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Causally weighted loss ``(1/M) Σ w_i L_i``; advances ``ε`` when ``min w > δ``."""
        L = self.chunk_mean(sq, t)
        w = causal_weights(L, self.eps)
        self.weights, self.chunk_losses = w, L.detach()
        if self.level + 1 < len(self.schedule) and float(w.min()) > self.delta:
            self.level += 1
        return (w * L).mean()

    def state(self) -> dict:
        """JSON-able diagnostics: the weights and chunk losses just used, and ε."""
        if self.weights is None:
            return {"causal_eps": self.eps}
        return {"causal_eps": self.eps, "causal_level": self.level,
                "causal_weights": self.weights.tolist(),
                "causal_chunk_losses": self.chunk_losses.tolist()}
