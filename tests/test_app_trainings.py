"""The app's training mechanics, headless: runs in worker processes, the server's limits and
the queue a session waits in (what the periodic callback does is done by calling ``drain``)."""
from __future__ import annotations

import panel as pn
import pytest
import torch

from lab.training.process import ProcessTrainer
from lab.training.runs import list_runs
from lab.training.slots import TrainingSlots
from widgets.app import LabApp
from widgets.diagnostics import DiagnosticsView

TINY = dict(steps=30, n_pde=200, n_ic=64, n_bc=64, log_every=5, snapshot_every=10)
GUARD_S = 300  # hang guard only


def _app(runs, **params) -> LabApp:
    app = LabApp(runs_dir=str(runs), **params)
    pn.panel(app).get_root()
    return app


def _finish(app) -> None:
    app.training.trainer.join(GUARD_S)
    app.training.drain()


def test_a_served_session_trains_in_a_worker_process_and_its_views_follow(tmp_path):
    app = _app(tmp_path / "runs", training_mode="process")
    diagnostics = DiagnosticsView()
    diagnostics.attach(app.training)  # as the app's Diagnostics tab follows live runs
    app.train_config.param.update(**TINY)
    app.train()
    assert isinstance(app.training.trainer, ProcessTrainer)
    _finish(app)
    view = app.training
    assert not view.running and view.step == 30 and "completed" in view.status.object
    assert view.loss_history is not None and len(view.loss_history) == 6  # every logged step
    assert view.fields.snapshot is not None and view.fields.snapshot.step == 30
    (run,) = list_runs(str(tmp_path / "runs"))
    assert run["status"] == "completed" and run["step"] == 30
    live = diagnostics._live_source  # the worker's weights at the last snapshot, here
    assert live is not None and live.snapshot.step == 30
    assert all(torch.equal(v, app.training.trainer.model.state_dict()[k]) for k, v in live.model.state_dict().items())
    assert app.train_button.disabled is False and app.stop_button.disabled is True


def test_a_session_over_the_server_limit_waits_in_the_queue_then_trains_when_a_slot_frees(tmp_path):
    slots = TrainingSlots(per_server=1)
    first, second = _app(tmp_path / "a", slots=slots), _app(tmp_path / "b", slots=slots)
    first.train_config.param.update(**{**TINY, "steps": 10**6})
    first.train()
    second.train_config.param.update(**TINY)
    second.train()
    assert second.training.queued and "**Queued**, 0 ahead" in second.training.status.object
    assert second.train_button.disabled and not second.stop_button.disabled and second.pause_button.disabled
    second.training.drain()  # still queued: nothing starts
    assert second.training.queued and not list_runs(str(tmp_path / "b"))
    first.stop()
    _finish(first)
    assert slots.running == 0 or second.training.ticket.granted
    second.training.drain()  # the periodic callback sees the grant and starts the run
    assert not second.training.queued
    _finish(second)
    assert second.training.step == 30 and list_runs(str(tmp_path / "b"))[0]["status"] == "completed"
    assert slots.running == 0 and slots.waiting == 0


def test_stop_on_a_queued_run_removes_it_and_trains_nothing(tmp_path):
    slots = TrainingSlots(per_server=1)
    first, second = _app(tmp_path / "a", slots=slots), _app(tmp_path / "b", slots=slots)
    first.train_config.param.update(**{**TINY, "steps": 10**6})
    first.train()
    second.train()
    assert second.training.queued and slots.waiting == 1
    second.stop()
    assert not second.training.running and not second.training.queued and slots.waiting == 0
    assert "Removed from the queue" in second.training.status.object
    assert not second.train_button.disabled and second.stop_button.disabled
    first.stop()
    _finish(first)
    assert not list_runs(str(tmp_path / "b")) and slots.running == 0


def test_after_stop_train_is_enabled_at_once_and_the_run_asked_for_starts_when_the_stopped_one_has_saved(tmp_path):
    """A busy server's worker may need seconds to checkpoint after Stop; the page does not wait
    for it. One run at a time still: the next one starts after the stopped one's end."""
    app = _app(tmp_path / "runs")
    app.train_config.param.update(**{**TINY, "steps": 10**6})
    app.train()
    first = app.training.trainer
    app.stop()
    assert app.training.stopping and "saving its checkpoint" in app.training.status.object
    assert not app.train_button.disabled and app.stop_button.disabled and app.pause_button.disabled
    app.train_config.param.update(**TINY)
    app.train()  # while the first one may still be saving
    assert app.training.trainer is first and app.train_button.disabled and not app.stop_button.disabled
    first.join(GUARD_S)
    app.training.drain()  # the first one's end: the second one starts
    second = app.training.trainer
    assert second is not first and app.training.running and not app.training.stopping
    _finish(app)
    runs = {r["status"]: r for r in list_runs(str(tmp_path / "runs"))}
    assert set(runs) == {"stopped", "completed"} and runs["completed"]["step"] == 30
    assert runs["stopped"]["step"] == first.step


def test_stop_while_the_next_run_waits_cancels_it(tmp_path):
    app = _app(tmp_path / "runs")
    app.train_config.param.update(**{**TINY, "steps": 10**6})
    app.train()
    first = app.training.trainer
    app.stop()
    app.train()
    app.stop()  # the waiting run, not the stopped one
    assert not app.train_button.disabled and app.stop_button.disabled
    first.join(GUARD_S)
    app.training.drain()
    assert app.training.trainer is first and not app.training.running
    assert [r["status"] for r in list_runs(str(tmp_path / "runs"))] == ["stopped"]


@pytest.mark.bad_input("validation")
@pytest.mark.parametrize("flag", ["--max-trainings", "--max-trainings-per-session"])
def test_serve_refuses_a_training_limit_below_one_in_one_line(flag, capsys):
    from widgets.cli import main

    assert main(["serve", "--no-show", flag, "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml-lab: error:") and flag in err and "at least 1, not 0" in err
    assert "\n" not in err
