"""Extensions from other packages: entry points loaded once, a broken one a warning, not a crash.

A package adds problems or model families by declaring, in its ``pyproject.toml``::

    [project.entry-points."sciml_lab.problems"]
    my_problems = "my_package.problems"          # a module that registers problems

    [project.entry-points."sciml_lab.models"]
    my_models = "my_package.models:SineNetConfig"  # or one class

:func:`lab.problems.list_problems` and :func:`lab.models.list_models` load their group on
first use (importing ``lab`` loads nothing).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib import metadata

_loaded: set[str] = set()


def load_entry_points(group: str, use: Callable[[object], None]) -> None:
    """Load every entry point of ``group`` once per process and hand each object to ``use``;
    one that fails to import or register is reported by a warning naming it and skipped."""
    if group in _loaded:
        return
    _loaded.add(group)
    for ep in metadata.entry_points(group=group):
        try:
            use(ep.load())
        except Exception as err:  # a third-party package: never let it break the lab
            warnings.warn(f"sciml-lab: entry point {ep.name!r} ({ep.value}) in group {group!r} "
                          f"could not be loaded and is skipped: {type(err).__name__}: {err}",
                          RuntimeWarning, stacklevel=2)


def reload(group: str | None = None) -> None:
    """Forget which groups were loaded (all, or ``group``): the next listing loads them again."""
    if group is None:
        _loaded.clear()
    else:
        _loaded.discard(group)
