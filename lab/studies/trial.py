"""One trial on a worker: train (or continue) the run in a prepared run folder, return its
objective.

The driver creates the run folder (config and all) before submitting, and records its name in
the trial, so the task needs only the folder: a fresh folder trains from the start, a folder
with a checkpoint continues from it (a worker lost mid-trial; Dask reruns the task
elsewhere), a finished run is only read (a driver restarted after the run ended).
"""
from __future__ import annotations

import math
from pathlib import Path

from lab.training.runs import CHECKPOINT, RunRecord

FINISHED = ("completed", "stopped", "failed", "pruned")


def objective_value(record: RunRecord, objective: str) -> float:
    """The study's objective for a finished run (see :class:`lab.studies.spec.StudySpec`)."""
    rows = record.metrics()
    if objective == "rel_l2":
        rel = record.summary().get("rel_l2")
        return math.nan if rel is None else float(rel)
    if objective.startswith("time_to:"):
        target = float(objective.split(":", 1)[1])
        elapsed = {}
        for row in rows:
            if "elapsed" in row:
                elapsed[row["step"]] = row["elapsed"]
            if row.get("rel_l2") is not None and row["rel_l2"] <= target:
                # the wall time of the last step logged at or before the snapshot
                before = [s for s in elapsed if s <= row["step"]]
                return float(elapsed[max(before)]) if before else 0.0
        return math.inf
    values = [row[objective] for row in rows if objective in row]
    if not values:
        logged = sorted({k for row in rows for k in row})
        raise ValueError(f"objective {objective!r} was never logged by run {record.name}; "
                         f"logged metrics: {logged}")
    return float(values[-1])


def run_trial(run_dir: str, objective: str, pruning: dict | None = None) -> dict:
    """Train the run in ``run_dir`` to its end and return its outcome and objective.

    ``pruning = {"storage": url, "study": name, "trial_id": id}`` reports the relative L2
    error at every snapshot to the study and stops the run when its pruner says so."""
    from lab.session import RunSpec, resume
    from lab.training import Trainer
    from lab.training.events import Snapshot, Started

    record = RunRecord(Path(run_dir))
    summary = record.summary()
    if summary.get("status") in FINISHED:
        return _outcome(record, objective, resumed_from=None)
    if (record.path / CHECKPOINT).is_file():
        if _finished_unrecorded(record):
            return _outcome(record, objective, resumed_from=None)
        trainer = resume(record.path)
    else:
        trainer = Trainer(*RunSpec.from_run(record).build(), record=record)
    started = {}
    trainer.subscribe(lambda ev: started.setdefault("step", ev.start_step) if isinstance(ev, Started) else None)
    pruned = {}
    if pruning:
        import optuna

        study = optuna.load_study(study_name=pruning["study"], storage=pruning["storage"])
        trial = optuna.Trial(study, pruning["trial_id"])

        def prune(ev) -> None:
            if isinstance(ev, Snapshot) and ev.rel_l2 is not None and math.isfinite(ev.rel_l2):
                trial.report(ev.rel_l2, ev.step)
                if trial.should_prune():
                    pruned["step"] = ev.step
                    trainer.stop()
        trainer.subscribe(prune)
    result = trainer.run()
    if pruned:
        record.finish(**{**record.summary(), "status": "pruned"})
    out = _outcome(record, objective, resumed_from=started.get("step"))
    out["message"] = result.message
    return out


def _finished_unrecorded(record: RunRecord) -> bool:
    """A run whose last checkpoint is its final state but whose summary was never written (its
    worker died between the two) is finished: write the summary from the checkpoint."""
    _, meta = record.load_checkpoint()
    train = record.config()["train"]
    first, total = meta.get("plan", (0, train["steps"]))
    if train["lbfgs_steps"] or int(meta.get("step", 0)) < first + total:
        return False
    record.finish(status="completed", step=int(meta["step"]), rel_l2=meta.get("rel_l2"))
    return True


def _outcome(record: RunRecord, objective: str, resumed_from: int | None) -> dict:
    s = record.summary()
    value = objective_value(record, objective) if s.get("status") in ("completed", "pruned") else math.nan
    return {"run": record.name, "status": s.get("status"), "step": s.get("step"),
            "rel_l2": s.get("rel_l2"), "value": value, "resumed_from": resumed_from,
            "message": s.get("message", "")}
