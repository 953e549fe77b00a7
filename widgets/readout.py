"""A labelled value that changes while a run trains, redrawn without laying out the page again.

Panel's ``StaticText`` is drawn by Bokeh's ``Div``, whose every text change recomputes the layout
of the whole page: measured in Chromium while a run trained, that took 36 % of the page's main
thread at about two changes a second. Panel's ``HTML`` only replaces its own content."""
from __future__ import annotations

import html

import panel as pn
import param


class Readout(pn.viewable.Viewer):
    """``label: value`` in one line; ``value`` is set as the run goes."""

    label = param.String(default="")
    value = param.String(default="")

    def __init__(self, **params):
        css_classes = params.pop("css_classes", [])
        super().__init__(**params)
        self._pane = pn.pane.HTML(self._html(), css_classes=css_classes, margin=(5, 10))
        self.param.watch(lambda _event: setattr(self._pane, "object", self._html()), ["label", "value"])

    def _html(self) -> str:
        return f"<b>{html.escape(self.label)}</b>: {html.escape(self.value)}"

    def __panel__(self):
        return self._pane
