"""The live curves' history: rows kept in order and bounded, and each update sends the page
only the new rows, whose copy then equals the server's."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
from bokeh.document import Document
from bokeh.models import ColumnDataSource
from page_support import page_rows, record_patches

from widgets.history import History


def test_rows_are_kept_in_order_with_missing_columns_as_nan_and_the_oldest_dropped_past_the_bound():
    h = History(["step", "loss"], kept=50)
    h.append([{"step": s, "loss": 1.0 / (s + 1), "extra": 7} for s in range(40)])
    h.append([{"step": 40}])
    assert len(h) == 41 and list(h.data.columns) == ["step", "loss"]
    assert np.isnan(h.data["loss"].iloc[-1]) and h.data["step"].tolist() == list(range(41))
    h.append([{"step": s, "loss": 1.0} for s in range(41, 120)])
    assert h.data["step"].tolist() == list(range(70, 120))
    h.append([])  # nothing to add: nothing sent
    assert len(h) == 50


def test_an_update_sends_only_its_new_rows_and_the_page_copy_equals_the_server():
    h = History(["step", "loss"])
    pane = pn.pane.HoloViews(hv.DynamicMap(lambda data: hv.Curve(data, "step", "loss"), streams=[h.stream]))
    doc, sent = Document(), []
    doc.add_root(pane.get_root(doc))
    record_patches(doc, sent)
    h.append([{"step": s, "loss": 1.0} for s in range(2000)])
    first = len(sent)
    h.append([{"step": 2000, "loss": 0.5}])
    late = sum(size for _content, size in sent[first:])
    h2 = History(["step", "loss"])
    pane2 = pn.pane.HoloViews(hv.DynamicMap(lambda data: hv.Curve(data, "step", "loss"), streams=[h2.stream]))
    doc2, sent2 = Document(), []
    doc2.add_root(pane2.get_root(doc2))
    record_patches(doc2, sent2)
    h2.append([{"step": 0, "loss": 1.0}])
    early = sum(size for _content, size in sent2)
    assert late < 1.5 * early  # an update's cost does not grow with the rows already shown
    (source,) = [m for m in doc.select({"type": ColumnDataSource}) if "loss" in m.data]
    assert page_rows(sent, {source.id}) == {source.id: 2001} and len(source.data["step"]) == 2001
