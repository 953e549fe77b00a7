"""An operator-learning problem on a dataset from outside the lab (PDEBench, The Well).

The file's layout, grid, channels and periodicity are read from its metadata
(:func:`lab.io.external.inspect`); the trajectories are streamed by index ranges
(:class:`lab.io.external.Trajectories`). The first ``n_train`` trajectories train, the next
``n_val`` validate. Every operator model, the operator task and its views (rollout error per
step, the trivial predictor, spectra on periodic grids) then work as on the lab's own data.
"""
from __future__ import annotations

import param
import torch

from lab.config import ConfigError, label
from lab.io.external import Layout, Trajectories, inspect
from lab.limits import Need
from lab.problems import register
from lab.problems.operators import RolloutProblem


@register
class ExternalOperator(RolloutProblem):
    """Trajectories from an HDF5 file in PDEBench's or The Well's layout, advanced frame by frame."""

    key = "external_operator"
    title = "External dataset (PDEBench / The Well HDF5)"
    latex = r"\mathcal{G}: u(\cdot, t_{k-h+1..k}) \mapsto u(\cdot, t_{k+1})\ \text{on a dataset read from a file}"
    description = ("Train an operator on your own trajectories or a benchmark's: an HDF5 file in "
                   "PDEBench's layout (tensor, x-coordinate, t-coordinate, or per-sample groups) or "
                   "The Well's (t0/t1/t2_fields, dimensions, boundary_conditions).")
    source = ("Takamoto et al., PDEBench, NeurIPS Datasets & Benchmarks 2022; Ohana et al., "
              "The Well, NeurIPS Datasets & Benchmarks 2024")
    axes = ("x",)
    periodic = ("x",)

    path = param.String("", label="Data file (HDF5)", doc="Path of an HDF5 file in PDEBench's or The Well's layout")

    @param.depends("path", watch=True, on_init=True)
    def _read_layout(self):
        """Axes, grid and channels follow the file (its metadata only)."""
        self._layout = None
        if not self.path.strip():
            return
        try:
            layout = inspect(self.path)
        except ValueError as err:
            raise ConfigError("path", str(err)) from None
        self._layout = layout
        self.axes, self.periodic = layout.axes, layout.periodic
        self.outputs = layout.channels

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            raise ConfigError("path", f"{label(self.param['path'])}: choose an HDF5 file in PDEBench's or The Well's layout")
        return self._layout

    @property
    def channels(self) -> tuple[int, int]:  # type: ignore[override]
        n = len(self.layout.channels)
        return (n, n)

    @property
    def shape(self):
        return tuple(self.layout.shape)

    def bounds(self):
        return self.layout.bounds() if self._layout is not None else {"x": (0.0, 1.0)}

    def grid(self, shape=None):
        return dict(self.layout.coords) if shape is None else super().grid(shape)

    def arrays(self, device=None, progress=None):
        """All trajectories, lazily (:class:`Trajectories`, sliced as an array): the catalogue's
        preview reads the first few, nothing else is read."""
        return {"trajectories": Trajectories(self.layout, 0, self.layout.n, dtype=None)}

    @property
    def record_dt(self) -> float:
        """Time between frames (the file's first step)."""
        return float(self.layout.t[1] - self.layout.t[0])

    def datasets(self, splits=("train", "val"), *, device=None, dtype=torch.float32, progress=None):
        """Lazy :class:`Trajectories` per split: nothing is read until a batch is drawn."""
        layout = self.layout
        if self.n_train + self.n_val > layout.n:
            raise ConfigError("n_train", f"{label(self.param['n_train'])} + {label(self.param['n_val'])} = "
                                         f"{self.n_train + self.n_val} exceeds the {layout.n} trajectories of "
                                         f"{layout.name}")
        need = self.history + self.rollout_steps
        if layout.times < need:
            raise ConfigError("history", f"the file's trajectories have {layout.times} frames but "
                                         f"history + rollout steps = {need}")
        parts = {"train": (0, self.n_train), "val": (self.n_train, self.n_train + self.n_val)}
        bad = [s for s in splits if s not in parts]
        if bad:
            raise ValueError(f"split must be 'train' or 'val', got {bad[0]!r}")
        return {s: {"trajectories": Trajectories(layout, *parts[s], device=device, dtype=dtype)} for s in splits}

    def memory_needs(self):
        # one batch of windows in memory at a time; the file stays on disk
        if self._layout is None:
            return []
        frame = 4 * len(self.layout.channels) * int(torch.tensor(self.layout.shape).prod())
        return [Need(frame * self.batch_size * (self.history + self.rollout_steps), "a batch of the dataset",
                     self, ("batch_size",))]
