"""Background threads that are stopped and joined before the interpreter finalizes.

Training, previews and diagnostics run torch in daemon threads (they must not keep a program
alive on their own). A daemon thread still inside a torch call when Python finalizes is ended
by ``pthread_exit`` as soon as torch re-takes the GIL; the unwind through torch's C++ frames
calls ``std::terminate``, so the process aborts ("terminate called without an active
exception", exit status 134) after everything else succeeded. Threads registered here are
asked to stop and then joined by an exit hook, which runs while the interpreter is still
intact, so a program with work in flight exits cleanly instead.

The hook is ``threading``'s own exit hook where there is one: it runs before
``concurrent.futures`` refuses new work at exit (``atexit`` runs after that), so work in flight
that uses a thread pool (the Darcy solver does) still finishes rather than failing.

A training in a worker process (:mod:`lab.training.process`) registers the thread that relays its
events, with its Stop: at exit the worker is told to stop, checkpoints, and is waited for.
"""
from __future__ import annotations

import atexit
import concurrent.futures.thread  # noqa: F401  (its exit hook must be registered before ours)
import inspect
import threading
import weakref
from collections.abc import Callable

_lock = threading.Lock()
#: live-or-recent thread -> reference to its stop callable; neither is kept alive by the registry
#: (a strong ``trainer.stop`` would hold the trainer, its model and its thread forever)
_workers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def finish_at_exit(thread: threading.Thread, stop: Callable[[], None] | None = None) -> threading.Thread:
    """Have ``thread`` joined at interpreter exit, after calling ``stop`` (if given) to cut it short.

    ``stop`` should make the thread return soon (e.g. ``Trainer.stop``, ``Timer.cancel``);
    without it the thread's current work is waited for. Returns ``thread``.
    """
    ref = weakref.WeakMethod(stop) if inspect.ismethod(stop) else (lambda: stop)
    with _lock:
        _workers[thread] = ref
    return thread


def finish_all() -> None:
    """Stop every registered live thread, then join them (repeated for threads they start)."""
    while True:
        with _lock:
            live = [(t, ref()) for t, ref in _workers.items() if t.is_alive()]
        live = [(t, stop) for t, stop in live if t is not threading.current_thread()]
        if not live:
            return
        for _, stop in live:  # all asked first, so they wind down side by side
            if stop is not None:
                stop()
        for t, _ in live:
            t.join()


# exit hooks run last-registered first, so ours runs before the thread pools' shutdown
getattr(threading, "_register_atexit", atexit.register)(finish_all)
