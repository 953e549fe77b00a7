"""One evaluation's fields on a tensor-product grid, with the metadata every export carries."""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FieldSet:
    """``fields[name]`` has shape ``[len(grid[a]) for a in axes]`` (+ ``(len(outputs),)`` for a
    system); ``attrs`` are flat JSON-able values (problem, parameters, step, error, provenance)."""

    axes: tuple[str, ...]
    grid: dict[str, np.ndarray]
    fields: dict[str, np.ndarray]
    outputs: tuple[str, ...] = ("u",)
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        shape = tuple(len(self.grid[a]) for a in self.axes)
        for name, f in self.fields.items():
            want = shape + ((len(self.outputs),) if len(self.outputs) > 1 else ())
            if np.shape(f) != want:
                raise ValueError(f"field {name!r} has shape {np.shape(f)}, but the grid "
                                 f"{dict(zip(self.axes, shape))} with outputs {self.outputs} needs {want}")

    @property
    def time_axis(self) -> str | None:
        return "t" if "t" in self.axes else None

    @property
    def spatial_axes(self) -> tuple[str, ...]:
        return tuple(a for a in self.axes if a != "t")


def field_set(problem, snapshot, **provenance) -> FieldSet:
    """The fields of a :class:`lab.training.events.Snapshot` (or anything with ``grid``,
    ``fields``, ``step`` and ``rel_l2``) of ``problem``, stamped with ``provenance``
    (run name, device, ...) and the time of export."""
    axes = tuple(a for a in problem.axes if a in snapshot.grid)
    attrs = {"problem": problem.key, "title": problem.title,
             "parameters": json.dumps(problem.config(), default=str),
             "step": int(snapshot.step),
             **({"rel_l2": float(snapshot.rel_l2)} if snapshot.rel_l2 is not None else {}),
             "exported": datetime.datetime.now().isoformat(timespec="seconds"),
             **{k: v if isinstance(v, (int, float, str)) else json.dumps(v, default=str)
                for k, v in provenance.items()}}
    fields = {k: np.asarray(v, dtype=np.float64) for k, v in snapshot.fields.items()}
    return FieldSet(axes, {a: np.asarray(snapshot.grid[a], dtype=np.float64) for a in axes}, fields,
                    tuple(problem.outputs), attrs)
