"""Tracking sinks, read back from what they wrote: a run cut off after its checkpoint and
continued has each step once in TensorBoard and in MLflow, with the continued run's values."""
import pytest

from lab.models import get_model_config
from lab.problems import get_problem
from lab.training import Step, TrainConfig, Trainer

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")

from lab.tracking import MLflowSink, TensorBoardSink  # noqa: E402

SETTINGS = dict(steps=20, n_pde=64, n_ic=16, n_bc=16, device="cpu", log_every=5, snapshot_every=10,
                checkpoint_every=10)


class _Killed(BaseException):
    """Ends the process's training as a kill would: no handler runs, no final checkpoint."""


def _cut_off_then_continued(sinks_for, tmp_path):
    """Train to step 15 (checkpoint at 10), cut off, continue to 20; Step events of session 2."""
    first = sinks_for()

    def kill(ev):
        if isinstance(ev, Step) and ev.step == 15:
            for sink in first:  # what reached the tracker before the kill
                if getattr(sink, "_writer", None) is not None:
                    sink._writer.flush()
            raise _Killed

    trainer = Trainer(get_problem("burgers"), get_model_config("mlp", width=4, depth=1),
                      TrainConfig(**SETTINGS), sinks=[*first, kill], runs_dir=tmp_path / "runs")
    with pytest.raises(_Killed):
        trainer.run()
    run = trainer._record.path
    seen = []
    resumed = Trainer.resume(str(run), sinks=[*sinks_for(), seen.append])
    assert resumed.step == 10
    assert resumed.run().status == "completed"
    return run, {ev.step: ev.total for ev in seen if isinstance(ev, Step)}


def test_tensorboard_curves_of_a_continued_run_have_each_step_once(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, totals = _cut_off_then_continued(lambda: [TensorBoardSink()], tmp_path)
    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    total = acc.Scalars("total")
    assert [e.step for e in total] == [5, 10, 15, 20]
    assert {e.step: e.value for e in total if e.step > 10} == pytest.approx(totals, rel=1e-6)
    assert [e.step for e in acc.Scalars("rel_l2")] == [10, 20]
    assert {"loss/pde", "loss/ic", "lr"} <= set(acc.Tags()["scalars"])


def test_mlflow_history_of_a_continued_run_has_each_step_once(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run, totals = _cut_off_then_continued(lambda: [MLflowSink(uri)], tmp_path)
    client = MlflowClient(uri)
    (found,) = client.search_runs([client.get_experiment_by_name("sciml-lab").experiment_id])
    assert found.data.tags["sciml_lab.run"] == run.name
    assert found.info.status == "FINISHED"
    assert found.data.params["model.width"] == "4" and found.data.params["problem"] == "burgers"
    history = client.get_metric_history(found.info.run_id, "total")
    assert sorted(m.step for m in history) == [5, 10, 15, 20]
    assert {m.step: m.value for m in history if m.step == 20} == pytest.approx({20: totals[20]}, rel=1e-6)
    assert sorted(m.step for m in client.get_metric_history(found.info.run_id, "rel_l2")) == [10, 20]


def test_train_with_track_tensorboard_writes_the_runs_curves(tmp_path, capsys):
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lab.cli import main

    sets = [f"{k}={v}" for k, v in SETTINGS.items() if k != "steps"]
    assert main(["train", "--quiet", "--steps", "10", "--track", "tensorboard", "--runs-dir",
                 str(tmp_path), "--set", "model.width=4", *sets]) == 0
    run_dir = json.loads(capsys.readouterr().out)["run_dir"]
    acc = EventAccumulator(f"{run_dir}/tensorboard")
    acc.Reload()
    assert [e.step for e in acc.Scalars("total")] == [5, 10]
