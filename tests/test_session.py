"""lab.session: a run's typed spec, and rebuilding, evaluating and continuing a saved run."""
import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem, session
from lab.session import RunSpec, SpecError
from lab.training.events import Snapshot, Step
from lab.training.tasks.pinn import evaluate_on_grid

TRAIN = dict(steps=12, n_pde=64, n_ic=16, n_bc=16, dtype="float64", device="cpu", lr=1e-2,
             lr_decay=0.5, lr_decay_steps=4, log_every=2, snapshot_every=4, checkpoint_every=4)


def _train(runs_dir, stop_after=None, **overrides):
    """A tiny Burgers run; ``stop_after``: stopped by its own sink after that step. Returns the
    trainer, its outcome and its Snapshot events."""
    tr = Trainer(get_problem("burgers", nu=0.02), get_model_config("mlp", width=6, depth=2),
                 TrainConfig(**{**TRAIN, **overrides}), runs_dir=runs_dir)
    snaps = []
    tr.subscribe(lambda e: snaps.append(e) if isinstance(e, Snapshot) else None)
    if stop_after is not None:
        tr.subscribe(lambda e: tr.stop() if isinstance(e, Step) and e.step == stop_after else None)
    return tr, tr.run(), snaps


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tr, result, snaps = _train(tmp_path_factory.mktemp("runs"))
    assert result.status == "completed", result.message
    return tr, result, snaps


def _config(run_dir) -> dict:
    return json.loads((run_dir / "config.json").read_text())


def test_a_run_spec_round_trips_the_config_json_of_a_run_folder(finished):
    _, result, _ = finished
    cfg = _config(Path(result.run_dir))
    spec = RunSpec.from_run(result.run_dir)
    assert spec.to_dict() == {k: cfg[k] for k in ("problem", "model", "train")}  # bookkeeping aside
    assert spec == RunSpec.from_dict(cfg) == RunSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert (spec.problem, spec.model, spec.train.steps) == ("burgers", "mlp", 12)
    problem, model_config, train = spec.build()
    assert problem.config() == cfg["problem"]["params"] and problem.nu == 0.02
    assert model_config.to_dict() == cfg["model"]["params"] and train.to_dict() == cfg["train"]
    # build() makes fresh objects: what a caller changes stays its own, the spec does not move
    train.steps = 99
    assert spec.build()[2].steps == 12 and spec.train.steps == 12
    with pytest.raises(AttributeError):
        spec.problem = "heat"


@pytest.mark.parametrize("path, value, field", [
    (("train", "lr"), -1.0, "train.lr"),
    (("train", "steps"), "many", "train.steps"),
    (("train", "no_such_setting"), 1, "train.no_such_setting"),
    (("problem", "params", "nu"), -1.0, "problem.params.nu"),
    (("problem", "params", "no_such_setting"), 1, "problem.params.no_such_setting"),
    (("problem", "key"), "no_such_problem", "problem.key"),
    (("problem", "key"), 3, "problem.key"),
    (("model", "params", "width"), 0, "model.params.width"),
    (("model", "kind"), "no_such_model", "model.kind"),
    (("model", "params"), [1, 2], "model.params"),
    (("train",), None, "train"),
    (("trian",), {}, "trian"),
])
def test_a_bad_field_is_refused_naming_it(finished, path, value, field):
    cfg = _config(Path(finished[1].run_dir))
    bad = copy.deepcopy(cfg)
    where = bad
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    with pytest.raises(ValueError, match=rf"^{field}: ") as err:
        RunSpec.from_dict(bad)
    assert isinstance(err.value, SpecError) and err.value.field == field


def test_a_saved_run_with_a_bad_field_is_refused_by_rebuild_and_resume_naming_it(finished, tmp_path):
    run = shutil.copytree(finished[1].run_dir, tmp_path / "bad-run")
    cfg = _config(run)
    cfg["train"]["lr"] = 5.0
    (run / "config.json").write_text(json.dumps(cfg))
    for call in (lambda: session.rebuild(run), lambda: session.resume(run, steps=2),
                 lambda: Trainer.resume(str(run), steps=2)):
        with pytest.raises(ValueError, match=r"^train\.lr: "):
            call()


def test_rebuild_gives_the_trained_model_whose_predictions_are_the_saved_evaluation(finished):
    tr, result, snaps = finished
    run_dir = Path(result.run_dir)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    saved = session.rebuild(result.run_dir)
    assert saved.step == result.step == 12 and saved.spec == RunSpec.from_run(result.run_dir)
    assert saved.device == torch.device("cpu") and saved.dtype == torch.float64 and not saved.model.training
    trained = tr.model.state_dict()
    assert all(torch.equal(v, trained[k].cpu()) for k, v in saved.model.state_dict().items())

    last = snaps[-1]  # the Trainer's evaluation of the final (saved) state
    pred = evaluate_on_grid(saved.model, saved.problem, last.grid, device=saved.device, dtype=saved.dtype)
    np.testing.assert_array_equal(pred, last.fields["prediction"])
    problem, snap, history = session.evaluate(result.run_dir, device="cpu")
    assert problem.config() == saved.problem.config() and snap.step == last.step == 12
    np.testing.assert_array_equal(snap.fields["prediction"], last.fields["prediction"])
    assert snap.rel_l2 == last.rel_l2 == pytest.approx(json.loads((run_dir / "summary.json").read_text())["rel_l2"])
    assert [h["step"] for h in history] == [2, 4, 6, 8, 10, 12]
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # read only


@pytest.mark.parametrize("steps", [None, 3])
def test_resume_through_the_session_equals_trainer_resume(tmp_path, steps):
    _, stopped, _ = _train(tmp_path / "made", stop_after=6)
    assert stopped.status == "stopped" and stopped.step == 6, stopped.message
    trainers, outcomes = {}, {}
    for how, resume in (("session", session.resume), ("trainer", Trainer.resume)):
        run = shutil.copytree(stopped.run_dir, tmp_path / how / "run")
        trainers[how] = resume(str(run), steps=steps)
        outcome = outcomes[how] = trainers[how].run()
        # 3 more steps of a stopped 12-step plan leave it stopped short of its end
        assert outcome.step == 6 + (steps or 6), outcome.message
        assert outcome.status == ("completed" if steps is None else "stopped"), outcome.message
    assert outcomes["session"].rel_l2 == outcomes["trainer"].rel_l2
    a, b = (t.model.state_dict() for t in trainers.values())
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert trainers["session"].config.to_dict() == trainers["trainer"].config.to_dict()
