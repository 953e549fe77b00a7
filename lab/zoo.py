"""The model zoo: trained models shipped in the repository, each with its card.

::

    zoo/burgers-pinn/
        config.json         the run's spec (:class:`lab.session.RunSpec`): rebuilds problem and network
        model.safetensors   the weights only, in float16 where that keeps the run's error, else float32
        card.json           what it is and where it came from (below)
        metrics.jsonl       the logged losses of its training (the loss curves the app draws)

A card holds the problem and model; the relative L2 error of the *stored* weights (``rel_l2``,
what :func:`load` reproduces), of the weights as trained (``rel_l2_trained``, float32 unless the
run said otherwise) and of those rounded to float16 (``rel_l2_float16``); the dtype stored and the
tolerance that chose it; the steps and wall time of the training (completed, or stopped before the
steps it had planned); where it ran (device, processor, torch version); the date; the commit
checked out when the entry was added; the SHA-256 of ``model.safetensors``; and ``seeds``, how
the recipe's error spreads when it is trained again with other seeds (:func:`set_seeds`), or why
that was not measured.

* :func:`list` — the entries, one row each; :func:`show` — one entry's card and config;
* :func:`load` — an entry rebuilt on the CPU in float32, eval mode (:class:`ZooModel`): its
  problem, its network, its card, and its evaluation through :mod:`lab.session`, the path a
  saved run's *Open* takes, so every view works on it;
* :func:`add` — a finished run folder turned into an entry (``sciml-lab zoo add RUN --name NAME``).

Loading checks the weights file against the card's checksum first: a damaged or altered
file is refused with :class:`ZooDamaged` naming it, and never loaded. Nothing is downloaded:
the entries are files of the repository (``$SCIML_LAB_ZOO`` points elsewhere).
"""
from __future__ import annotations

import builtins
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lab.atomic import write_atomic
from lab.session import RunSpec, SavedRun, from_weights, rebuild
from lab.training.checkpoint import read_checkpoint, save_checkpoint
from lab.training.events import Snapshot
from lab.training.runs import METRICS, RunRecord, find_run, write_json_atomic

__all__ = ["HALF_TOLERANCE", "REPRODUCE_RTOL", "ZooDamaged", "ZooModel", "add", "half_meets", "list", "load",
           "set_seeds", "show", "spread", "zoo_dir"]

CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "card.json"
#: float16 is stored where its error is at most this much (relative) above that of the weights as trained
HALF_TOLERANCE = 0.01
#: how closely a loaded entry's error must match its card (relative), on any CPU
REPRODUCE_RTOL = 1e-3
#: an entry's name: lower case letters, digits, ``-`` and ``_``
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: the card's keys that ``zoo list`` shows
ROW = ("name", "problem", "model", "rel_l2", "dtype", "bytes", "steps", "device", "seeds")


class ZooDamaged(ValueError):
    """A zoo entry's file is missing, unreadable or does not match its card; names the file."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"zoo file {path}: {reason}")


def zoo_dir() -> Path:
    """``$SCIML_LAB_ZOO``, else the repository's ``zoo/`` beside the ``lab`` package."""
    env = os.environ.get("SCIML_LAB_ZOO")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "zoo"


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"zoo entry names are lower-case letters, digits, '-' and '_' (up to 64), not {name!r}")


def _entry(name: str, zoo: str | Path | None) -> Path:
    root = Path(zoo) if zoo is not None else zoo_dir()
    _check_name(name)
    path = root / name
    if not (path / CARD).is_file():
        known = ", ".join(r["name"] for r in list(zoo)) or "none"
        raise ValueError(f"no zoo entry {name!r} in {root} (entries: {known})")
    return path


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except OSError as err:
        raise ZooDamaged(path, f"unreadable ({err.strerror or err})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ZooDamaged(path, f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ZooDamaged(path, f"holds a JSON {type(data).__name__}, not an object")
    return data


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def list(zoo: str | Path | None = None) -> builtins.list[dict]:  # noqa: A001 - lab.zoo.list()
    """One row per entry, by name: name, problem, model, rel_l2, dtype, bytes, steps, device, seeds
    (a card that cannot be read is listed with its reason under ``damaged``)."""
    root = Path(zoo) if zoo is not None else zoo_dir()
    rows = []
    for path in sorted(root.iterdir()) if root.is_dir() else ():
        if not NAME.match(path.name) or not (path / CARD).is_file():  # e.g. an add in progress
            continue
        try:
            card = _read_json(path / CARD)
            rows.append({k: card.get(k) for k in ROW} | {"name": path.name})
        except ZooDamaged as err:
            rows.append({k: None for k in ROW} | {"name": path.name, "damaged": str(err)})
    return rows


def show(name: str, zoo: str | Path | None = None) -> dict:
    """``{"card": ..., "config": ...}`` of the entry ``name``."""
    path = _entry(name, zoo)
    return {"card": _read_json(path / CARD), "config": _read_json(path / CONFIG)}


def set_seeds(name: str, seeds: dict, zoo: str | Path | None = None) -> dict:
    """Record on ``name``'s card how its recipe's error spreads over seeds; returns the card.

    ``seeds`` is ``{"seeds": n, "min", "median", "max", "device", "file"}`` measured by training
    the entry's config again with seeds 0..n-1 (``benchmarks/zoo_seeds.py``), or ``{"seeds": 1,
    "why": ...}`` where only the entry's own seed was trained and why. A model is one draw of its
    recipe: the spread says how much of its error a user training it again should expect."""
    if not isinstance(seeds, dict) or not isinstance(seeds.get("seeds"), int) or seeds["seeds"] < 1:
        raise ValueError(f"seeds must be a summary with a positive count under 'seeds', not {seeds!r}")
    if seeds["seeds"] == 1 and not seeds.get("why"):
        raise ValueError("a single seed needs 'why': the reason no other seed was trained")
    path = _entry(name, zoo) / CARD
    card = _read_json(path) | {"seeds": seeds}
    write_json_atomic(path, card)
    return card


def spread(card: dict) -> str:
    """The card's seed spread in a few words: ``"10 seeds 1.5e-03..1.0e-02"`` or ``"1 seed"``."""
    seeds = card.get("seeds") or {}
    if seeds.get("seeds", 1) > 1:
        return f"{seeds['seeds']} seeds {seeds['min']:.1e}..{seeds['max']:.1e}"
    return "1 seed" if seeds else "-"


@dataclass
class ZooModel:
    """A zoo entry rebuilt: its card and the saved run :mod:`lab.session` made of it."""

    name: str
    card: dict
    saved: SavedRun

    @property
    def problem(self):
        return self.saved.problem

    @property
    def model(self) -> torch.nn.Module:
        """The network, float32 (the run's dtype) on the CPU, in eval mode."""
        return self.saved.model

    @property
    def spec(self) -> RunSpec:
        return self.saved.spec

    def evaluate(self) -> Snapshot:
        """The stored weights against the reference, as a saved run's *Open* evaluates them."""
        return self.saved.evaluate()

    def history(self) -> builtins.list[dict]:
        return self.saved.history()


def load(name: str, zoo: str | Path | None = None, *, device: str = "cpu") -> ZooModel:
    """The entry ``name`` rebuilt on ``device`` (the CPU unless asked), after its weights file
    matched the card's SHA-256: a damaged or altered file raises :class:`ZooDamaged` naming it.
    Its ``spec`` trains on this machine's best device (``"auto"``), whichever device trained it:
    a recipe trained on a GPU then also runs where there is none."""
    return _load_folder(_entry(name, zoo), device)


def _load_folder(path: Path, device: str = "cpu") -> ZooModel:
    card, weights_file = _read_json(path / CARD), path / WEIGHTS
    if not weights_file.is_file():
        raise ZooDamaged(weights_file, "missing")
    if _sha256(weights_file) != card.get("sha256"):
        raise ZooDamaged(weights_file, "its content does not match the SHA-256 its card records; "
                                       "the file is damaged or was altered, and is not loaded")
    config = _read_json(path / CONFIG)
    if isinstance(config.get("train"), dict):  # retrained here on the best device there is; the card says where it ran
        config["train"]["device"] = "auto"
    try:
        spec = RunSpec.from_dict(config)
    except ValueError as err:
        raise ZooDamaged(path / CONFIG, str(err)) from None
    try:
        weights = read_checkpoint(weights_file).weights
    except ValueError as err:
        raise ZooDamaged(weights_file, str(err)) from None

    def refuse(reason: str) -> Exception:
        return ZooDamaged(weights_file, f"does not fit the model {CONFIG} describes ({reason})")

    name = card.get("name") or path.name
    # the logged losses are read as a run folder's are (a damaged line is skipped, with a warning)
    saved = from_weights(name, spec, weights, int(card.get("steps") or 0), RunRecord(path).metrics,
                         device=device, refuse=refuse)
    return ZooModel(name, card, saved)


def half_meets(rel_l2_half: float, rel_l2_trained: float, tolerance: float = HALF_TOLERANCE) -> bool:
    """Whether float16 weights keep the run's error: at most ``tolerance`` (relative) above the
    error of the weights as trained."""
    return rel_l2_half <= rel_l2_trained * (1.0 + tolerance)


def _processor() -> str:
    """The CPU's model name and core count where the OS says them (Linux), else its architecture."""
    info = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
             if line.startswith("model name")] if info.is_file() else []
    return f"{names[0]} ({os.cpu_count()} cores)" if names else platform.processor() or platform.machine()


def _commit() -> str | None:
    """The commit of the code checkout (``None`` outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def add(run: str | Path, name: str, zoo: str | Path | None = None, *, runs_dir=None,
        tolerance: float = HALF_TOLERANCE, description: str = "", replace: bool = False) -> dict:
    """Turn the run ``run`` (a name in ``runs_dir`` or a path; completed, or stopped at its last
    checkpoint) into the zoo entry ``name``; returns its card.

    The run is evaluated on the CPU with its weights as trained (float32) and with the same
    weights rounded to float16; float16 is stored when :func:`half_meets` (``tolerance``), else
    the weights as trained. The
    card records the error of what is stored, measured by loading the written entry back."""
    _check_name(name)
    if not tolerance >= 0:
        raise ValueError(f"the half-precision tolerance must be >= 0 (a fraction of the float32 error), "
                         f"not {tolerance}")
    root = Path(zoo) if zoo is not None else zoo_dir()
    path = root / name
    if path.exists() and not replace:
        raise ValueError(f"zoo entry {name!r} exists in {root}; pass replace=True (--replace) to overwrite it")
    record = find_run(str(run), runs_dir)
    saved = rebuild(record.path)
    summary = record.summary()
    if summary.get("status") not in ("completed", "stopped") or record.trained_elsewhere():
        raise ValueError(f"run {saved.name} is {summary.get('status')}: a zoo entry is made of a completed "
                         "or stopped run (its card records which, and the steps it had planned)")
    rel32 = saved.evaluate().rel_l2  # the weights as trained (float32 unless the run said otherwise)
    if rel32 is None:
        raise ValueError(f"run {saved.name}'s problem has no reference: a zoo entry records its error")
    # copies: state_dict() shares the parameters' storage, which the float16 trial overwrites
    trained = {k: v.detach().to("cpu", copy=True) for k, v in saved.model.state_dict().items()}
    half = {k: v.half() if v.is_floating_point() else v for k, v in trained.items()}
    saved.model.load_state_dict(half)  # rounded to float16, computed in the run's dtype
    rel16 = saved.evaluate().rel_l2
    use_half = half_meets(rel16, rel32, tolerance)

    tmp = root / f".{name}.adding"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_checkpoint(tmp / WEIGHTS, _Weights(half if use_half else trained), {"step": saved.step, "zoo": name})
    write_json_atomic(tmp / CONFIG, saved.spec.to_dict())
    rows = record.metrics()
    write_atomic(tmp / METRICS, lambda f: f.write("".join(json.dumps(r) + "\n" for r in rows).encode()))
    cfg = saved.spec.to_dict()
    card = {
        "name": name, "description": description,
        "problem": saved.spec.problem, "problem_title": saved.problem.title, "model": saved.spec.model,
        "parameters": sum(p.numel() for p in saved.model.parameters()),
        "rel_l2": None, "rel_l2_trained": rel32, "rel_l2_float16": rel16,
        "dtype": "float16" if use_half else str(saved.dtype).removeprefix("torch."), "half_tolerance": tolerance,
        "reproduce_rtol": REPRODUCE_RTOL,
        "status": summary["status"], "steps": saved.step,
        "planned": {"adam": cfg["train"].get("steps"), "lbfgs": cfg["train"].get("lbfgs_steps")},
        "wall_s": summary.get("elapsed"),
        "device": summary.get("device") or str(cfg["train"].get("device", "cpu")),
        "processor": _processor(), "torch": torch.__version__,
        "trained": record.config().get("created"), "added": time.strftime("%Y-%m-%d"), "commit": _commit(),
        "run": saved.name, "sha256": _sha256(tmp / WEIGHTS), "bytes": (tmp / WEIGHTS).stat().st_size,
    }
    write_json_atomic(tmp / CARD, card)
    card["rel_l2"] = _load_folder(tmp).evaluate().rel_l2  # what a later load reproduces
    write_json_atomic(tmp / CARD, card)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return card


class _Weights(torch.nn.Module):
    """A module whose ``state_dict()`` is ``weights`` as given (what :func:`save_checkpoint` writes)."""

    def __init__(self, weights: dict[str, torch.Tensor]):
        super().__init__()
        self._weights = weights

    def state_dict(self, *args, **kwargs):  # noqa: ARG002 - the given weights, nothing else
        return dict(self._weights)
