"""Messages to the user: one alert for every view, where the user looks, gone once untrue.

A :class:`Message` is hidden while it has nothing to say. Three places use it: a settings form
shows a refused value right under its field (:mod:`widgets.forms`); a view shows what went
wrong inside it (a diagnostic that cannot be computed); and the app shows what concerns the
whole session (a run that failed, a run that cannot be opened) in a ``floating`` message pinned
to the window's corner, so it stays in sight however far the sidebar or the page is scrolled.
Whoever shows a message clears it when it stops being true (a successful retry, another
problem chosen).
"""
from __future__ import annotations

import panel as pn

#: pinned to the bottom right of the window, above the page (what notifications do)
FLOATING = {"position": "fixed", "right": "24px", "bottom": "24px", "z-index": "1000",
            "box-shadow": "0 4px 16px rgba(0, 0, 0, 0.25)"}


class Message(pn.pane.Alert):
    """An alert that is visible exactly while it holds a message."""

    def __init__(self, alert_type: str = "danger", floating: bool = False, **params):
        if floating:
            params = {"width": 440, "styles": FLOATING, **params}
        else:
            params.setdefault("sizing_mode", "stretch_width")
        super().__init__("", alert_type=alert_type, visible=False, **params)

    @property
    def message(self) -> str:
        """What is shown ('' while hidden)."""
        return self.object if self.visible else ""

    def show(self, message: str) -> None:
        self.param.update(object=message, visible=True)

    def clear(self) -> None:
        self.param.update(object="", visible=False)
