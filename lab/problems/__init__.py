"""The problem catalogue: ``get_problem("burgers", nu=0.01)`` and ``list_problems()``.

Each module in this package defines problem classes and registers them with
:func:`register`; importing the package imports every module, so the registry is complete.
Other packages add problems through the entry-point group ``sciml_lab.problems`` (each entry
point names a module that registers problems, or a problem class), loaded on the first
:func:`list_problems`; one that fails to load is reported as a warning naming it. Your own
problem in a notebook: :func:`lab.problems.custom.define_problem`.
"""
from __future__ import annotations

import importlib
import pkgutil

from lab.entry_points import load_entry_points
from lab.problems.base import BaseProblem, PointwiseProblem, Problem
from lab.problems.domain import Domain

#: the entry-point group other packages register problems under
ENTRY_POINTS = "sciml_lab.problems"

_REGISTRY: dict[str, type[BaseProblem]] = {}


def register(cls: type[BaseProblem]) -> type[BaseProblem]:
    """Class decorator adding a concrete problem to the catalogue under ``cls.key``."""
    if not cls.key:
        raise ValueError(f"{cls.__name__} needs a non-empty 'key'")
    if cls.key in _REGISTRY and _REGISTRY[cls.key] is not cls:
        raise ValueError(f"problem key {cls.key!r} is registered twice")
    _REGISTRY[cls.key] = cls
    return cls


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name not in {"base", "cache", "domain"}:
            importlib.import_module(f"{__name__}.{mod.name}")
    load_entry_points(ENTRY_POINTS, _register_loaded)


def _register_loaded(obj) -> None:
    """An entry point's object: a module (it registered its problems) or a Problem class."""
    if isinstance(obj, type) and issubclass(obj, BaseProblem) and _REGISTRY.get(obj.key) is not obj:
        register(obj)


def list_problems() -> dict[str, type[BaseProblem]]:
    """All registered problems, key -> class, in catalogue order (by kind, then title)."""
    _load_all()
    order = {"1d+t": 0, "2d": 1, "2d+t": 2, "3d": 3, "3d+t": 4, "ode": 5, "operator": 6}
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (order.get(kv[1].kind, 9), kv[1].title)))


def get_problem(key: str, **params) -> BaseProblem:
    """Instantiate a problem; unknown keys and out-of-range parameters raise ``ValueError``."""
    problems = list_problems()
    if key not in problems:
        raise ValueError(f"unknown problem {key!r}; choose one of {sorted(problems)}")
    return problems[key](**params)


__all__ = ["BaseProblem", "Domain", "PointwiseProblem", "Problem", "get_problem", "list_problems", "register"]
