"""Causal training for time-dependent PINNs (Wang, Sankaran & Perdikaris, CMAME 421, 2024).

A plain PINN minimises the residual at all times at once and can fit late times before the
early ones it depends on — and converge to a wrong solution (e.g. Allen–Cahn, convection
with β = 30). Causal training splits ``[t0, T]`` into ``M`` chunks with mean squared residual
``L_i`` and minimises ``(1/M) Σ_i w_i L_i`` with

    w_i = exp(−ε Σ_{k<i} L_k)      (stop-gradient: the weights are constants to the optimiser)

so chunk ``i`` only counts once every earlier chunk is resolved. The causality parameter
``ε`` climbs a schedule ``ε_1 < ε_2 < …``: it moves to the next value once
``min_i w_i > δ``, i.e. the whole interval is resolved at the current tolerance.

The schedule, the current level and the last weights live on the device and the level
advances there, so a step never waits for the host and can be captured as a CUDA graph
(:mod:`lab.training.graphs`); values are read back only for diagnostics (:meth:`state`).
"""
from __future__ import annotations

import torch


def causal_weights(chunk_losses: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    """``w_i = exp(−ε Σ_{k<i} L_k)`` from the chunk losses, detached."""
    L = chunk_losses.detach()
    return torch.exp(-eps * (torch.cumsum(L, 0) - L))


def check_schedule(eps: list[float]) -> None:
    """``causal_eps`` must be a non-empty, strictly increasing list of positive numbers."""
    if not eps or any(e <= 0 for e in eps) or any(b <= a for a, b in zip(eps, eps[1:])):
        raise ValueError(f"causal_eps must be a non-empty increasing list of positive numbers, got {eps}")


def _rounded_down(x: float, dtype: torch.dtype) -> torch.Tensor:
    """The largest ``dtype`` number ``<= x``: for any ``dtype`` value ``w``, ``w > it`` exactly
    when ``w > x``, so a comparison on the device decides as one in double precision would."""
    t = torch.tensor(x, dtype=dtype)
    return torch.nextafter(t, torch.tensor(-torch.inf, dtype=dtype)) if float(t) > x else t


class CausalWeighting:
    """Time-chunked causal residual loss with an ``ε`` schedule advanced by ``min w > δ``.

    ``dtype`` and ``device`` are those of the residuals: the state is kept there.
    """

    def __init__(self, t_bounds: tuple[float, float], chunks: int, eps: list[float], delta: float, *,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64):
        if not 0 < delta < 1:
            raise ValueError(f"causal_delta must be in the open interval (0, 1), got {delta}")
        if chunks < 1:
            raise ValueError(f"causal_chunks must be >= 1, got {chunks}")
        check_schedule(eps)
        self.t0, self.t1 = t_bounds
        self.chunks, self.schedule = chunks, list(eps)
        self._eps = torch.tensor(self.schedule, dtype=dtype, device=device)
        self._delta = _rounded_down(delta, dtype).to(device)
        self.level = torch.zeros((), dtype=torch.int64, device=device)
        # the weights and chunk losses of the last step, updated in place so that they stay
        # the ones a graph replay writes; before any step, L = 0 and w = 1
        self.weights = torch.ones(chunks, dtype=dtype, device=device)
        self.chunk_losses = torch.zeros(chunks, dtype=dtype, device=device)

    @property
    def eps(self) -> float:
        """The current ``ε`` (reads the level back from the device)."""
        return self.schedule[int(self.level)]

    def chunk_mean(self, sq: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean of the squared residuals ``sq`` per time chunk (an empty chunk counts 0)."""
        idx = ((t - self.t0) / (self.t1 - self.t0) * self.chunks).long().clamp_(0, self.chunks - 1)
        sums = torch.zeros(self.chunks, dtype=sq.dtype, device=sq.device).index_add(0, idx, sq)
        # counted with index_add, not bincount, which on CUDA reads the largest index back;
        # in the residuals' dtype, exact up to 2^24 points per chunk in single precision
        counts = torch.zeros_like(sums).index_add_(0, idx, torch.ones_like(sq))
        return sums / counts.clamp_(min=1)

    def loss(self, sq: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Causally weighted loss ``(1/M) Σ w_i L_i``; advances ``ε`` when ``min w > δ``."""
        L = self.chunk_mean(sq, t)
        # index_select, not [self.level]: indexing with a 0-d tensor reads the index back
        w = causal_weights(L, self._eps.index_select(0, self.level.view(1)))
        self.weights.copy_(w)
        self.chunk_losses.copy_(L.detach())
        self.level += (w.min() > self._delta) & (self.level < len(self.schedule) - 1)
        return (w * L).mean()

    def state(self) -> dict:
        """JSON-able diagnostics: the weights and chunk losses just used, and ε (reads back)."""
        return {"causal_eps": self.eps, "causal_level": int(self.level),
                "causal_weights": self.weights.tolist(),
                "causal_chunk_losses": self.chunk_losses.tolist()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The ε level and the last weights and chunk losses, as device tensors."""
        return {"level": self.level, "weights": self.weights, "chunk_losses": self.chunk_losses}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy saved state in place, where a captured step reads it."""
        for name, t in self.state_dict().items():
            t.copy_(state[name])
