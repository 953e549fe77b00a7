"""The one collocation sampler: uniform points in an axis-aligned box; and the coarse
subgrid on which residual maps and previews are drawn (used by training and the UI alike).

Randomness is always passed in as a ``torch.Generator`` (drawn on the CPU, then moved) so a
seed reproduces the same points on every device.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def sample_box(bounds: dict[str, tuple[float, float]], n: int, generator: torch.Generator, *,
               device=None, dtype=torch.float32, fix: dict[str, float] | None = None) -> torch.Tensor:
    """``n`` uniform points in the box, columns in ``bounds`` order; ``fix`` pins axes to a value."""
    if n < 1:
        raise ValueError(f"number of points must be at least 1, got {n}")
    lo = torch.tensor([b[0] for b in bounds.values()], dtype=torch.float64)
    hi = torch.tensor([b[1] for b in bounds.values()], dtype=torch.float64)
    u = torch.rand(n, len(bounds), generator=generator, dtype=torch.float64)
    pts = lo + (hi - lo) * u
    for ax, value in (fix or {}).items():
        pts[:, list(bounds).index(ax)] = value
    return pts.to(device=device, dtype=dtype)


def coarse_grid(grid: dict[str, np.ndarray], max_points: int) -> dict[str, np.ndarray]:
    """Every ``s``-th point per axis (``s >= 2``), ``s`` the smallest keeping ``<= max_points``:
    a subgrid of a reference grid on which residual maps and previews stay cheap."""
    n = math.prod(len(g) for g in grid.values())
    s = max(2, math.ceil((n / max_points) ** (1 / len(grid))))
    while math.prod(len(g[::s]) for g in grid.values()) > max_points:
        s += 1
    return {a: g[::s] for a, g in grid.items()}
