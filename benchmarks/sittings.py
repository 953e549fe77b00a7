"""Training runs longer than one sitting: each named run carries on from call to call.

A GPU session's calls are capped (minutes each), while the published settings train for
longer. With a folder that survives between calls, ``<name>.run`` there names the run to
continue (:meth:`lab.training.Trainer.resume`: the schedule and Adam's moments resume, so the
sittings add up to the uninterrupted run), and a time limit stops a sitting with a checkpoint.
"""
from __future__ import annotations

import threading
from pathlib import Path

from lab.training.runs import find_run


def carried_run(folder: Path, name: str) -> tuple[str | None, bool]:
    """``(run to continue or None, whether that run has finished its plan)`` for ``name``."""
    marker = folder / f"{name}.run"
    run = marker.read_text().strip() if marker.is_file() else None
    done = bool(run) and find_run(run, folder).summary().get("status") == "completed"
    return run, done


def remember_run(folder: Path, name: str, run_dir: str | Path) -> None:
    """Name the run of ``name`` for the next sitting."""
    (folder / f"{name}.run").write_text(Path(run_dir).name)


def run_within(trainer, seconds: float | None):
    """``trainer.run()``, stopped (and so checkpointed) after ``seconds`` if given."""
    guard = threading.Timer(seconds, trainer.stop) if seconds else None
    if guard:
        guard.start()
    try:
        return trainer.run()
    finally:
        if guard:
            guard.cancel()
