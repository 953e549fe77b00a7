"""Atomic file writes: a file is either its previous version (or absent) or whole, never half.

Checkpoints, run records and cached data are read back by later sessions; a crash, a kill or
a full disk in the middle of a write must not leave a file that looks valid. The content is
written to a temporary file beside the target, flushed to disk, then moved into place with
``os.replace`` (atomic on one file system). ``os.replace`` replaces a symbolic link at the
target rather than writing through it, so a planted link cannot redirect a write.

A process killed mid-write leaves its temporary file (``.<name>.<random>.tmp``) behind;
:func:`remove_orphans` deletes them where the caller holds the lock that guards the writes.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

SUFFIX = ".tmp"


def write_atomic(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary binary file beside ``path``, then move it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove_orphans(directory: str | Path, name: str = "") -> list[Path]:
    """Delete the temporary files that killed writes of ``directory/name`` (of any file when
    ``name`` is empty) left behind; returns them.

    Only call it while holding the lock of every writer to those files: a live writer's
    temporary file looks the same as an orphan.
    """
    pattern = f".{name}.*{SUFFIX}" if name else f"*{SUFFIX}"
    removed = [p for p in Path(directory).glob(pattern) if p.is_file() and not p.is_symlink()]
    for p in removed:
        p.unlink(missing_ok=True)
    return removed
