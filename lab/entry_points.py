"""Extensions from other packages: entry points loaded once, a broken one a warning, not a crash.

A package adds problems or model families by declaring, in its ``pyproject.toml``::

    [project.entry-points."sciml_lab.problems"]
    my_problems = "my_package.problems"          # a module that registers problems

    [project.entry-points."sciml_lab.models"]
    my_models = "my_package.models:SineNetConfig"  # or one class

:func:`lab.problems.list_problems` and :func:`lab.models.list_models` load their group on
first use (importing ``lab`` loads nothing). A user's file or module given to the CLI
(``--module my_pde.py``) is imported by :func:`load_user_module`, which remembers it in
``USER_MODULES`` so a training worker process imports it too (:mod:`lab.training.process`).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

_loaded: set[str] = set()
#: the user modules imported by :func:`load_user_module`, in order
USER_MODULES: list[str] = []


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


def load_user_module(spec: str) -> None:
    """Import a user's module so the problems and models it defines register: a file path
    (``my_pde.py``) or an importable dotted name (``my_package.problems``). Refusals are
    ``ValueError`` naming ``--module`` and the file."""
    path = Path(spec)
    if spec.endswith(".py") or path.exists():
        if not path.is_file():
            raise ValueError(f"--module {spec!r}: no such file")
        spec = str(path.resolve())
        name = f"sciml_lab_user_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, spec)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as err:
            del sys.modules[name]
            raise ValueError(f"--module {spec!r} failed to import: {type(err).__name__}: {err}") from None
    else:
        try:
            importlib.import_module(spec)
        except ImportError as err:
            raise ValueError(f"--module {spec!r} is neither a .py file nor an importable module: {err}") from None
    if spec not in USER_MODULES:
        USER_MODULES.append(spec)

