"""A ``sciml-lab train`` in a process of its own, for the tests that signal, kill or race it."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: a run far too long to finish, logging every step, with no checkpoint due before the signal
ENDLESS = ["--problem", "heat", "--steps", "1000000", "--quiet", "--set", "n_pde=32", "n_ic=8", "n_bc=8",
           "model.width=4", "model.depth=1", "log_every=1", "snapshot_every=1000000",
           "checkpoint_every=1000000", "device=cpu"]


def start_training(runs_dir: Path, *args: str) -> subprocess.Popen:
    """``python -m lab.cli train --runs-dir runs_dir *args`` on this checkout, output captured."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lab.cli", "train", "--runs-dir", str(runs_dir), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_rows(proc: subprocess.Popen, metrics: Path | None, runs_dir: Path, more_than: int = 0) -> Path:
    """The run's ``metrics.jsonl`` once it has more than ``more_than`` lines (bounded poll)."""
    for _ in range(3000):  # 0.1 s apart: a bound, not a time limit on the training
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.communicate()}")
        found = metrics or next(iter(runs_dir.glob("*/metrics.jsonl")), None)
        if found is not None and found.exists() and len(found.read_bytes().splitlines()) > more_than:
            return found
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("no metrics row appeared")
