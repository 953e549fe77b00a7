"""Signals on ``sciml-lab train``, in a real process: SIGINT and SIGTERM checkpoint the run and
mark it stopped (continuable, also before any checkpoint was due) with a 128+signal exit and a
line naming the run and how to continue; a run killed with SIGKILL lists as interrupted."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.cli import main
from lab.training.checkpoint import load_checkpoint
from lab.training.runs import list_runs

ROOT = Path(__file__).resolve().parents[1]
#: a run far too long to finish, logging every step, with no checkpoint due before the signal
ENDLESS = ["--problem", "heat", "--steps", "1000000", "--quiet", "--set", "n_pde=32", "n_ic=8", "n_bc=8",
           "model.width=4", "model.depth=1", "log_every=1", "snapshot_every=1000000",
           "checkpoint_every=1000000", "device=cpu"]


def start_training(runs_dir: Path, *args: str) -> subprocess.Popen:
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


@pytest.mark.fault("signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_checkpoints_the_run_marks_it_stopped_and_it_continues(tmp_path, capsys, sig):
    runs_dir = tmp_path / "runs"
    proc = start_training(runs_dir, *ENDLESS)
    run = wait_for_rows(proc, None, runs_dir).parent
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 128 + sig, err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["step"] >= 1
    _, meta = load_checkpoint(run / "checkpoint.safetensors")
    assert meta["step"] == summary["step"] == json.loads(out.splitlines()[-1])["step"]
    [line] = err.strip().splitlines()[-1:]
    assert run.name in line and f"--resume {run.name}" in line and sig.name in line
    [row] = list_runs(runs_dir)
    assert row["status"] == "stopped"
    assert main(["train", "--resume", run.name, "--steps", "2", "--quiet", "--runs-dir", str(runs_dir)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["step"] == summary["step"] + 2


@pytest.mark.fault("signals")
def test_a_run_killed_with_sigkill_lists_as_interrupted_not_running(tmp_path):
    runs_dir = tmp_path / "runs"
    proc = start_training(runs_dir, *ENDLESS)
    wait_for_rows(proc, None, runs_dir)
    [row] = list_runs(runs_dir)
    assert row["status"] == "running"  # its process holds the run's lock
    proc.kill()
    proc.communicate(timeout=600)
    [row] = list_runs(runs_dir)
    assert row["status"] == "interrupted" and "continue it" in row["note"]
