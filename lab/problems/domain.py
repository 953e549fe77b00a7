"""Where a problem lives: its axes, their bounds, which are periodic, and its evaluation grids.

One :class:`Domain` serves both kinds of problem. A pointwise problem
(:class:`lab.problems.base.PointwiseProblem`) samples collocation points in it and evaluates
its reference on :meth:`Domain.grid`; an operator problem
(:class:`lab.problems.operators.OperatorProblem`) lays its dataset's fields on the same grid.
``geometry`` is ``None`` for an axis-aligned box (every problem of the catalogue today); a
problem on another shape puts the object that samples and bounds that shape there, and the
box (``bounds``) is then its bounding box.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the name of the time axis: a problem with one lists it last
TIME = "t"


@dataclass(frozen=True)
class Domain:
    """Axes (time last when there is one), their ``(low, high)`` bounds and periodic axes."""

    axes: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    periodic: tuple[str, ...] = ()
    #: ``None`` for a box; otherwise the shape inside the bounding box ``bounds``
    geometry: Any = None
    grid_shape: tuple[int, ...] = field(default=())

    def __post_init__(self):
        if tuple(self.bounds) != tuple(self.axes):
            raise ValueError(f"bounds must give each axis {self.axes} in order, got {tuple(self.bounds)}")
        for ax, (lo, hi) in self.bounds.items():
            if not lo < hi:
                raise ValueError(f"axis {ax!r} needs low < high, got ({lo}, {hi})")
        unknown = [a for a in self.periodic if a not in self.axes]
        if unknown:
            raise ValueError(f"periodic axes {unknown} are not among the axes {self.axes}")

    @property
    def time(self) -> str | None:
        """The time axis' name, or ``None`` for a steady problem."""
        return TIME if TIME in self.axes else None

    @property
    def time_index(self) -> int | None:
        """Column of the time axis in a point array, or ``None``."""
        return self.axes.index(TIME) if TIME in self.axes else None

    @property
    def spatial_axes(self) -> tuple[str, ...]:
        return tuple(a for a in self.axes if a != TIME)

    def boundary_axes(self) -> tuple[str, ...]:
        """Spatial axes that are not periodic: those with boundary faces to sample."""
        return tuple(a for a in self.spatial_axes if a not in self.periodic)

    def grid(self, shape: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
        """Tensor-product grid, ``shape`` (default :attr:`grid_shape`) points per axis; end
        points included, except a periodic axis' upper end (the same point as its lower)."""
        shape = tuple(shape or self.grid_shape)
        if len(shape) != len(self.axes):
            raise ValueError(f"grid shape {shape} must have one size per axis {self.axes}")
        out = {}
        for n, (ax, (lo, hi)) in zip(shape, self.bounds.items()):
            if n < 2:
                raise ValueError(f"grid size along {ax!r} must be at least 2, got {n}")
            out[ax] = np.linspace(lo, hi, n, endpoint=ax not in self.periodic)
        return out
