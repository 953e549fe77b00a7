"""Atomic file writes: a file is either its previous version (or absent) or whole, never half.

Checkpoints, run records and cached data are read back by later sessions; a crash, a kill or
a full disk in the middle of a write must not leave a file that looks valid. The content is
written to a temporary file beside the target, flushed to disk, then moved into place with
``os.replace`` (atomic on one file system).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary binary file beside ``path``, then move it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
