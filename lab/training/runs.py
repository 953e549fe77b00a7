"""Run records: one folder per run with its config, metrics history and checkpoint.

::

    runs/20261125-153000-burgers-mlp-3f2a/
        config.json             problem, model and training config (rebuilds everything)
        metrics.jsonl           one JSON line per logged step
        checkpoint.safetensors  last good weights (atomic writes)
        summary.json            status, final step, relative L2, message
"""
from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from lab.atomic import write_atomic
from lab.training.checkpoint import Checkpoint, load_checkpoint, optimizer_state, read_checkpoint, save_checkpoint

CHECKPOINT = "checkpoint.safetensors"


def default_runs_dir() -> Path:
    """``$SCIML_LAB_HOME/runs`` or ``~/.sciml-lab/runs``."""
    home = os.environ.get("SCIML_LAB_HOME") or Path.home() / ".sciml-lab"
    return Path(home) / "runs"


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, lambda f: f.write(json.dumps(data, indent=2, default=str).encode()))


class RunRecord:
    """Writes one run's folder; also opens an existing one to continue it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._metrics = None

    @classmethod
    def create(cls, config: dict, runs_dir: str | Path | None = None) -> "RunRecord":
        runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}-{config['problem']['key']}-{config['model']['kind']}-{secrets.token_hex(2)}"
        path = runs_dir / name
        path.mkdir(parents=True, exist_ok=False)
        rec = cls(path)
        write_json_atomic(path / "config.json", {**config, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        write_json_atomic(path / "summary.json", {"status": "running", "step": 0, "rel_l2": None})
        return rec

    @property
    def name(self) -> str:
        return self.path.name

    def config(self) -> dict:
        return json.loads((self.path / "config.json").read_text())

    def summary(self) -> dict:
        try:
            return json.loads((self.path / "summary.json").read_text())
        except (OSError, json.JSONDecodeError):
            return {"status": "unknown"}

    def log(self, row: dict) -> None:
        if self._metrics is None:
            self._metrics = open(self.path / "metrics.jsonl", "a", buffering=1)
        self._metrics.write(json.dumps(row) + "\n")

    def metrics(self) -> list[dict]:
        f = self.path / "metrics.jsonl"
        if not f.exists():
            return []
        rows = []
        for line in f.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a kill: everything before it is good
        return rows

    def save_checkpoint(self, model, metadata: dict, optimizer=None, state: dict | None = None) -> None:
        save_checkpoint(self.path / CHECKPOINT, model, metadata, optimizer, state)

    def read_checkpoint(self) -> Checkpoint:
        return read_checkpoint(self.path / CHECKPOINT)

    def load_checkpoint(self):
        return load_checkpoint(self.path / CHECKPOINT)

    def optimizer_state(self) -> dict:
        return optimizer_state(self.path / CHECKPOINT)

    def finish(self, **summary) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        write_json_atomic(self.path / "summary.json", summary)


def list_runs(runs_dir: str | Path | None = None) -> list[dict]:
    """Saved runs, newest first: name, problem, model, status, step, relative L2, path."""
    runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
    if not runs_dir.is_dir():
        return []
    out = []
    for path in sorted(runs_dir.iterdir(), reverse=True):
        if not (path / "config.json").is_file():
            continue
        rec = RunRecord(path)
        try:
            cfg = rec.config()
        except (OSError, json.JSONDecodeError):
            continue
        s = rec.summary()
        out.append({"name": path.name, "problem": cfg["problem"]["key"], "model": cfg["model"]["kind"],
                    "status": s.get("status"), "step": s.get("step"), "rel_l2": s.get("rel_l2"),
                    "created": cfg.get("created"), "path": str(path)})
    return out


def find_run(name_or_path: str, runs_dir: str | Path | None = None) -> RunRecord:
    """A run by folder path or by name inside ``runs_dir``; ``ValueError`` if there is none."""
    p = Path(name_or_path)
    if not (p / "config.json").is_file():
        p = (Path(runs_dir) if runs_dir else default_runs_dir()) / name_or_path
    if not (p / "config.json").is_file():
        raise ValueError(f"no saved run {name_or_path!r} (looked in {p.parent})")
    return RunRecord(p)
