"""sciml-lab backend: problems, models, training and diagnostics — no UI imports.

The names users type::

    from lab import get_problem, get_model_config, TrainConfig, Trainer
    problem = get_problem("burgers")
    trainer = Trainer(problem, get_model_config("mlp", width=32), TrainConfig(steps=2000))
    result = trainer.run()

Your own PDE: :func:`lab.problems.custom.define_problem` (``from lab import define_problem,
Dirichlet``); your own model family: a :class:`lab.models.ModelConfig` with ``register_model``.

They are loaded on first use (PEP 562): importing a low layer (``lab.solvers``, ``lab.nn``)
runs this file too, and must not pull in the training stack above it.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Mailbox": "lab.training", "TrainConfig": "lab.training", "Trainer": "lab.training",
    "list_runs": "lab.training", "get_model_config": "lab.models", "list_models": "lab.models",
    "get_problem": "lab.problems", "list_problems": "lab.problems", "pick_device": "lab.device",
    "relative_l2": "lab.diagnostics.metrics", "ModelConfig": "lab.models",
    "register_model": "lab.models", "define_problem": "lab.problems.custom",
    "Dirichlet": "lab.problems.custom", "Neumann": "lab.problems.custom",
    "Robin": "lab.problems.custom", "Periodic": "lab.problems.custom",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
