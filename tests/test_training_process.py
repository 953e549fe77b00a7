"""Trainings in worker processes (lab.training.process) and the limits on concurrent ones
(lab.training.slots): the same run as in a thread, immediate controls, nothing lost when the
worker or the server dies, and a queue that grants in order.

Every wait below is a hang guard (bounded loops), never a timing assertion.
"""
from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.training.events import Done, Failed, Snapshot, Started, Step
from lab.training.process import ProcessTrainer
from lab.training.runs import find_run
from lab.training.slots import TrainingSlots

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(steps=30, n_pde=128, n_ic=32, n_bc=32, log_every=5, snapshot_every=10,
            checkpoint_every=10, lr=1e-3)
GUARD_S = 300  # hang guard only


def _trainer(runs, **overrides) -> Trainer:
    return Trainer(get_problem("burgers"), get_model_config("mlp", width=8, depth=2),
                   TrainConfig(**{**TINY, **overrides}), runs_dir=str(runs))


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + GUARD_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_a_run_in_a_worker_process_emits_the_events_and_ends_with_the_weights_of_the_same_run_in_a_thread(tmp_path):
    events = []
    worker = ProcessTrainer(_trainer(tmp_path / "p"))
    worker.subscribe(events.append)
    worker.start()
    result = worker.join(GUARD_S)
    assert result is not None and result.status == "completed" and result.step == 30
    assert isinstance(events[0], Started) and isinstance(events[-1], Done)
    assert [e.step for e in events if isinstance(e, Step)] == list(range(5, 31, 5))
    assert [e.step for e in events if isinstance(e, Snapshot)] == [10, 20, 30]
    assert worker.step == 30 and not worker.is_running
    record = find_run(events[0].run_dir)  # the worker wrote the run folder as a thread does
    assert record.summary()["status"] == "completed"
    saved, meta = record.load_checkpoint()
    assert meta["step"] == 30

    threaded = _trainer(tmp_path / "t")
    assert threaded.run().status == "completed"
    for name, value in threaded.model.state_dict().items():  # one torch thread each: bit for bit
        assert torch.equal(worker.model.state_dict()[name], value), name
        assert torch.equal(saved[name], value), name


def test_pause_resume_and_stop_reach_the_worker_and_stop_checkpoints(tmp_path):
    events = []
    worker = ProcessTrainer(_trainer(tmp_path, steps=10**6, snapshot_every=10**6, checkpoint_every=10**6))
    worker.subscribe(events.append)
    worker.start()
    _wait(lambda: worker.step >= 10, "the first steps")
    # the lowest priority: a server (and a browser) on the same cores come first
    assert os.getpriority(os.PRIO_PROCESS, worker.pid) == 19
    worker.pause()
    assert worker.is_paused
    _wait(lambda: _settled(worker), "the pause to hold")
    held = worker.step
    time.sleep(0.5)
    assert worker.step == held  # paused: no step comes through
    worker.resume_training()
    _wait(lambda: worker.step >= held + 10, "steps after resuming")
    worker.stop()
    result = worker.join(GUARD_S)
    assert result.status == "stopped" and isinstance(events[-1], Done) and events[-1].reason == "stopped"
    record = find_run(events[0].run_dir)
    assert record.summary()["status"] == "stopped"
    assert record.load_checkpoint()[1]["step"] == result.step  # Stop saved the state it stopped at


def _settled(worker, quiet_s: float = 0.3) -> bool:
    """No step arrived for ``quiet_s`` (the worker has seen the pause)."""
    before = worker.step
    time.sleep(quiet_s)
    return worker.step == before


@pytest.mark.fault("concurrency")
def test_a_killed_worker_ends_the_run_as_interrupted_and_its_checkpoint_continues(tmp_path):
    events = []
    worker = ProcessTrainer(_trainer(tmp_path, steps=10**6, snapshot_every=10**6))
    worker.subscribe(events.append)
    worker.start()
    _wait(lambda: worker.step >= 25, "two checkpoints")
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(GUARD_S)
    assert not worker.is_running
    end = events[-1]
    assert isinstance(end, Failed) and "ended unexpectedly" in end.message and "signal 9" in end.message
    assert end.checkpoint_step is not None and end.checkpoint_step >= 10
    row = find_run(end.run_dir).row()
    assert row["status"] == "interrupted" and f"step {end.checkpoint_step}" in row["note"]
    resumed = Trainer.resume(end.run_dir, steps=5)  # nothing checkpointed was lost
    assert resumed.step == end.checkpoint_step
    result = resumed.run()  # 5 more steps of its million-step plan: still short of it, so "stopped"
    assert result.status == "stopped" and result.step == end.checkpoint_step + 5


SERVER = textwrap.dedent("""
    import os, signal, sys, time
    from lab import TrainConfig, Trainer, get_model_config, get_problem
    from lab.training.process import ProcessTrainer

    if __name__ == "__main__":
        worker = ProcessTrainer(Trainer(get_problem("burgers"), get_model_config("mlp", width=8, depth=2),
                                        TrainConfig(steps=10**6, n_pde=128, n_ic=32, n_bc=32, log_every=5,
                                                    snapshot_every=10**6, checkpoint_every=10**6),
                                        runs_dir=sys.argv[1]))
        worker.start()
        deadline = time.monotonic() + 300
        while worker.step < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        print(worker.pid, worker.run_dir, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)   # the server dies without a word
""")


@pytest.mark.fault("concurrency")
def test_a_worker_whose_server_is_killed_stops_and_saves_its_run(tmp_path):
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "runs")], capture_output=True,
                          text=True, timeout=GUARD_S, cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    pid, run_dir = proc.stdout.split()
    summary = Path(run_dir) / "summary.json"
    _wait(lambda: json.loads(summary.read_text())["status"] != "running", "the orphaned worker to stop")
    assert json.loads(summary.read_text())["status"] == "stopped"
    _wait(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid), "the worker to exit")


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"


def test_a_trainer_that_cannot_travel_is_refused_before_any_process_starts(tmp_path):
    trainer = _trainer(tmp_path)
    trainer.subscribe(print)  # listeners stay behind; this alone must not prevent sending
    trainer.problem.unpicklable = lambda: None  # noqa: E731  (a lambda cannot be pickled)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError), match="pickle"):
        ProcessTrainer(trainer)


@pytest.mark.bad_input("validation")
@pytest.mark.parametrize("threads", [0, True, 1.5])
def test_worker_threads_must_be_a_positive_whole_number(tmp_path, threads):
    with pytest.raises(ValueError, match="threads"):
        ProcessTrainer(_trainer(tmp_path), threads=threads)


# ---- limits and queue ----------------------------------------------------------------------
def test_the_server_limit_queues_requests_in_order_and_tells_each_how_many_are_ahead():
    slots = TrainingSlots(per_server=2, per_owner=1)
    a, b, c, d = (slots.request(owner) for owner in "abcd")
    assert a.granted and b.granted and c.queued and d.queued
    assert (c.ahead(), d.ahead()) == (0, 1) and not c.owner_full()
    a.release()
    assert c.granted and d.queued and d.ahead() == 0
    d.release()  # Stop on a queued run takes it out of the queue
    assert d.state == "released" and slots.waiting == 0
    b.release()
    c.release()
    c.release()  # releasing twice frees nothing twice
    assert slots.running == 0


def test_a_session_at_its_own_limit_waits_without_holding_up_other_sessions():
    slots = TrainingSlots(per_server=3, per_owner=1)
    first = slots.request("alice")
    second = slots.request("alice")
    other = slots.request("bob")
    assert first.granted and second.queued and second.owner_full() and other.granted
    first.release()
    assert second.granted and slots.running == 2


@pytest.mark.bad_input("validation")
@pytest.mark.parametrize("limits", [dict(per_server=0), dict(per_owner=0), dict(per_server=True),
                                    dict(per_server=2.0), dict(per_owner=-1)])
def test_limits_must_be_whole_numbers_of_at_least_one(limits):
    with pytest.raises(ValueError, match="at least 1"):
        TrainingSlots(**limits)
