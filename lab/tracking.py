"""Tracking sinks: a run's events to TensorBoard or MLflow, for the tools researchers already use.

``Trainer(..., sinks=[TensorBoardSink()])`` writes the loss terms, total, learning rate, loss
weights and relative L2 error at their steps. A continued run (``Trainer.resume``) continues
its curves without duplicate points:

* TensorBoard: the writer reopens the run's ``tensorboard/`` folder with ``purge_step`` at the
  first step the continued run will log, so TensorBoard drops whatever the earlier session
  wrote after its checkpoint (the steps that are trained again);
* MLflow: the run's MLflow run (found by its ``sciml_lab.run`` tag) is reopened; MLflow's
  history is append-only, so points at steps the earlier session already logged are skipped.

The tracking packages are the optional extra ``sciml-lab[tracking]``, imported only when a
sink receives its first event.
"""
from __future__ import annotations

import time
from pathlib import Path

from lab.training.events import Done, Event, Failed, Snapshot, Started, Step


def scalars(event: Event) -> dict[str, float]:
    """The numbers an event carries, under the names both trackers use."""
    if isinstance(event, Step):
        return {"total": event.total, "lr": event.lr, **{f"loss/{k}": v for k, v in event.losses.items()},
                **{f"weight/{k}": v for k, v in event.weights.items()}}
    if isinstance(event, Snapshot):
        return {"rel_l2": event.rel_l2}
    return {}


class TensorBoardSink:
    """Scalars to a TensorBoard event file in ``log_dir`` (default: the run's ``tensorboard/``)."""

    def __init__(self, log_dir: str | Path | None = None):
        self.log_dir = log_dir
        self._writer = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, Started):
            from torch.utils.tensorboard import SummaryWriter

            folder = self.log_dir or Path(event.run_dir) / "tensorboard"
            # a continued run trains again every step after its checkpoint: drop those
            purge = event.start_step + 1 if event.start_step else None
            self._writer = SummaryWriter(str(folder), purge_step=purge)
        elif isinstance(event, (Step, Snapshot)) and self._writer is not None:
            for key, value in scalars(event).items():
                self._writer.add_scalar(key, value, event.step)
        elif isinstance(event, (Done, Failed)) and self._writer is not None:
            self._writer.close()
            self._writer = None


class MLflowSink:
    """Parameters and metrics to MLflow: one MLflow run per lab run, tagged with its name.

    ``tracking_uri``: e.g. ``file:///tmp/mlruns``, ``sqlite:///mlflow.db`` or a server URL
    (default: MLflow's own default)."""

    def __init__(self, tracking_uri: str | None = None, experiment: str = "sciml-lab"):
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self._client = None
        self._run_id = None
        self._logged_to = -1  # the last step already in MLflow's history

    def _open(self, event: Started) -> None:
        from mlflow.tracking import MlflowClient

        client = self._client = MlflowClient(self.tracking_uri)
        exp = client.get_experiment_by_name(self.experiment)
        exp_id = exp.experiment_id if exp else client.create_experiment(self.experiment)
        found = client.search_runs([exp_id], f"tags.`sciml_lab.run` = '{event.run_id}'", max_results=1)
        if found:
            self._run_id = found[0].info.run_id
            client.update_run(self._run_id, status="RUNNING")
            steps = [m.step for key in found[0].data.metrics
                     for m in client.get_metric_history(self._run_id, key)]
            self._logged_to = max(steps, default=-1)
            return
        run = client.create_run(exp_id, run_name=event.run_id, tags={"sciml_lab.run": event.run_id})
        self._run_id = run.info.run_id
        params = {f"{part}.{k}": v for part in ("problem", "model", "train")
                  for k, v in event.config[part].get("params", event.config[part]).items()}
        params.update({"problem": event.config["problem"]["key"], "model": event.config["model"]["kind"]})
        for key, value in params.items():
            client.log_param(self._run_id, key, str(value)[:6000])

    def __call__(self, event: Event) -> None:
        if isinstance(event, Started):
            self._open(event)
        elif isinstance(event, (Step, Snapshot)) and self._run_id is not None:
            if event.step <= self._logged_to:
                return
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            self._client.log_batch(self._run_id, metrics=[Metric(k, float(v), now, event.step)
                                                          for k, v in scalars(event).items()])
        elif isinstance(event, (Done, Failed)) and self._run_id is not None:
            self._client.set_terminated(self._run_id, "FINISHED" if isinstance(event, Done) else "FAILED")
            self._run_id = None


SINKS = {"tensorboard": TensorBoardSink, "mlflow": MLflowSink}
