"""Handing work back to a served page from a worker thread, also once the page has closed.

A preview or a diagnostic computes on its own thread and draws on the page's document through
Bokeh's thread-safe ``add_next_tick_callback``. A page closed meanwhile has a destroyed
document, whose callbacks are gone: the call raised ``AttributeError`` in the worker, and the
server's log showed a traceback for a page nobody looks at any more.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


def call_on_page(doc, fn: Callable[[], None]) -> bool:
    """Run ``fn`` on the served document ``doc``'s next tick; ``False`` when the page has closed
    (nothing is left to draw on)."""
    if doc.session_context is None:  # destroy() clears it first
        return False
    try:
        doc.add_next_tick_callback(fn)
    except (AttributeError, RuntimeError):  # destroyed between the check and the call
        _unpatch(doc)
        return False
    return True


def _unpatch(doc) -> None:
    """Take ``doc`` off Bokeh's stack of patched current documents.

    The failed call raised inside Bokeh's ``patch_curdoc``, which does not unpatch on an
    exception: the closed page's document stayed ``curdoc()`` for the whole server process, and
    once collected every later ``curdoc()`` raised "Patched curdoc has been previously destroyed"."""
    from bokeh.io import doc as bokeh_doc

    stack = getattr(bokeh_doc, "_PATCHED_CURDOCS", None)
    if stack is not None:
        stack[:] = [ref for ref in stack if ref() is not doc]


@contextlib.contextmanager
def batched_changes(doc) -> Iterator[None]:
    """Changes in the block walk ``doc``'s models at most once, and only if one of them changed
    which models the document holds.

    Bokeh walks every model of a document whenever a property that refers to models changes;
    ``doc.models.freeze()`` defers those walks to one at its exit, but makes that one whether or
    not anything changed. A served lab's document holds every tab, so that walk was half of the
    server's time while sessions trained (measured with py-spy, two sessions on two cores: the
    server's event loop was never idle and clicks waited a minute and more); a drain that only
    streams rows (Bokeh's hinted events) changes no reference and now walks nothing. A root
    added or removed in the block counts as a change.

    Models created inside the block join the document only at its exit, so a block that
    creates plots must not be batched (see ``TrainingView.drain``). ``doc`` ``None`` (no
    served page): nothing to batch. It counts on Bokeh's freeze count (``_freeze_count``, Bokeh
    3.x); without it, it falls back to Bokeh's own freeze."""
    if doc is None:
        yield
        return
    models, roots = doc.models, list(doc.roots)
    if not hasattr(models, "_freeze_count"):  # the freeze count is Bokeh 3's; elsewhere, its freeze
        with models.freeze():
            yield
        return
    dirty = []
    models._push_freeze()
    models.invalidate = lambda: dirty.append(True)  # frozen, invalidate would only be skipped
    try:
        yield
    finally:
        del models.invalidate  # back to the class's method
        models._freeze_count -= 1
        if models._freeze_count == 0 and (dirty or list(doc.roots) != roots):
            models.recompute()
