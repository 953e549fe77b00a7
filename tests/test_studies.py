"""Studies: search spaces checked against the declarations, trials on a two-worker Dask
LocalCluster, a worker killed mid-trial and a driver stopped mid-study without losing a trial."""
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("distributed")

from lab.studies import StudySpec, connect, run_study, trials_table  # noqa: E402
from lab.models import get_model_config  # noqa: E402
from lab.problems import get_problem  # noqa: E402
from lab.studies.runner import open_study  # noqa: E402
from lab.studies.trial import objective_value  # noqa: E402
from lab.training.runs import RunRecord, list_runs  # noqa: E402

TINY = {"steps": 5, "n_pde": 64, "n_ic": 16, "n_bc": 16, "model.depth": 1, "device": "cpu",
        "log_every": 1, "snapshot_every": 5, "checkpoint_every": 2}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with connect(n_workers=2) as client:
        yield client


def test_a_local_cluster_keeps_its_info_lines_out_of_the_log(caplog):
    """Its INFO lines include a traceback at a normal teardown, which a served lab's log showed."""
    import logging

    caplog.set_level(logging.INFO)
    with connect(n_workers=1) as client:
        # each worker (a process of its own) leaves out the heartbeat a closing scheduler broke
        assert list(client.run(_drops_a_heartbeat_to_a_closed_scheduler).values()) == [True]
    assert not [r for r in caplog.records if r.name.startswith("distributed") and r.levelno < logging.WARNING]


def _drops_a_heartbeat_to_a_closed_scheduler() -> bool:
    import logging

    from distributed.comm.core import CommClosedError

    def record(exc):
        return logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1,
                                 "Failed to communicate with scheduler during heartbeat.", None,
                                 (type(exc), exc, None))

    logger = logging.getLogger("distributed.worker")
    return not logger.filter(record(CommClosedError("in <TCP (closed)>: Stream is closed"))) \
        and bool(logger.filter(record(OSError("a refused connection"))))


def runs(tmp_path):
    return tmp_path / "home" / "runs"


def states(study):
    return sorted(t.state.name for t in study.trials)


@pytest.mark.parametrize("spec, message", [
    ({"space": {}}, "search space is empty"),
    ({"space": {"model.widht": [8]}}, "unknown parameter 'model.widht'"),
    ({"space": {"problem.viscosity": [0.1]}}, "unknown parameter 'problem.viscosity'"),
    ({"space": {"lr": {"low": 1e-4, "high": 5.0}}}, r"search space lr: value 5.0 is not allowed \(declared from 1e-08 to 1\)"),
    ({"space": {"model.width": [8, 1]}}, "search space model.width: value 1 is not allowed"),
    ({"space": {"model.width": []}}, "model.width: the list of values is empty"),
    ({"space": {"lr": {"low": 1e-2, "high": 1e-3}}}, "low must be below high"),
    ({"space": {"lr": "bounds"}}, "a grid needs a list of values"),
    ({"space": {"lr": "bounds"}, "sampler": "annealing", "n_points": 2}, "sampler must be one of"),
    ({"space": {"lr": "bounds"}, "sampler": "tpe"}, "n_points"),
    ({"space": {"model.width": [8]}, "seeds": 0}, r"seeds \(runs per point\) must be an integer in \[1, 1000\]"),
    ({"space": {"model.width": [8]}, "fixed": {"model.width": 4}}, "both fixed and searched"),
    ({"space": {"model.width": [8]}, "objective": "time_to:-1"}, "needs an error > 0"),
    ({"space": {"model.width": [8]}, "objective": "accuracy"}, "study objective must be 'rel_l2', a logged metric"),
    ({"space": {"model.width": [8]}, "budget": 3}, r"unknown key\(s\) \['budget'\]"),
])
@pytest.mark.bad_input("study")
def test_a_bad_study_spec_is_refused_naming_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        StudySpec.from_dict(spec)


@pytest.mark.bad_input("study")
def test_an_unreachable_scheduler_is_refused_after_the_timeout():
    with pytest.raises(ValueError, match=r"no Dask scheduler answered at 'tcp://127.0.0.1:9' within 1 s"):
        with connect("tcp://127.0.0.1:9", timeout=1):
            pass


@pytest.mark.bad_input("study")
def test_a_study_spec_file_that_is_not_json_is_refused_by_the_cli(tmp_path, capsys):
    from lab.cli import main

    bad = tmp_path / "spec.json"
    bad.write_text("{'space': ")
    assert main(["study", "run", str(bad), "--runs-dir", str(tmp_path)]) == 2
    assert f"study spec '{bad}' could not be read" in capsys.readouterr().err


def test_declared_bounds_are_the_default_range_and_a_grid_spaces_them():
    spec = StudySpec(space={"lr": {"log": True, "num": 3}, "model.activation": "bounds"})
    lr, act = spec.dimensions
    assert lr.values == pytest.approx((1e-8, 1e-4, 1.0))
    assert act.values == tuple(type(get_model_config("mlp")).param.activation.objects)
    assert spec.n_trials == 3 * len(act.values)


def test_a_grid_study_trains_every_point_for_every_seed_and_a_rerun_adds_nothing(client, tmp_path):
    spec = StudySpec(space={"model.width": [4, 8]}, fixed=TINY, seeds=2)
    study = run_study(spec, runs_dir=runs(tmp_path), client=client)
    assert states(study) == ["COMPLETE"] * 4
    seen = set()
    for t in study.trials:
        rec = RunRecord(Path(t.user_attrs["run"]))
        cfg = rec.config()
        assert cfg["model"]["params"]["width"] == t.params["model.width"]
        assert cfg["train"]["seed"] == t.user_attrs["seed"]
        assert t.value == rec.summary()["rel_l2"]  # the default objective: final relative L2
        seen.add((t.params["model.width"], t.user_attrs["seed"]))
    assert seen == {(4, 0), (4, 1), (8, 0), (8, 1)}
    assert len(list_runs(runs(tmp_path))) == 4
    before = {t.number: (t.value, t.user_attrs["run"]) for t in study.trials}

    again = run_study(spec, runs_dir=runs(tmp_path), client=client)  # the driver restarted after it
    assert {t.number: (t.value, t.user_attrs["run"]) for t in again.trials} == before
    assert len(list_runs(runs(tmp_path))) == 4
    table = trials_table(spec.name, f"sqlite:///{runs(tmp_path) / 'studies.db'}")
    assert [r["state"] for r in table] == ["COMPLETE"] * 4


def test_a_sampler_study_draws_its_points_and_runs_each_for_every_seed(client, tmp_path):
    spec = StudySpec(space={"lr": {"low": 1e-3, "high": 1e-2, "log": True}}, fixed=TINY, seeds=2,
                     sampler="tpe", n_points=2, objective="total")
    study = run_study(spec, runs_dir=runs(tmp_path), client=client)
    assert states(study) == ["COMPLETE"] * 4
    by_lr = {}
    for t in study.trials:
        by_lr.setdefault(t.params["lr"], []).append(t.user_attrs["seed"])
        assert t.value == RunRecord(Path(t.user_attrs["run"])).metrics()[-2]["total"]
    assert sorted(map(sorted, by_lr.values())) == [[0, 1], [0, 1]]


def test_time_to_a_target_error_is_the_wall_time_of_the_first_snapshot_below_it(tmp_path):
    rec = RunRecord(tmp_path)
    rows = [{"step": 10, "elapsed": 1.0}, {"step": 10, "rel_l2": 0.5}, {"step": 20, "elapsed": 2.0},
            {"step": 20, "rel_l2": 0.05}, {"step": 30, "elapsed": 3.0}, {"step": 30, "rel_l2": 0.01}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert objective_value(rec, "time_to:0.1") == 2.0
    assert objective_value(rec, "time_to:0.001") == float("inf")
    with pytest.raises(ValueError, match="objective 'loss_pde' was never logged"):
        objective_value(rec, "loss_pde")


def _wait_for(predicate, tries=2000, pause=0.05):
    for _ in range(tries):
        found = predicate()
        if found:
            return found
        time.sleep(pause)
    raise AssertionError("condition not reached")


@pytest.mark.fault("study")
def test_a_worker_killed_mid_trial_reruns_it_from_its_last_checkpoint(client, tmp_path):
    longer = {**TINY, "steps": 300, "log_every": 10, "snapshot_every": 300, "checkpoint_every": 20}
    spec = StudySpec(space={"model.width": [4]}, fixed=longer, seeds=2)
    done = {}
    driver = threading.Thread(target=lambda: done.setdefault(
        "study", run_study(spec, runs_dir=runs(tmp_path), client=client)))
    driver.start()

    def checkpointed_key():
        """A busy worker, once every trial being trained has a checkpoint (whichever worker is
        killed then, its trial has one to continue from)."""
        busy = [worker for worker, keys in client.processing().items() if keys]
        try:  # a run folder being made has no summary yet: not ready
            running = [rec for rec in map(RunRecord, runs(tmp_path).glob("*/"))
                       if rec.summary().get("status") == "running"]
        except (OSError, ValueError):
            return None
        if busy and len(running) == len(busy) and all(
                (rec.path / "checkpoint.safetensors").exists() for rec in running):
            return busy[0]
        return None

    worker = _wait_for(checkpointed_key)
    pids = client.run(os.getpid, workers=[worker])
    os.kill(pids[worker], signal.SIGKILL)
    driver.join()
    study = done["study"]
    assert states(study) == ["COMPLETE"] * 2
    assert all(t.user_attrs["step"] == 300 for t in study.trials)
    resumed = [t.user_attrs["resumed_from"] for t in study.trials]
    assert max(resumed) > 0 and max(resumed) % 20 == 0  # continued from a checkpoint, not step 0
    assert len(list_runs(runs(tmp_path))) == 2


class _DriverKilled(Exception):
    pass


@pytest.mark.fault("study")
def test_a_driver_stopped_mid_study_continues_on_rerun_and_loses_no_finished_trial(client, tmp_path):
    spec = StudySpec(space={"model.width": [4, 8]}, fixed=TINY, seeds=2)

    def die(trial):
        raise _DriverKilled

    with pytest.raises(_DriverKilled):
        run_study(spec, runs_dir=runs(tmp_path), client=client, on_trial=die)
    _wait_for(lambda: not any(client.processing().values()))  # the old tasks are gone
    stored = open_study(spec, f"sqlite:///{runs(tmp_path) / 'studies.db'}")
    first = [t for t in stored.trials if t.state.name == "COMPLETE"]
    assert len(first) == 1

    study = run_study(spec, runs_dir=runs(tmp_path), client=client)
    assert states(study) == ["COMPLETE"] * 4
    kept = study.trials[first[0].number]
    assert (kept.value, kept.user_attrs["run"]) == (first[0].value, first[0].user_attrs["run"])
    assert len(list_runs(runs(tmp_path))) == 4  # no run made twice


def test_the_cli_runs_a_study_on_a_scheduler_by_address_and_shows_its_trials(client, tmp_path, capsys):
    from lab.cli import main

    home = str(runs(tmp_path))
    args = ["study", "run", "--runs-dir", home, "--space", "model.width=[4,8]", "--name", "cli-study",
            "--address", client.scheduler.address, "--set", *[f"{k}={json.dumps(v)}" for k, v in TINY.items()]]
    assert main(args) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert sorted(x["model.width"] for x in lines) == [4, 8] and {x["state"] for x in lines} == {"COMPLETE"}
    assert main(["study", "show", "cli-study", "--runs-dir", home, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["model.width"], r["value"]) for r in rows] == [(x["model.width"], x["value"]) for x in
                                                           sorted(lines, key=lambda x: x["trial"])]
    assert main(["study", "show", "no-such-study", "--runs-dir", home]) == 2
    assert "no study 'no-such-study'" in capsys.readouterr().err


def test_the_lab_imports_neither_dask_nor_optuna_nor_trackers_until_a_study_runs():
    import subprocess
    import sys

    code = ("import sys, lab.studies, lab.cli, lab.tracking; "
            "print(sorted(m for m in ('optuna', 'distributed', 'dask', 'mlflow', 'tensorboard') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.fault("study")
def test_a_run_checkpointed_at_its_end_but_cut_off_before_its_summary_is_read_not_retrained(tmp_path):
    from lab.studies.trial import run_trial
    from lab.training import TrainConfig, Trainer

    settings = {k: v for k, v in TINY.items() if k != "model.depth"}
    trainer = Trainer(get_problem("burgers"), get_model_config("mlp", width=4, depth=1),
                      TrainConfig(**settings), runs_dir=tmp_path)
    trainer.run()
    rec = trainer._record
    final = rec.summary()
    rec.finish(status="running", step=0, rel_l2=None)  # the kill came before the summary
    out = run_trial(str(rec.path), "rel_l2")
    assert (out["status"], out["step"], out["resumed_from"]) == ("completed", 5, None)
    assert out["value"] == final["rel_l2"]


def test_with_a_pruner_each_run_reports_its_error_at_every_snapshot(client, tmp_path):
    spec = StudySpec(space={"lr": {"low": 1e-3, "high": 1e-2, "log": True}},
                     fixed={**TINY, "steps": 20}, sampler="random", n_points=2, pruner="median")
    study = run_study(spec, runs_dir=runs(tmp_path), client=client)
    for t in study.trials:
        assert t.state.name == "COMPLETE"
        snaps = {r["step"]: r["rel_l2"] for r in RunRecord(Path(t.user_attrs["run"])).metrics() if "rel_l2" in r}
        assert t.intermediate_values == pytest.approx(snaps)
        assert sorted(t.intermediate_values) == [5, 10, 15, 20]


def _studies_view(tmp_path, client, space: str, fixed: dict = TINY):
    from widgets.studies_view import StudiesView

    view = StudiesView(lambda: ("burgers", "mlp"), str(tmp_path / "runs"), client=client)
    view.space.value = space
    view.fixed.value = "\n".join(f"{k}={json.dumps(v)}" for k, v in fixed.items())
    return view


@pytest.mark.bad_input("study")
@pytest.mark.parametrize("space,words", [
    ("", "the search space is empty"),
    ("model.widht=[4, 8]", "model.widht"),
    ("model.width=[4, 8]\nsteps", "search space expects key=value"),
])
def test_the_studies_tab_refuses_a_bad_form_by_name_and_runs_nothing(tmp_path, client, space, words):
    view = _studies_view(tmp_path, client, space)
    view.run()
    assert not view.running and words in view.alert.message
    assert not (tmp_path / "runs").exists()


def test_the_studies_tab_runs_every_point_and_seed_and_shows_each_run(tmp_path, client):
    """The app's study is the CLI's: every (point, seed) a saved run, listed as it finishes."""
    view = _studies_view(tmp_path, client, "model.width=[4, 8]")
    view.seeds.value = 2
    view.run()
    view.join()
    view.drain()
    assert sorted((r["model.width"], r["seed"]) for r in view.rows) == [(4, 0), (4, 1), (8, 0), (8, 1)]
    assert {r["state"] for r in view.rows} == {"COMPLETE"}
    assert len(view.table.value) == 4 and len(view.plot.object.data) == 4
    assert "4 of 4 runs done; best" in view.status.object and not view.alert.message
    assert sorted(r["run"] for r in view.rows) == sorted(r["name"] for r in list_runs(tmp_path / "runs"))
    assert not view.running and not view.run_button.disabled
