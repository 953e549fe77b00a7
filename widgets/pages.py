"""Handing work back to a served page from a worker thread, also once the page has closed.

A preview or a diagnostic computes on its own thread and draws on the page's document through
Bokeh's thread-safe ``add_next_tick_callback``. A page closed meanwhile has a destroyed
document, whose callbacks are gone: the call raised ``AttributeError`` in the worker, and the
server's log showed a traceback for a page nobody looks at any more.
"""
from __future__ import annotations

from collections.abc import Callable


def call_on_page(doc, fn: Callable[[], None]) -> bool:
    """Run ``fn`` on the served document ``doc``'s next tick; ``False`` when the page has closed
    (nothing is left to draw on)."""
    if doc.session_context is None:  # destroy() clears it first
        return False
    try:
        doc.add_next_tick_callback(fn)
    except (AttributeError, RuntimeError):  # destroyed between the check and the call
        return False
    return True
