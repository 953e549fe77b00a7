"""Imports inside ``lab`` point down only, and the backend never imports the UI.

The layers, top to bottom (a package imports only from layers below it, never from a
sibling package of its own layer; the leaves and the composing modules may use each other):

    compose      session, studies, cli, tracking, zoo (and ``lab/__init__``'s re-exports)
    training     Trainer, tasks, checkpoints, run store; equation discovery
    problems · models · data
    diagnostics · io
    leaves       solvers, autodiff, nn, sampling, config, device, atomic, limits, workers,
                 entry_points, geometry

Why: a lower layer that reaches up drags the whole stack (and its import time, and its
circular-import traps) into every script that only wanted a solver or a metric.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "lab"

LAYERS: dict[str, tuple[str, ...]] = {
    "compose": ("session", "studies", "cli", "tracking", "zoo"),
    "training": ("training", "uq", "discovery"),
    "problems/models/data": ("problems", "models", "data"),
    "diagnostics/io": ("diagnostics", "io"),
    "leaves": ("solvers", "autodiff", "nn", "sampling", "config", "device", "atomic", "limits",
               "workers", "entry_points", "geometry"),
}
ORDER = list(LAYERS)[::-1]  # bottom first: a layer's rank is its index here
#: layers whose packages are siblings that must not import each other
SEPARATE = {"problems/models/data", "diagnostics/io"}
UI = ("panel", "holoviews", "bokeh", "widgets")

#: (importing module, imported module) -> why the upward or sideways import stays for now.
ALLOWED: dict[tuple[str, str], str] = {
    # An operator problem *is* its dataset: ``spec()`` names the generator with its parameters
    # and ``arrays()``/``datasets()`` read it through the dataset cache. The task, the
    # catalogue view, the benchmarks and the tests all call these methods on the problem;
    # inverting it (the task fetching the data for the problem) changes that public API.
    ("lab.problems.operators", "lab.data.cache"): "an operator problem loads its own dataset",
    ("lab.problems.operators", "lab.data.datasets"): "an operator problem declares its dataset spec",
    ("lab.problems.coupled_operators", "lab.data.coupled"): "an operator problem declares its dataset spec",
    ("lab.problems.geometry_operators", "lab.data.geometric"): "an operator problem declares its dataset spec",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """``(line, module)`` of every import of ``lab.*`` in ``path``, inside functions too."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            # ``from lab import atomic`` and ``from . import x`` name the module in the alias
            targets = [f"{base}.{a.name}" for a in node.names] if base == "lab" or not node.module \
                else [base]
        else:
            continue
        for t in targets:
            if t == "lab" or t.startswith("lab."):
                yield node.lineno, t


def _layer(module: str) -> str | None:
    """The layer of ``lab.<part>...``; ``None`` for ``lab`` itself and its re-exported names."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "lab":
        return None
    for layer, members in LAYERS.items():
        if parts[1] in members:
            return layer
    return None


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_every_module_of_lab_has_a_layer():
    tops = {p.stem for p in LAB.glob("*.py") if p.name != "__init__.py"} | \
        {p.parent.name for p in LAB.glob("*/__init__.py")}
    known = {part for parts in LAYERS.values() for part in parts}
    assert tops - known == set(), f"give these parts of lab a layer in {__file__}: {sorted(tops - known)}"


def test_imports_point_down_only():
    problems, used = [], set()
    for path in sorted(LAB.rglob("*.py")):
        src = _module_name(path)
        src_layer = _layer(src)
        if src_layer is None:  # lab/__init__: the facade on top re-exports from every layer
            continue
        for line, target in _imports(path):
            # ``import lab`` or ``from lab import Name``: the facade, which sits on top
            dst_layer = _layer(target) or "compose"
            if _part(src) == _part(target):
                continue
            up = ORDER.index(dst_layer) > ORDER.index(src_layer)
            sideways = dst_layer == src_layer and src_layer in SEPARATE
            if not (up or sideways):
                continue
            if (src, target) in ALLOWED:
                used.add((src, target))
                continue
            where = "a higher layer" if up else "a sibling package of the same layer"
            problems.append(f"{path.relative_to(ROOT)}:{line}: {src} ({src_layer}) imports {target} "
                            f"({dst_layer}): {where}")
    assert not problems, "\n".join(problems)
    assert set(ALLOWED) == used, f"allowances no longer needed: {sorted(set(ALLOWED) - used)}"


_PROBE = r"""
import importlib, json, pkgutil, sys
names = json.loads(sys.argv[1])
for name in names:
    mod = importlib.import_module(name)
    if hasattr(mod, "__path__"):
        for info in pkgutil.walk_packages(mod.__path__, name + "."):
            importlib.import_module(info.name)
if sys.argv[2] == "facade":
    import lab
    for attr in lab.__all__:
        getattr(lab, attr)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(names: list[str], facade: bool = False) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(names), "facade" if facade else "-"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("layer", [layer for layer in ORDER if layer != "compose"])
def test_a_layer_imports_nothing_above_it(layer):
    names = [f"lab.{p}" for p in LAYERS[layer] if (LAB / p).exists() or (LAB / f"{p}.py").exists()]
    loaded = _loaded(names)
    above = [m for m in loaded if _layer(m) and ORDER.index(_layer(m)) > ORDER.index(layer)]
    assert not above, f"importing {names} loads modules of higher layers: {above}"
    ui = [m for m in loaded if m.split(".")[0] in UI]
    assert not ui, f"importing {names} loads UI modules: {ui}"


def test_the_whole_backend_stays_ui_free():
    names = [f"lab.{p}" for parts in LAYERS.values() for p in parts
             if (LAB / p).exists() or (LAB / f"{p}.py").exists()]
    loaded = _loaded(names, facade=True)
    ui = [m for m in loaded if m.split(".")[0] in UI]
    assert not ui, f"importing lab loads UI modules: {ui}"
