"""Disk cache of generated datasets: ``.npz`` arrays + JSON metadata with provenance and checksums.

An entry ``<key>.npz`` (read with ``allow_pickle=False``) sits beside ``<key>.json``, which
records the dataset kind, every generating parameter, the array shapes and dtypes, the
SHA-256 of each array's bytes, the device that solved it, the torch version and the creation
date. The key hashes the kind and parameters, so a changed parameter is a different entry. On load, a missing,
truncated, tampered or mismatching entry (JSON, zip, shapes, checksums or parameters) is
*regenerated*, never used; writes go to temporary files that are moved into place
atomically, data first, so a crash leaves no entry that passes the checks.

Generation is resumable: each finished chunk of ``solver_batch`` samples is saved in
``<key>.parts/`` with the generator's state after it (:mod:`lab.data.parts`), so a closed app,
a killed job or a Stop loses at most the chunk in progress, and the next call continues from
there to the same arrays; the folder is removed once the entry is stored.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock, Timeout

from lab.atomic import remove_orphans, write_atomic
from lab.data.datasets import DatasetSpec
from lab.device import describe

#: bump when the generators change their output for unchanged parameters
FORMAT_VERSION = 1


def cache_dir() -> Path:
    """``$SCIML_LAB_CACHE/datasets`` (default ``~/.cache/sciml-lab/datasets``)."""
    root = os.environ.get("SCIML_LAB_CACHE") or Path.home() / ".cache" / "sciml-lab"
    return Path(root) / "datasets"


def key_for(spec: DatasetSpec) -> str:
    ident = {"dataset": spec.key, "params": spec.to_dict(), "version": FORMAT_VERSION}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
    return f"{spec.key}-{digest[:24]}"


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def load(spec: DatasetSpec, directory: Path | None = None) -> dict[str, np.ndarray] | None:
    """The cached arrays of ``spec``, or ``None`` when absent or failing any check."""
    d = Path(directory) if directory else cache_dir()
    key = key_for(spec)
    try:
        meta = json.loads((d / f"{key}.json").read_text())
        if meta["dataset"] != spec.key or meta["params"] != json.loads(json.dumps(spec.to_dict())):
            return None
        with np.load(d / f"{key}.npz", allow_pickle=False) as z:
            data = {k: z[k] for k in spec.fields}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
        return None  # absent, truncated or tampered: the caller regenerates
    for k, arr in data.items():
        info = meta["arrays"].get(k, {})
        if list(arr.shape) != info.get("shape") or str(arr.dtype) != info.get("dtype") \
                or sha256(arr) != info.get("sha256"):
            return None
    return data


def store(spec: DatasetSpec, data: dict[str, np.ndarray], directory: Path | None = None,
          device: str | None = None) -> Path:
    d = Path(directory) if directory else cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    key = key_for(spec)
    meta = {"dataset": spec.key, "params": spec.to_dict(), "version": FORMAT_VERSION,
            "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype), "sha256": sha256(v)}
                       for k, v in data.items()},
            "device": device, "torch": torch.__version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_atomic(d / f"{key}.npz", lambda f: np.savez(f, **data))
    write_atomic(d / f"{key}.json", lambda f: f.write(json.dumps(meta, indent=2).encode()))
    return d / f"{key}.npz"


def load_or_generate(spec: DatasetSpec, *, max_gb: float = 2.0, device=None, directory: Path | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Cached arrays, or generate (after the size check against ``max_gb``), store and return them.

    Generating resumes from and saves to ``<key>.parts/``; ``progress(done, total)`` follows
    it in samples (see :meth:`DatasetSpec.generate`) and is not called on a cache hit. Two
    processes asking for one dataset: one generates, the other waits (following the first
    one's chunks through ``progress`` every second) and reads the stored entry.
    """
    d = Path(directory) if directory else cache_dir()
    data = load(spec, d)
    if data is not None:
        return data
    spec.check_size(max_gb)
    d.mkdir(parents=True, exist_ok=True)
    key = key_for(spec)
    parts_dir = d / f"{key}.parts"

    def waiting() -> None:  # another process generates it: follow its finished chunks
        if progress is not None:
            chunks = len(list(parts_dir.glob("part-*.npz")))
            progress(min(chunks * spec.solver_batch, spec.n_samples), spec.n_samples)

    with _generating(d / f"{key}.lock", waiting):
        data = load(spec, d)  # another process may have made it while this one waited
        if data is not None:
            return data
        for name in (f"{key}.npz", f"{key}.json"):
            remove_orphans(d, name)
        if parts_dir.is_dir():
            remove_orphans(parts_dir)
        data = spec.generate(device=device, progress=progress, parts_dir=parts_dir)
        store(spec, data, d, describe(torch.device(device or "cpu")))
        if parts_dir.exists():
            shutil.rmtree(parts_dir)
    return data


@contextmanager
def _generating(path: Path, waiting: Callable[[], None], poll_s: float = 1.0):
    """Hold the OS file lock ``path`` of one dataset, so one process generates it and the others
    wait and reuse it; ``waiting()`` is called every ``poll_s`` while another holds it (a Stop
    raised from it ends the wait)."""
    lock = FileLock(path)
    while True:
        try:
            lock.acquire(timeout=poll_s)
            break
        except Timeout:
            waiting()
    try:
        yield
    finally:
        lock.release()
