"""Irregularly sampled series: which points of a uniformly sampled trajectory are observed.

The benchmark protocol of Kidger et al. (2020) and Oh, Lim & Kim (2024): drop a random
fraction (30, 50, 70 %) of the time points of each series; the first point is always kept
(a rollout starts from an observation).
"""
from __future__ import annotations

import torch


def check_missing(missing: float) -> float:
    if not 0.0 <= missing < 1.0:
        raise ValueError(f"missing fraction must be in [0, 1), got {missing}")
    return float(missing)


def observed_mask(n: int, missing: float, generator: torch.Generator) -> torch.Tensor:
    """Boolean ``(n,)``: ``round(missing * (n - 1))`` of the points after the first dropped at random."""
    check_missing(missing)
    if n < 2:
        raise ValueError(f"a series needs at least 2 points, got {n}")
    drop = round(missing * (n - 1))
    mask = torch.ones(n, dtype=torch.bool)
    mask[1 + torch.randperm(n - 1, generator=generator)[:drop]] = False
    return mask
