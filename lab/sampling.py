"""The one collocation sampler: uniform points in an axis-aligned box.

Randomness is always passed in as a ``torch.Generator`` (drawn on the CPU, then moved) so a
seed reproduces the same points on every device.
"""
from __future__ import annotations

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
