"""Tasks: what one model family minimises and how it is evaluated.

The Trainer owns the optimisation loop, events, checkpoints and failure handling; a task owns
the family-specific parts — loss terms, their weights, point sampling, evaluation against
the reference. Each family registers one task class for its ``ModelConfig.family``.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import torch

from lab.training.distributed import SINGLE, Group

_TASKS: dict[str, type["Task"]] = {}


class Task:
    """Base class. ``model`` is already on the task's device and dtype; ``progress(done, total)``
    reports long work while the task is built (an operator task's data generation). Every rank
    of a data-parallel run draws the whole batch; :meth:`loss_terms` uses ``group.shard`` of it."""

    family: str = ""
    #: whether the loss draws its own batch on the host inside every step: a replay of a
    #: captured step would repeat the first batch, so such a task keeps the eager loop
    batch_inside_step: bool = False

    def __init__(self, problem, model: torch.nn.Module, config, *, device, dtype,
                 generator: torch.Generator, progress: Callable[[int, int], None] | None = None,
                 group: Group = SINGLE):
        self.problem, self.model, self.config = problem, model, config
        self.device, self.dtype, self.generator = device, dtype, generator
        self.progress = progress
        #: the ranks of a data-parallel run: each computes its loss on its share of the batch
        self.group = group

    def draw(self, step: int) -> None:
        """Prepare the batch of ``step`` in ``self.batch`` ahead of it (once per step); a
        captured step copies it into the graph's inputs (:mod:`lab.training.graphs`). A task on
        one fixed batch has nothing to draw."""

    def loss_terms(self, step: int) -> dict[str, torch.Tensor]:
        """Unweighted scalar loss terms at this step."""
        raise NotImplementedError

    def weights(self, terms: dict[str, torch.Tensor], step: int) -> dict[str, float | torch.Tensor]:
        """Weight per term; fixed from ``config.loss_weights`` unless a method adapts them (an
        adapted weight is a device tensor, read back only when the Trainer logs)."""
        return {k: float(self.config.loss_weights.get(k, 1.0)) for k in terms}

    def host_step_due(self, step: int) -> bool:
        """Whether the loss of ``step`` does work on the host that a replay of a captured step
        would skip (e.g. recomputing loss weights): that step runs eagerly
        (:class:`lab.training.graphs.CapturedAdam`)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """What besides the weights shapes the rest of training — the generator's state, and in
        subclasses e.g. the current points or adapted weights — so that a run continued from a
        checkpoint goes on exactly as the uninterrupted one: a tree of dicts and lists whose
        leaves are tensors or JSON values (:mod:`lab.training.checkpoint` stores it)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` gave, right after construction."""
        self.generator.set_state(state["generator"])

    def extras(self) -> dict[str, Any]:
        """Method diagnostics attached to Step events (e.g. causal weights)."""
        return {}

    def scalars(self) -> dict[str, float]:
        """Values logged with every Step row of the run's metrics (e.g. an inferred
        parameter's estimate), so that their history is saved with the run."""
        return {}

    def evaluate(self) -> tuple[dict, dict, float, dict]:
        """``(grid, fields, rel_l2, extras)`` against the reference, for Snapshot events."""
        raise NotImplementedError


def register_task(cls: type[Task]) -> type[Task]:
    _TASKS[cls.family] = cls
    return cls


def task_for(family: str) -> type[Task]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    if family not in _TASKS:
        raise ValueError(f"no training task for model family {family!r}; known: {sorted(_TASKS)}")
    return _TASKS[family]
