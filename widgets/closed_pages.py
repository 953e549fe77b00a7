"""A browser tab that closes while the server talks to it is not an error of the lab's.

Tornado logs a traceback when the server writes to a websocket whose tab has gone ("Task
exception was never retrieved … WebSocketClosedError"), and Bokeh logs two when a message of a
tab arrives, or the tab closes, after Bokeh has let its session go: its connection asserts that
it still has one (bokeh/bokeh#14720 shows the same trace). Nothing is lost — the session is
gone — but a served lab's log full of tracebacks hides the ones that matter, so the server
leaves these out (:func:`quiet_closed_pages`) and logs everything else as before.
"""
from __future__ import annotations

import logging

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

#: where tornado and Bokeh log those tracebacks
LOGGERS = ("asyncio", "tornado.application", "bokeh.server.protocol_handler")


def _raised_by_bokehs_connection(exc: BaseException) -> bool:
    tb, last = exc.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename.replace("\\", "/").endswith(
        "bokeh/server/connection.py")


class ClosedPage(logging.Filter):
    """Drops the records of a closed tab: a write to its closed websocket, or Bokeh's assertion
    that the connection of a tab it has let go still has a session."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (WebSocketClosedError, StreamClosedError)):
            return False
        return not (isinstance(exc, AssertionError) and _raised_by_bokehs_connection(exc))


def quiet_closed_pages() -> None:
    """Leave closed tabs' tracebacks out of this process's log (once, however often called)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ClosedPage) for f in logger.filters):
            logger.addFilter(ClosedPage())
