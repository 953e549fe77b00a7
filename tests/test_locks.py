"""One writer per run, one generator per dataset: a run still training (in another process or
another app session) is not continued a second time, and two processes asking for the same
reference or dataset generate it once, the second waiting and reusing it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.cli import main
from lab.training.events import Step
from lab.training.runs import RunRecord, list_runs
from training_process import ROOT, start_training, wait_for_rows

TINY = dict(steps=4, n_pde=32, n_ic=8, n_bc=8, log_every=1, snapshot_every=1_000_000, device="cpu")


def _tiny_run(runs_dir: Path) -> Path:
    result = Trainer(get_problem("heat"), get_model_config("mlp", width=4, depth=1), TrainConfig(**TINY),
                     runs_dir=runs_dir).run()
    assert result.status == "completed"
    return Path(result.run_dir)


@pytest.mark.fault("locks")
def test_a_run_still_training_in_another_process_is_not_continued_a_second_time(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    run = _tiny_run(runs_dir)
    rows = len((run / "metrics.jsonl").read_bytes().splitlines())
    proc = start_training(runs_dir, "--resume", run.name, "--steps", "1000000", "--quiet")
    try:
        wait_for_rows(proc, run / "metrics.jsonl", runs_dir, more_than=rows)
        with pytest.raises(ValueError, match=f"run {run.name} is being trained"):
            Trainer.resume(run.name, steps=5, runs_dir=runs_dir)
        assert main(["train", "--resume", run.name, "--steps", "5", "--quiet", "--runs-dir", str(runs_dir)]) == 2
        assert f"run {run.name} is being trained" in capsys.readouterr().err
        assert list_runs(runs_dir)[0]["status"] == "running"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=600)
    assert proc.returncode == 128 + signal.SIGTERM
    steps = [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "total" in r]
    assert steps == list(range(1, steps[-1] + 1))  # one writer: no row twice


@pytest.mark.fault("locks")
def test_a_run_training_in_one_session_is_not_continued_from_another(tmp_path):
    runs_dir = tmp_path / "runs"
    run = _tiny_run(runs_dir)
    first = Trainer.resume(run.name, steps=1_000_000, runs_dir=runs_dir)
    going = []
    first.subscribe(lambda ev: going.append(ev) if isinstance(ev, Step) else None)
    first.start()
    try:
        for _ in range(3000):  # bounded wait for its first step
            if going or not first.is_running:
                break
            time.sleep(0.1)
        assert going
        with pytest.raises(ValueError, match=f"run {run.name} is being trained"):
            Trainer.resume(run.name, steps=5, runs_dir=runs_dir)
    finally:
        first.stop()
        first.join()
    assert first.result.status == "stopped"
    # the lock went with the first trainer: one more step now runs (the run keeps its long plan)
    after = Trainer.resume(run.name, steps=1, runs_dir=runs_dir).run()
    assert (after.status, after.step) == ("stopped", first.result.step + 1)


@pytest.mark.fault("locks")
def test_a_continuation_that_loses_the_race_for_the_lock_fails_and_leaves_the_run_alone(tmp_path):
    """Two sessions may both pass Continue's check; the one that does not get the lock writes nothing."""
    runs_dir = tmp_path / "runs"
    run = _tiny_run(runs_dir)
    late = Trainer.resume(run.name, steps=5, runs_dir=runs_dir)
    first = RunRecord(run)
    first.lock()  # the other session got there first
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    result = late.run()
    assert result.status == "failed" and f"run {run.name} is being trained" in result.message
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    first.finish(**json.loads(before["summary.json"]))


#: process A computes and, before storing, waits until process B has missed the cache (bounded)
TWO_ASKERS = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    role, marks = sys.argv[1], Path(sys.argv[2])

    def wait_for(name):
        for _ in range(3000):
            if (marks / name).exists():
                return
            time.sleep(0.05)
        raise SystemExit(f"{role}: {name} never came")

    def mark(name):
        (marks / name).write_text("")
    {body}
""")

REFERENCE = """
from lab.problems import cache

def compute():
    with open(marks / "computed", "a") as f:
        f.write(role + "\\n")
    mark("A computing")
    wait_for("B missed")
    return np.arange(6.0)

if role == "B":
    wait_for("A computing")
    load = cache.load
    def missing_then_mark(key):
        found = load(key)
        if found is None:
            mark("B missed")
        return found
    cache.load = missing_then_mark
arr = cache.cached("demo", {"a": 1}, {"x": np.linspace(0, 1, 6)}, compute)
np.save(marks / f"{role}.npy", arr)
"""

DATASET = """
from lab.data import cache
from lab.data.datasets import BurgersData

spec = BurgersData(n_samples=5, solve_resolution=64, resolution=32, solver_batch=2, t_end=0.2)
generate = BurgersData.generate
def counted(self, **kw):
    with open(marks / "computed", "a") as f:
        f.write(role + "\\n")
    mark("A computing")
    wait_for("B missed")
    return generate(self, **kw)
BurgersData.generate = counted

if role == "B":
    wait_for("A computing")
    load = cache.load
    def missing_then_mark(spec, d=None):
        found = load(spec, d)
        if found is None:
            mark("B missed")
        return found
    cache.load = missing_then_mark
data = cache.load_or_generate(spec, directory=marks / "datasets")
np.save(marks / f"{role}.npy", data["y"])
"""


@pytest.mark.fault("locks")
@pytest.mark.parametrize("body", [REFERENCE, DATASET], ids=["reference", "dataset"])
def test_two_processes_asking_for_the_same_data_generate_it_once_and_both_get_it(tmp_path, body):
    script = TWO_ASKERS.replace("{body}", body)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "SCIML_LAB_CACHE": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", script, role, str(tmp_path)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for role in "AB"]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert (tmp_path / "computed").read_text() == "A\n"
    assert np.array_equal(np.load(tmp_path / "A.npy"), np.load(tmp_path / "B.npy"))
    assert not list(tmp_path.glob("datasets/*.parts"))  # the finished dataset's parts are gone


@pytest.mark.fault("locks")
def test_temporary_files_of_a_killed_reference_write_are_removed_when_it_is_computed_again(tmp_path, monkeypatch):
    from lab.problems import cache

    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    grid = {"x": np.linspace(0, 1, 3)}
    key = cache.key_for("demo", {}, grid)
    cache.cache_dir().mkdir(parents=True)
    orphans = [cache.cache_dir() / f".{key}{suffix}.k1ll3d.tmp" for suffix in (".npz", ".json")]
    for p in orphans:
        p.write_bytes(b"half a file")
    other = cache.cache_dir() / ".other-key.npz.w0rk1ng.tmp"  # another key's write in progress
    other.write_bytes(b"being written")
    assert np.array_equal(cache.cached("demo", {}, grid, lambda: np.arange(3.0)), np.arange(3.0))
    assert not any(p.exists() for p in orphans) and other.exists()


@pytest.mark.fault("locks")
def test_waiting_for_a_dataset_another_process_generates_follows_it_and_can_be_stopped(tmp_path):
    from filelock import FileLock

    from lab.data import cache
    from lab.data.datasets import BurgersData

    spec = BurgersData(n_samples=5, solve_resolution=64, resolution=32, solver_batch=2, t_end=0.2)
    key, d = cache.key_for(spec), tmp_path / "datasets"
    parts = d / f"{key}.parts"
    parts.mkdir(parents=True)
    for i in range(2):  # the other process's chunks, being written
        (parts / f"part-{i}.npz").write_bytes(b"a chunk of the other process")
    other = FileLock(d / f"{key}.lock")
    other.acquire()  # the other process is generating

    class Stopped(Exception):
        pass

    seen = []

    def progress(done, total):  # the Trainer's Stop raises from its progress callback
        seen.append((done, total))
        raise Stopped
    with pytest.raises(Stopped):
        cache.load_or_generate(spec, directory=d, progress=progress)
    other.release()
    assert seen == [(4, 5)]
    assert {p.name: p.read_bytes() for p in parts.iterdir()} == {  # left to their owner
        f"part-{i}.npz": b"a chunk of the other process" for i in range(2)}
