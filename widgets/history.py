"""A run's logged rows behind a live curve, sent to the page whole at every update.

Why not ``hv.streams.Buffer``: it appends rows to the browser's copy with Bokeh's
``ColumnsStreamed`` patches, and in a served lab under load the page's copy went out of step
with the server's: a patch raced the plot's first serialisation, so rows were doubled (7 or 8
rows shown for 6 logged, most runs) or a later patch was lost (4 shown for 6, one run in five),
and nothing ever corrected it. Each update here replaces the plot's data, so it carries the
whole state and any earlier update that went astray is mended by the next. The rows sent are
thinned to at most ``shown`` (a plot is a few hundred pixels wide), which bounds what one update
costs however long the run; :attr:`History.data` keeps every row.
"""
from __future__ import annotations

from collections.abc import Sequence

import holoviews as hv
import numpy as np
import pandas as pd

ROWS_KEPT = 50_000  # rows kept per run (the oldest go first)
ROWS_SHOWN = 2_000  # rows sent to the page per update, evenly spaced, the newest always among them


class History:
    """Logged rows with fixed ``columns``; :attr:`pipe` feeds a ``hv.DynamicMap``."""

    def __init__(self, columns: Sequence[str], kept: int = ROWS_KEPT, shown: int = ROWS_SHOWN):
        if shown < 2:
            raise ValueError(f"shown (rows sent per update) must be at least 2, got {shown}")
        self.columns, self.kept, self.shown = list(columns), kept, shown
        self._values = np.empty((0, len(self.columns)))
        self.pipe = hv.streams.Pipe(data=self._frame(self._values))

    @property
    def data(self) -> pd.DataFrame:
        """Every row kept, in the order logged."""
        return self._frame(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def append(self, rows: Sequence[dict]) -> None:
        """Add rows (missing columns are NaN, extra keys ignored) and redraw."""
        if not rows:
            return
        new = pd.DataFrame(list(rows)).reindex(columns=self.columns).to_numpy(dtype=float)
        self._values = np.concatenate([self._values, new])[-self.kept:]
        self.pipe.send(self._frame(self._thinned()))

    def _thinned(self) -> np.ndarray:
        n = len(self._values)
        if n <= self.shown:
            return self._values
        return self._values[np.unique(np.linspace(0, n - 1, self.shown).round().astype(int))]

    def _frame(self, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, columns=self.columns)
