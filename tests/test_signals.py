"""Signals on ``sciml-lab train``, in a real process: SIGINT and SIGTERM checkpoint the run and
mark it stopped (continuable, also before any checkpoint was due) with a 128+signal exit and a
line naming the run and how to continue; a run killed with SIGKILL lists as interrupted."""
from __future__ import annotations

import json
import signal

import pytest

from lab.cli import main
from lab.training.checkpoint import load_checkpoint
from lab.training.runs import list_runs
from training_process import ENDLESS, start_training, wait_for_rows


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
    assert row["status"] == "interrupted" and "ended before its first checkpoint" in row["note"]
