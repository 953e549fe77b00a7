"""Reference solvers. Each module states a ``VERSION``, part of the key of the references
cached from it (:mod:`lab.problems.cache`): bumping it when a change alters the numbers makes
the cache recompute them instead of serving those of the old solver.
"""
from __future__ import annotations

import sys
from types import ModuleType


def versions(*modules: ModuleType) -> dict[str, str]:
    """``{module: VERSION}`` of every solver module that ``modules`` use — a name in their
    namespace that is, or was defined in, a module of this package — and that those use in
    turn (a change in :mod:`lab.solvers.spectral` changes what ``etdrk4`` returns)."""
    found: dict[str, str] = {}
    todo = list(modules)
    while todo:
        for value in vars(todo.pop()).values():
            name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
            if isinstance(name, str) and name.startswith(f"{__name__}.") and name not in found:
                module = sys.modules[name]
                found[name] = module.VERSION
                todo.append(module)
    return dict(sorted(found.items()))
