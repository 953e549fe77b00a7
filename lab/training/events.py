"""Typed events a Trainer emits, and a bounded mailbox that lets a UI drain them.

The Trainer never knows who listens: a sink is any callable taking an event. Sinks run on
the training thread, so they must be quick; :class:`Mailbox` is the sink for UIs — it keeps
a bounded tail of steps and only the newest snapshot and preparation progress, and the UI
drains it on its own clock.
"""
from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Preparing:
    """Work before training starts, e.g. an operator task's data being generated."""
    what: str                       # "data"
    done: int                       # samples generated so far (reused ones included)
    total: int
    elapsed: float                  # seconds since the run started

    @property
    def text(self) -> str:
        return f"Generating {self.what}: {self.done} / {self.total} samples"


@dataclass(frozen=True)
class Started:
    run_id: str
    run_dir: str
    config: dict
    device: str
    n_params: int
    start_step: int = 0


@dataclass(frozen=True)
class Step:
    step: int
    phase: str                      # "adam" or "lbfgs"
    losses: dict[str, float]        # unweighted loss terms
    total: float                    # weighted total actually minimised
    lr: float
    weights: dict[str, float]
    elapsed: float                  # seconds since the run started
    extras: dict[str, Any] = field(default_factory=dict)  # method diagnostics (causal weights, …)


@dataclass(frozen=True)
class Snapshot:
    step: int
    grid: dict[str, np.ndarray]
    fields: dict[str, np.ndarray]   # "prediction", "reference", "error" on ``grid``
    rel_l2: float | None            # None (and no "reference", "error") without a reference
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Done:
    step: int
    rel_l2: float                   # NaN without a reference
    reason: str                     # "completed" or "stopped"
    run_dir: str
    elapsed: float


@dataclass(frozen=True)
class Failed:
    step: int
    message: str
    run_dir: str
    checkpoint_step: int | None     # step of the last good checkpoint kept on disk


Event = Preparing | Started | Step | Snapshot | Done | Failed


class Mailbox:
    """Thread-safe sink: bounded step history, newest snapshot and preparation progress only,
    every other event."""

    def __init__(self, max_steps: int = 2000):
        self._lock = threading.Lock()
        self._steps: collections.deque[Step] = collections.deque(maxlen=max_steps)
        self._snapshot: Snapshot | None = None
        self._preparing: Preparing | None = None
        self._other: list[Event] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, Step):
                self._steps.append(event)
            elif isinstance(event, Snapshot):
                self._snapshot = event
            elif isinstance(event, Preparing):
                self._preparing = event
            else:
                self._other.append(event)

    def drain(self) -> tuple[list[Step], Snapshot | None, list[Event]]:
        """Everything received since the last drain: steps, the newest snapshot, and the other
        events in order (the newest Preparing first: it precedes Started)."""
        with self._lock:
            steps, snap = list(self._steps), self._snapshot
            other = [self._preparing, *self._other] if self._preparing else self._other
            self._steps.clear()
            self._snapshot, self._preparing, self._other = None, None, []
        return steps, snap, other
