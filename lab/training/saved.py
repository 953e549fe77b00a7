"""Read-only access to saved runs: rebuild the trained model, evaluate it, read its history.

Nothing here writes to the run folder (``Trainer.resume`` is the way to continue training),
so reopening a run in the app or a notebook can never change what was saved.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from lab.device import pick_device, resolve_dtype
from lab.training.config import TrainConfig
from lab.training.events import Snapshot
from lab.training.runs import CHECKPOINT, CONFIG, RunDamaged, find_run
from lab.training.tasks import task_for


@dataclass
class LoadedRun:
    name: str
    problem: object
    model_config: object
    train_config: TrainConfig
    model: torch.nn.Module
    step: int
    device: torch.device
    dtype: torch.dtype


def load_run(name: str, runs_dir=None, device: str = "auto") -> LoadedRun:
    """The problem, configs and the network with its checkpoint weights, ready to evaluate."""
    from lab.models import get_model_config
    from lab.problems import get_problem

    record = find_run(name, runs_dir)
    record.check()  # a damaged folder is refused naming the file and why
    cfg = record.config()
    state, meta = record.load_checkpoint()
    problem = get_problem(cfg["problem"]["key"], **cfg["problem"]["params"])
    model_config = get_model_config(cfg["model"]["kind"], **cfg["model"]["params"])
    train = TrainConfig.from_dict(cfg["train"])
    dev, dtype = pick_device(device), resolve_dtype(train.dtype)
    model = model_config.build(problem).to(device=dev, dtype=dtype)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:  # names and shapes from another model
        raise RunDamaged(record.name, CHECKPOINT, f"does not fit the model {CONFIG} describes "
                                                  f"({str(err).splitlines()[0]})") from None
    model.eval()
    return LoadedRun(record.name, problem, model_config, train, model, int(meta.get("step", 0)), dev, dtype)


def evaluate_run(name: str, runs_dir=None) -> tuple[object, Snapshot, list[dict]]:
    """Problem, a Snapshot of the checkpoint against the reference, and the loss history.

    The model is evaluated by its family's task, exactly as the Trainer does for snapshots.
    """
    run = load_run(name, runs_dir)
    task = task_for(run.model_config.family)(
        run.problem, run.model, run.train_config, device=run.device, dtype=run.dtype,
        generator=torch.Generator().manual_seed(run.train_config.seed))
    grid, fields, rel, extras = task.evaluate()
    history = [{"step": r["step"], "total": r["total"],
                **{k[5:]: v for k, v in r.items() if k.startswith("loss_")}}
               for r in find_run(name, runs_dir).metrics() if "total" in r]
    return run.problem, Snapshot(run.step, grid, fields, rel, extras), history
