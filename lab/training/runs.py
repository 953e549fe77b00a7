"""Run records: one folder per run with its config, metrics history and checkpoint.

::

    runs/20261125-153000-burgers-mlp-3f2a09/
        config.json             problem, model and training config (rebuilds everything)
        metrics.jsonl           one JSON line per logged step
        checkpoint.safetensors  last good weights (atomic writes)
        summary.json            status, final step, relative L2, message
        .lock                   an OS file lock, held by the process training the run

The store must survive what happens to folders on a real disk:

- *one writer per run*: a process writes a run only while it holds the run's lock
  (:mod:`filelock`), so a second Continue of a run still training is refused
  (:class:`RunBusy`); the OS frees the lock when its holder dies, so a run whose summary says
  "running" while nobody holds its lock was killed, and is listed as "interrupted";
- *damage stays local*: a folder with bad JSON, wrong types, missing files or a checkpoint
  written for another config is listed as "damaged" with the file and the reason
  (:class:`RunDamaged`), and every other run lists and opens as before;
- *no duplicate or hidden rows*: a damaged metrics line is skipped with a warning, and a
  continued run first drops the rows logged after its checkpoint's step (TensorBoard's
  ``purge_step``), which a killed session left behind;
- *nothing lost by a failed continuation*: its summary keeps the earlier result and records
  the failure beside it;
- *writes stay inside the folder*: no write follows a symbolic link, and temporary files of
  killed writes are removed once the lock is held.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import time
from pathlib import Path

from filelock import FileLock, Timeout
from safetensors import SafetensorError, safe_open

from lab.atomic import remove_orphans, write_atomic
from lab.training.checkpoint import Checkpoint, load_checkpoint, optimizer_state, read_checkpoint, save_checkpoint

log = logging.getLogger(__name__)

CONFIG, SUMMARY, METRICS = "config.json", "summary.json", "metrics.jsonl"
CHECKPOINT = "checkpoint.safetensors"
LOCK = ".lock"
#: statuses a summary may hold; listing adds "interrupted" (killed) and "damaged"
STATUSES = ("running", "completed", "stopped", "failed")
#: how long taking a run's lock waits, so a listing that probes the lock is not taken for a trainer
LOCK_WAIT_S = 2.0


class RunDamaged(ValueError):
    """A run folder's file is missing, unreadable or inconsistent; names the file and why."""

    def __init__(self, run: str, file: str, reason: str):
        self.run, self.file, self.reason = run, file, reason
        super().__init__(f"run {run} is damaged: {file}: {reason}")


class RunBusy(ValueError):
    """The run is being trained by another process or app session (it holds the run's lock)."""

    def __init__(self, run: str):
        super().__init__(f"run {run} is being trained by another process or session; "
                         "stop it there or wait for it to finish, then continue it")


def default_runs_dir() -> Path:
    """``$SCIML_LAB_HOME/runs`` or ``~/.sciml-lab/runs``."""
    home = os.environ.get("SCIML_LAB_HOME") or Path.home() / ".sciml-lab"
    return Path(home) / "runs"


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, lambda f: f.write(json.dumps(data, indent=2, default=str).encode()))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class RunRecord:
    """Writes one run's folder; also opens an existing one to continue it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._metrics = None
        self._lock: FileLock | None = None
        self._previous: dict | None = None  # the summary when the lock was taken

    @classmethod
    def create(cls, config: dict, runs_dir: str | Path | None = None) -> "RunRecord":
        """A new run folder, locked by this process; the name is unique even for runs of one
        problem and model created in the same second (``mkdir`` claims it atomically)."""
        runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{config['problem']['key']}-{config['model']['kind']}-{secrets.token_hex(3)}"
        for n in range(1, 1000):
            path = runs_dir / (base if n == 1 else f"{base}-{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"no free run name like {base} in {runs_dir}")
        rec = cls(path)
        rec.lock()
        write_json_atomic(path / CONFIG, {**config, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        write_json_atomic(path / SUMMARY, {"status": "running", "step": 0, "rel_l2": None})
        return rec

    @property
    def name(self) -> str:
        return self.path.name

    # ---- reading, with every file checked ------------------------------------------------
    def _damaged(self, file: str, reason: str) -> RunDamaged:
        return RunDamaged(self.name, file, reason)

    def _read_json(self, file: str) -> dict:
        p = self.path / file
        if p.is_symlink():
            raise self._damaged(file, "is a symbolic link; a run's files live in its folder")
        try:
            data = json.loads(p.read_bytes())
        except FileNotFoundError:
            raise self._damaged(file, "missing") from None
        except OSError as err:
            raise self._damaged(file, f"unreadable ({err.strerror or err})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise self._damaged(file, f"not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise self._damaged(file, f"holds a JSON {type(data).__name__}, not an object")
        return data

    def config(self) -> dict:
        """``config.json``; :class:`RunDamaged` unless it names a problem, a model and training."""
        cfg = self._read_json(CONFIG)
        for part, name in (("problem", "key"), ("model", "kind")):
            entry = cfg.get(part)
            if not (isinstance(entry, dict) and isinstance(entry.get(name), str)
                    and isinstance(entry.get("params"), dict)):
                raise self._damaged(CONFIG, f"'{part}' must be an object with a '{name}' string "
                                            f"and a 'params' object, not {entry!r}")
        if not isinstance(cfg.get("train"), dict):
            raise self._damaged(CONFIG, f"'train' must be an object, not {cfg.get('train')!r}")
        return cfg

    def summary(self) -> dict:
        """``summary.json``; :class:`RunDamaged` unless status, step and relative L2 have their types."""
        s = self._read_json(SUMMARY)
        if s.get("status") not in STATUSES:
            raise self._damaged(SUMMARY, f"status {s.get('status')!r} is not one of {', '.join(STATUSES)}")
        if not (_is_int(s.get("step")) and s["step"] >= 0):
            raise self._damaged(SUMMARY, f"step {s.get('step')!r} is not a whole number >= 0")
        rel = s.get("rel_l2")
        if rel is not None and (isinstance(rel, bool) or not isinstance(rel, (int, float))):
            raise self._damaged(SUMMARY, f"rel_l2 {rel!r} is not a number")
        return s

    def _checkpoint_metadata(self) -> dict | None:
        """The checkpoint's JSON metadata, read from its header only; ``None`` if there is none."""
        p = self.path / CHECKPOINT
        if p.is_symlink():
            raise self._damaged(CHECKPOINT, "is a symbolic link; a run's files live in its folder")
        if not p.exists():
            return None
        try:
            with safe_open(p, framework="pt") as f:
                meta = json.loads((f.metadata() or {}).get("sciml_lab", "{}"))
        except (OSError, SafetensorError, ValueError) as err:
            raise self._damaged(CHECKPOINT, f"not a readable checkpoint ({err})") from None
        if not isinstance(meta, dict):
            raise self._damaged(CHECKPOINT, "its metadata is not a JSON object")
        return meta

    def _check_links(self) -> None:
        """:class:`RunDamaged` if the folder or one of its files is a symbolic link: writes never
        follow one out of the runs folder."""
        if self.path.is_symlink():
            raise self._damaged(".", f"the run folder is a symbolic link (to {os.readlink(self.path)}); "
                                     "runs are written only inside the runs folder")
        for file in (CONFIG, SUMMARY, METRICS, CHECKPOINT, LOCK):
            if (self.path / file).is_symlink():
                raise self._damaged(file, "is a symbolic link; a run's files live in its folder")

    def check(self) -> dict | None:
        """Raise :class:`RunDamaged` for the first damaged file of the folder; returns the
        checkpoint's metadata (``None`` while there is no checkpoint)."""
        self._check_links()
        cfg, summary, meta = self.config(), self.summary(), self._checkpoint_metadata()
        if meta is None:
            if summary["status"] in ("completed", "stopped"):
                raise self._damaged(CHECKPOINT, f"missing, though the run is {summary['status']}")
            return None
        for part in ("problem", "model"):
            if part in meta and meta[part] != cfg[part]:
                raise self._damaged(CHECKPOINT, f"was written for {part} {meta[part]}, but "
                                                f"{CONFIG} has {cfg[part]}")
        return meta

    def metrics(self) -> list[dict]:
        """The logged rows; a damaged line (cut short by a kill, or garbage) is skipped with a
        warning, and the rows after it are kept."""
        f = self.path / METRICS
        if not f.exists():
            return []
        rows, bad = [], []
        for n, line in enumerate(f.read_bytes().decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if isinstance(row, dict) and _is_int(row.get("step")):
                rows.append(row)
            else:
                bad.append(n)
        if bad:
            log.warning("run %s: %s: skipped %d damaged line(s): %s", self.name, METRICS, len(bad),
                        ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else ""))
        return rows

    def read_checkpoint(self) -> Checkpoint:
        return read_checkpoint(self.path / CHECKPOINT)

    def load_checkpoint(self):
        return load_checkpoint(self.path / CHECKPOINT)

    def optimizer_state(self) -> dict:
        return optimizer_state(self.path / CHECKPOINT)

    # ---- the one writer -------------------------------------------------------------------
    def lock(self) -> None:
        """Take the run's lock for this process; :class:`RunBusy` if another process or session
        holds it, :class:`RunDamaged` if the folder or one of its files is a symbolic link.
        Temporary files that killed writes left in the folder are removed."""
        if self._lock is not None:
            return
        self._check_links()
        lock = FileLock(self.path / LOCK)
        try:
            lock.acquire(timeout=LOCK_WAIT_S)
        except Timeout:
            raise RunBusy(self.name) from None
        self._lock = lock
        remove_orphans(self.path)
        try:
            self._previous = self.summary()
        except RunDamaged:  # a new run has none yet
            self._previous = None

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def trained_elsewhere(self) -> bool:
        """Whether another process or session holds the run's lock (trains it now). Where the
        lock is free, temporary files that killed writes left behind are removed."""
        if self._lock is not None:
            return False
        probe = FileLock(self.path / LOCK)
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        except OSError:  # a read-only runs folder: nobody can be writing there
            return False
        try:
            remove_orphans(self.path)
        finally:
            probe.release()
        return False

    def check_continuable(self) -> None:
        """Raise :class:`RunDamaged` if a file of the run is damaged, :class:`RunBusy` if another
        process or session trains it now."""
        self.check()
        if self.trained_elsewhere():
            raise RunBusy(self.name)

    def reopen(self, step: int) -> None:
        """Continue this run from its checkpoint at ``step``: take its lock, drop the metric rows
        logged after ``step`` (a killed session's rows would repeat) and mark it running; its
        earlier result stays in the summary until this session finishes."""
        self.lock()
        self.truncate_metrics(step)
        earlier = {k: v for k, v in (self._previous or {}).items() if k not in ("message", "failure")}
        write_json_atomic(self.path / SUMMARY, {**earlier, "status": "running"})

    def truncate_metrics(self, step: int) -> None:
        """Keep only the rows up to ``step`` (damaged lines go too), as TensorBoard's ``purge_step``."""
        f = self.path / METRICS
        if f.exists():
            keep = [r for r in self.metrics() if r["step"] <= step]
            write_atomic(f, lambda fh: fh.write("".join(json.dumps(r) + "\n" for r in keep).encode()))

    def log(self, row: dict) -> None:
        if self._metrics is None:
            fd = os.open(self.path / METRICS, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            self._metrics = os.fdopen(fd, "a", buffering=1)
        self._metrics.write(json.dumps(row) + "\n")

    def save_checkpoint(self, model, metadata: dict, optimizer=None, state: dict | None = None) -> None:
        save_checkpoint(self.path / CHECKPOINT, model, metadata, optimizer, state)

    def finish(self, **summary) -> None:
        """Write the summary and give the run's lock back. A failed continuation keeps the
        earlier result (step, relative L2) and records the failure under ``failure``."""
        try:
            if self._metrics is not None:
                self._metrics.close()
                self._metrics = None
            if self._lock is None:  # another process owns the folder: leave its summary alone
                return
            if summary.get("status") == "failed":
                failure = {k: v for k, v in summary.items() if k != "status"}
                earlier = self._previous if self._previous and self._previous["status"] != "running" else {}
                summary = {**summary, **earlier, "status": "failed", "message": failure.get("message"),
                           "failure": failure}
            write_json_atomic(self.path / SUMMARY, summary)
        finally:
            self._unlock()

    # ---- listing --------------------------------------------------------------------------
    def row(self) -> dict:
        """What the run lists as; a damaged run has status "damaged" and the file and reason in
        ``note``, a killed one status "interrupted"."""
        row = {"name": self.name, "problem": None, "model": None, "status": "damaged", "step": None,
               "rel_l2": None, "created": None, "path": str(self.path), "note": ""}
        try:
            cfg = self.config()
            row.update(problem=cfg["problem"]["key"], model=cfg["model"]["kind"],
                       created=cfg.get("created") if isinstance(cfg.get("created"), str) else None)
            s = self.summary()
            row.update(step=s["step"], rel_l2=s.get("rel_l2"))
            meta = self.check()
        except RunDamaged as err:
            row["note"] = f"{err.file}: {err.reason}"
            return row
        status = s["status"]
        if status == "running" and not self.trained_elsewhere():
            status = "interrupted"
            if meta is None:
                row["note"] = "the process training it ended before its first checkpoint"
            else:  # what a continuation starts from
                row["step"] = meta.get("step", row["step"])
                row["note"] = f"the process training it ended; continue it from step {row['step']}"
        elif isinstance(s.get("message"), str):
            row["note"] = s["message"]
        row["status"] = status
        return row


def list_runs(runs_dir: str | Path | None = None) -> list[dict]:
    """Saved runs, newest first: name, problem, model, status, step, relative L2, created, path
    and a note (why a run is damaged, interrupted or failed). One damaged folder never hides
    the others."""
    runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
    if not runs_dir.is_dir():
        return []
    out = []
    for path in sorted(runs_dir.iterdir(), reverse=True):
        if path.name.startswith(".") or not (path.is_dir() or path.is_symlink()):
            continue
        rec = RunRecord(path)
        if not path.is_symlink() and not (path / CONFIG).exists() and rec.trained_elsewhere():
            continue  # being created this very moment
        out.append(rec.row())
    return out


def find_run(name_or_path: str, runs_dir: str | Path | None = None) -> RunRecord:
    """A run by folder path or by name inside ``runs_dir`` (a damaged one too: reading it
    raises :class:`RunDamaged`); ``ValueError`` if there is none."""
    p = Path(name_or_path)
    if (p / CONFIG).is_file():
        return RunRecord(p)
    runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
    p = runs_dir / name_or_path
    if name_or_path not in ("", ".", "..") and os.sep not in name_or_path and (p.is_dir() or p.is_symlink()):
        return RunRecord(p)
    raise ValueError(f"no saved run {name_or_path!r} (looked in {runs_dir})")
