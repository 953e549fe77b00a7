"""Saved runs, in one place: their typed spec, and how one is rebuilt, continued and evaluated.

A run folder's ``config.json`` is a :class:`RunSpec` (problem, model, training — checked field
by field); its checkpoint holds the weights. From the two:

* :func:`rebuild` gives the problem, the configs and the trained network (checkpoint weights,
  eval mode, on the CPU unless asked otherwise) — a :class:`SavedRun`;
* :func:`evaluate` gives what the app's *Open* and ``sciml-lab export`` show: the problem, a
  :class:`~lab.training.events.Snapshot` of the checkpoint against the reference (computed by
  the model family's task, exactly as the Trainer's snapshots are) and the loss history;
* :func:`resume` gives a :class:`~lab.training.Trainer` that continues the run in its folder
  (:meth:`lab.training.Trainer.resume`, which holds the checkpoint's training state);
* :func:`export` writes that evaluation to a file (netCDF, zarr, VTK, MP4, GIF: :mod:`lab.io`),
  as ``sciml-lab export`` and the app's *Download* do.

Rebuilding and evaluating never write to the run folder, so reopening a run in the app or a
notebook cannot change what was saved. The CLI, the app's views and the studies all go
through here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from lab.device import pick_device, resolve_dtype
from lab.training import Snapshot, Trainer
from lab.training.config import TrainConfig
from lab.training.inverse import attach
from lab.training.runs import CHECKPOINT, CONFIG, RunDamaged, find_run
from lab.training.spec import RunSpec, SpecError
from lab.training.tasks import task_for

__all__ = ["RunSpec", "SavedRun", "SpecError", "evaluate", "export", "from_weights", "rebuild", "resume"]


@dataclass
class SavedRun:
    """A saved run rebuilt: its spec, the objects built from it and the trained network."""

    name: str
    spec: RunSpec
    problem: object
    model_config: object
    train_config: TrainConfig
    #: the network with the checkpoint's weights, in eval mode
    model: torch.nn.Module
    #: the step the checkpoint was written at
    step: int
    device: torch.device
    dtype: torch.dtype
    #: the logged metric rows (a run folder's ``metrics.jsonl``, or a zoo entry's copy of it)
    metrics: Callable[[], list[dict]]

    def evaluate(self) -> Snapshot:
        """The checkpoint against the reference, by the family's task (as the Trainer's snapshots)."""
        c = self.train_config
        task = task_for(self.model_config.family)(
            self.problem, self.model, c, device=self.device, dtype=self.dtype,
            generator=torch.Generator().manual_seed(c.seed))
        grid, fields, rel, extras = task.evaluate()
        return Snapshot(self.step, grid, fields, rel, extras)

    def history(self) -> list[dict]:
        """The logged losses: ``{"step", "total", <term>: value, ...}`` per logged step."""
        return [{"step": r["step"], "total": r["total"],
                 **{k[5:]: v for k, v in r.items() if k.startswith("loss_")}}
                for r in self.metrics() if "total" in r]


def rebuild(run: str | Path, runs_dir=None, *, device: str = "cpu") -> SavedRun:
    """The saved run ``run`` (a name in ``runs_dir`` or a path) with its checkpoint's weights.

    A damaged folder is refused naming the file and why (a checkpoint of another network
    included), a config the spec refuses naming the field; nothing is written."""
    record = find_run(str(run), runs_dir)
    record.check()
    weights, meta = record.load_checkpoint()

    def refuse(reason: str) -> Exception:
        return RunDamaged(record.name, CHECKPOINT, f"does not fit the model {CONFIG} describes ({reason})")

    return from_weights(record.name, RunSpec.from_run(record), weights, int(meta.get("step", 0)),
                        record.metrics, device=device, refuse=refuse)


def from_weights(name: str, spec: RunSpec, weights: dict[str, torch.Tensor], step: int,
                 metrics: Callable[[], list[dict]] = list, *, device: str = "cpu",
                 refuse: Callable[[str], Exception] = ValueError) -> SavedRun:
    """The network ``spec`` describes, with ``weights`` (cast to the run's dtype), in eval mode.

    A run folder (:func:`rebuild`) and a zoo entry (:mod:`lab.zoo`) both come back through
    here; weights of another network raise ``refuse(reason)``."""
    problem, model_config, train = spec.build()
    dev, dtype = pick_device(device), resolve_dtype(train.dtype)
    # the run's own generator: rebuilding leaves the global random state alone
    model = model_config.build(problem, generator=torch.Generator().manual_seed(train.seed))
    attach(model, problem, train)  # its inferred parameters, saved with the weights
    model.to(device=dev, dtype=dtype)
    try:
        model.load_state_dict(weights)  # copies, so half-precision weights arrive in ``dtype``
    except RuntimeError as err:  # names and shapes from another model
        raise refuse(str(err).splitlines()[0]) from None
    model.eval()
    return SavedRun(name, spec, problem, model_config, train, model, step, dev, dtype, metrics)



def evaluate(run: str | Path, runs_dir=None, *, device: str = "auto") -> tuple[object, Snapshot, list[dict]]:
    """``(problem, snapshot, history)`` of a saved run: see :meth:`SavedRun.evaluate` and
    :meth:`SavedRun.history`. ``device="auto"`` evaluates on the fastest device there is."""
    saved = rebuild(run, runs_dir, device=device)
    return saved.problem, saved.evaluate(), saved.history()


def resume(run: str | Path, *, steps: int | None = None, lbfgs_steps: int | None = None, sinks=(),
           runs_dir=None) -> Trainer:
    """A Trainer that continues the saved run in its folder: see :meth:`lab.training.Trainer.resume`
    for what ``steps`` and ``lbfgs_steps`` mean (``None``: finish the run's plan)."""
    return Trainer.resume(str(run), steps=steps, lbfgs_steps=lbfgs_steps, sinks=sinks, runs_dir=runs_dir)


def export(run: str | Path, fmt: str, out: str | Path | None = None, runs_dir=None, *,
           time: int | None = None) -> Path:
    """Write the evaluation of a saved run (:func:`evaluate`) in ``fmt`` (one of
    :data:`lab.io.FORMATS`) to ``out`` (default: the run's name, in the working folder), stamped
    with the run's name; returns the path written."""
    from lab.io import export as write, field_set

    problem, snapshot, _ = evaluate(run, runs_dir)
    name = str(run).rstrip("/").split("/")[-1]
    return write(field_set(problem, snapshot, run=name), out or name, fmt, time=time)
