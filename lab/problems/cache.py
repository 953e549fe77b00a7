"""On-disk cache of reference solutions, keyed by problem, parameters, grid and the versions
of the solvers that computed them (so a changed solver does not serve its old numbers).

Each entry is an ``.npz`` (loaded with ``allow_pickle=False``) plus a JSON sidecar with the
SHA-256 of the array bytes. A missing, partial or corrupt entry is recomputed, never used.
Writes go to a temporary file first and are moved into place atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from filelock import FileLock

from lab.atomic import remove_orphans, write_atomic


def cache_dir() -> Path:
    """``$SCIML_LAB_CACHE`` or ``~/.cache/sciml-lab``; the reference cache lives under it."""
    root = os.environ.get("SCIML_LAB_CACHE") or Path.home() / ".cache" / "sciml-lab"
    return Path(root) / "reference"


def key_for(problem: str, params: dict, grid: dict[str, np.ndarray],
            solvers: dict[str, str] | None = None) -> str:
    """``solvers``: ``{solver module: VERSION}`` (:func:`lab.solvers.versions`)."""
    h = hashlib.sha256()
    h.update(json.dumps({"problem": problem, "params": params, "solvers": solvers or {}},
                        sort_keys=True, default=str).encode())
    for name in sorted(grid):
        h.update(name.encode())
        h.update(np.ascontiguousarray(grid[name], dtype=np.float64).tobytes())
    return f"{problem}-{h.hexdigest()[:24]}"


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def load(key: str) -> np.ndarray | None:
    """The cached array, or ``None`` when absent or failing its checksum."""
    data, meta = cache_dir() / f"{key}.npz", cache_dir() / f"{key}.json"
    try:
        expected = json.loads(meta.read_text())["sha256"]
        with np.load(data, allow_pickle=False) as z:
            arr = z["reference"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # absent, truncated or tampered: the caller recomputes
    return arr if _digest(arr) == expected else None


def store(key: str, arr: np.ndarray) -> None:
    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    for suffix, write in ((".npz", lambda f: np.savez(f, reference=arr)),
                          (".json", lambda f: f.write(json.dumps({"sha256": _digest(arr)}).encode()))):
        write_atomic(d / f"{key}{suffix}", write)


def cached(problem: str, params: dict, grid: dict[str, np.ndarray],
           compute: Callable[[], np.ndarray], solvers: dict[str, str] | None = None) -> np.ndarray:
    """Return the cached reference or compute, store and return it.

    One computation per key at a time, across threads and processes (an OS file lock per key):
    a second caller (the app's catalogue preview and a diagnostics view, or two training jobs,
    asking for the same reference) waits for the first and reads its result.
    """
    key = key_for(problem, params, grid, solvers)
    arr = load(key)
    if arr is not None:
        return arr
    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    with FileLock(d / f"{key}.lock"):
        arr = load(key)
        if arr is None:
            for suffix in (".npz", ".json"):
                remove_orphans(d, f"{key}{suffix}")
            arr = np.asarray(compute())
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"the reference solver of {problem!r} blew up (non-finite values): it is "
                                 "unstable or under-resolved at these settings; raise the resolution or "
                                 "lower the time step")
            store(key, arr)
    return arr
