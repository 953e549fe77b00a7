"""A disk that refuses writes mid-run (full, read-only, removed) never loses what was saved and
never leaves a run without an outcome: the last checkpoint stays intact and loadable, training
goes on, the run ends with a message naming what happened, and it continues from its checkpoint."""
import errno

import pytest
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.training import runs as runs_module
from lab.training.events import Done, Failed
from lab.training.runs import find_run

SMALL = dict(steps=30, lr=1e-2, log_every=5, snapshot_every=1000, checkpoint_every=10, n_pde=64, n_ic=16,
             n_bc=16, dtype="float64")


def _trainer(tmp_path, **kw):
    events = []
    tr = Trainer(get_problem("heat"), get_model_config("mlp", width=8, depth=2),
                 TrainConfig(**{**SMALL, **kw}), runs_dir=tmp_path, sinks=[events.append])
    return tr, events


def _refuse_after(monkeypatch, target, name, calls_ok, err):
    """``target.name`` works ``calls_ok`` times, then raises ``err`` every time."""
    real, count = getattr(target, name), {"n": 0}

    def flaky(*a, **k):
        count["n"] += 1
        if count["n"] > calls_ok:
            raise err
        return real(*a, **k)
    monkeypatch.setattr(target, name, flaky)
    return count


@pytest.mark.fault("disk")
def test_a_full_disk_after_the_first_checkpoint_keeps_it_and_the_run_can_continue(tmp_path, monkeypatch):
    tr, events = _trainer(tmp_path)
    _refuse_after(monkeypatch, runs_module, "save_checkpoint", 1, OSError(errno.ENOSPC, "No space left on device"))
    result = tr.run()
    assert result.status == "failed" and tr.step == 30               # trained on to the end
    assert "could not be saved" in result.message and "step 10" in result.message
    assert isinstance(events[-1], Failed) and events[-1].checkpoint_step == 10
    rec = find_run(result.run_dir)
    assert rec.summary()["status"] == "failed"
    assert rec.read_checkpoint().metadata["step"] == 10             # intact and checksummed
    monkeypatch.undo()                                               # space freed
    again = Trainer.resume(result.run_dir).run()
    assert again.status == "completed" and again.step == 30


@pytest.mark.fault("disk")
def test_a_disk_that_frees_up_loses_nothing(tmp_path, monkeypatch):
    """One refused checkpoint in the middle: the next one succeeds and the run completes."""
    tr, _ = _trainer(tmp_path)
    real, calls = runs_module.save_checkpoint, {"n": 0}

    def once(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*a, **k)
    monkeypatch.setattr(runs_module, "save_checkpoint", once)
    result = tr.run()
    assert result.status == "completed" and result.step == 30
    assert find_run(result.run_dir).read_checkpoint().metadata["step"] == 30


@pytest.mark.fault("disk")
def test_metrics_the_disk_refuses_are_dropped_and_training_goes_on(tmp_path, monkeypatch):
    tr, events = _trainer(tmp_path)
    _refuse_after(monkeypatch, runs_module.RunRecord, "log", 2, OSError(errno.EIO, "Input/output error"))
    result = tr.run()
    assert result.status == "completed" and result.step == 30 and isinstance(events[-1], Done)


@pytest.mark.fault("disk")
def test_a_folder_that_becomes_read_only_still_gives_the_run_an_outcome(tmp_path, monkeypatch):
    """Checkpoints and the summary both refused: the run still ends with a Failed event and a result."""
    tr, events = _trainer(tmp_path)
    err = PermissionError(errno.EROFS, "Read-only file system")
    _refuse_after(monkeypatch, runs_module, "save_checkpoint", 1, err)
    _refuse_after(monkeypatch, runs_module, "write_json_atomic", 2, err)  # config, summary; then the end
    result = tr.run()
    assert result.status == "failed" and "Read-only file system" in result.message
    assert isinstance(events[-1], Failed) and events[-1].checkpoint_step == 10


@pytest.mark.bad_input("disk")
def test_a_runs_folder_that_cannot_be_made_is_refused_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    tr = Trainer(get_problem("heat"), get_model_config("mlp", width=8, depth=2), TrainConfig(**SMALL),
                 runs_dir=blocker / "runs")
    result = tr.run()
    assert result.status == "failed" and result.message.startswith("cannot create the run's folder in")
    assert "Traceback" not in result.message


@pytest.mark.fault("signals")
def test_an_interrupt_inside_run_leaves_the_run_continuable_from_its_checkpoint(tmp_path):
    """A KeyboardInterrupt (a notebook's Interrupt) escaping run() gives the run's lock back and marks
    it stopped at its last checkpoint, so the same process can continue it."""
    tr, _ = _trainer(tmp_path)

    def interrupt(ev):
        if getattr(ev, "step", 0) == 15 and type(ev).__name__ == "Step":
            raise KeyboardInterrupt
    tr.subscribe(interrupt)
    with pytest.raises(KeyboardInterrupt):
        tr.run()
    rec = find_run(tr._record.path)
    assert rec.summary()["status"] == "stopped" and rec.summary()["step"] == 10
    again = Trainer.resume(str(rec.path))
    assert again.step == 10 and again.run().status == "completed"
