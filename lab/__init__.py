"""sciml-lab backend: problems, models, training and diagnostics — no UI imports.

The names users type::

    from lab import get_problem, get_model_config, TrainConfig, Trainer
    problem = get_problem("burgers")
    trainer = Trainer(problem, get_model_config("mlp", width=32), TrainConfig(steps=2000))
    result = trainer.run()

A trained model shipped with the repository (the model zoo: problem, network, card)::

    from lab import zoo
    entry = zoo.load("burgers-pinn")      # zoo.list(), zoo.show(name)
    entry.model, entry.problem, entry.card["rel_l2"]

Your own PDE: :func:`lab.problems.custom.define_problem` (``from lab import define_problem,
Dirichlet``), or a :class:`Problem` subclass with ``register_problem``; your own model family: a
:class:`lab.models.ModelConfig` with ``register_model``; your own spectral solver: an equation
of the semilinear protocol stepped by :func:`lab.solvers.time_stepping.solve`.

These names are the stable API (listed in ``__all__``; see CHANGELOG.md for changes); the
modules below them are importable but may change between releases.

They are loaded on first use (PEP 562): importing a low layer (``lab.solvers``, ``lab.nn``)
runs this file too, and must not pull in the training stack above it.
"""
from __future__ import annotations

import importlib

#: each public name -> the module that defines it (``module:name`` where the name differs)
_EXPORTS = {
    # a run: problem + model + training settings -> Trainer, its events, its record
    "get_problem": "lab.problems", "list_problems": "lab.problems",
    "get_model_config": "lab.models", "list_models": "lab.models",
    "TrainConfig": "lab.training", "Trainer": "lab.training", "Mailbox": "lab.training",
    "Step": "lab.training", "Snapshot": "lab.training", "list_runs": "lab.training",
    "RunSpec": "lab.session", "pick_device": "lab.device", "relative_l2": "lab.diagnostics.metrics",
    # your own PDE, model family and solver
    "define_problem": "lab.problems.custom", "Dirichlet": "lab.problems.custom",
    "Neumann": "lab.problems.custom", "Robin": "lab.problems.custom", "Periodic": "lab.problems.custom",
    "Problem": "lab.problems", "PointwiseProblem": "lab.problems", "Domain": "lab.problems",
    "OperatorProblem": "lab.problems.operators", "register_problem": "lab.problems:register",
    "ModelConfig": "lab.models", "register_model": "lab.models",
    "solve": "lab.solvers.time_stepping",
}
#: public submodules, loaded on first use too: ``lab.zoo.load("burgers-pinn")``
_SUBMODULES = ("zoo",)

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"lab.{name}")  # the import binds it on the package
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lab' has no attribute {name!r}")
    module, _, attr = _EXPORTS[name].partition(":")
    value = getattr(importlib.import_module(module), attr or name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
