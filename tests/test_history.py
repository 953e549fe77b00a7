"""The live curves' history: every update replaces the page's copy of the rows, never appends.

A served page's copy of a streamed (appended) curve was seen to double or drop rows under load,
with nothing to mend it; an update that carries the whole state mends any earlier one."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent, ColumnsStreamedEvent, ModelChangedEvent
from bokeh.models import ColumnDataSource

from widgets.history import History


def test_every_row_is_kept_and_the_rows_shown_are_thinned_evenly_to_the_newest():
    h = History(["step", "loss"], kept=1000, shown=11)
    h.append([{"step": s, "loss": 1.0 / (s + 1)} for s in range(5)])
    assert h.pipe.data["step"].tolist() == [0, 1, 2, 3, 4]  # few rows: all shown
    h.append([{"step": s, "loss": 1.0 / (s + 1), "extra": 7} for s in range(5, 101)])
    assert len(h) == 101 and h.data["step"].tolist() == list(range(101))
    shown = h.pipe.data["step"].to_numpy()
    assert len(shown) == 11 and shown[0] == 0 and shown[-1] == 100
    assert np.all(np.diff(shown) == 10)  # evenly spaced
    h.append([{"step": 101}])  # a missing column is NaN
    assert np.isnan(h.data["loss"].iloc[-1]) and h.pipe.data["step"].iloc[-1] == 101


def test_the_oldest_rows_go_first_past_the_bound():
    h = History(["step"], kept=50, shown=10)
    h.append([{"step": s} for s in range(120)])
    assert h.data["step"].tolist() == list(range(70, 120))


def test_shown_needs_two_rows():
    with pytest.raises(ValueError, match="shown"):
        History(["step"], shown=1)


def test_an_update_replaces_the_plot_data_in_the_document():
    """What reaches a page: each update changes the curve's data source whole (a
    ColumnDataChanged or a new ``data``), never by a ColumnsStreamed patch."""
    h = History(["step", "loss"])
    pane = pn.pane.HoloViews(hv.DynamicMap(lambda data: hv.Curve(data, "step", "loss"), streams=[h.pipe]))
    doc = Document()
    root = pane.get_root(doc)
    doc.add_root(root)
    events = []
    doc.on_change(events.append)
    for k in range(3):
        h.append([{"step": 2 * k, "loss": 1.0}, {"step": 2 * k + 1, "loss": 0.5}])
    sources = [m for m in root.select({"type": ColumnDataSource}) if "loss" in m.data]
    assert len(sources) == 1 and list(sources[0].data["step"]) == [0, 1, 2, 3, 4, 5]
    assert not [e for e in events if isinstance(e, ColumnsStreamedEvent)]
    data_events = [e for e in events if isinstance(e, (ColumnDataChangedEvent, ModelChangedEvent))
                   and getattr(e, "model", None) is sources[0]]
    assert len(data_events) == 3  # one per update
