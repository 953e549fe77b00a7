"""Limits on concurrent trainings, with a first-come queue for the requests over them.

A served lab shares a few cores between many people: :class:`TrainingSlots` lets at most
``per_server`` trainings run at once, at most ``per_owner`` of them for one owner (a browser
session). A request over either limit waits in one queue and is granted, in order of arrival,
as soon as a running one releases its slot; the queued request knows how many are ahead of it,
so a user sees where they stand, and releasing a queued request takes it out of the queue.
Granting is pure bookkeeping (no thread, no timer): the owner sees its grant on its own clock.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Hashable


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a container's CPU quota (cgroup
    v2 ``cpu.max``; Binder and JupyterHub pods see the host's cores but get one or two)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
    except (OSError, ValueError):
        return cores  # no cgroup v2 quota to honour
    return cores if quota == "max" else max(1, min(cores, int(int(quota) / int(period))))


def default_per_server(cores: int | None = None) -> int:
    """Trainings that fit next to the server: one per core but one, kept for the web server."""
    return max(1, (cores or available_cores()) - 1)


def _check_limit(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return value


class Ticket:
    """One training's place: ``"queued"``, then ``"granted"``, then ``"released"``."""

    def __init__(self, slots: "TrainingSlots", owner: Hashable):
        self._slots, self.owner = slots, owner
        self.state = "queued"

    @property
    def queued(self) -> bool:
        return self.state == "queued"

    @property
    def granted(self) -> bool:
        return self.state == "granted"

    def ahead(self) -> int:
        """Queued requests before this one (0 when it is not queued)."""
        return self._slots._ahead(self)

    def owner_full(self) -> bool:
        """Whether this request waits for its own owner's limit (rather than the server's)."""
        return self._slots._running(self.owner) >= self._slots.per_owner

    def release(self) -> None:
        """Free the slot of a granted request, or leave the queue; repeated calls do nothing."""
        self._slots._release(self)


class TrainingSlots:
    """At most ``per_server`` trainings at once, at most ``per_owner`` per owner; the rest queue."""

    def __init__(self, per_server: int | None = None, per_owner: int = 1):
        self.per_server = _check_limit("the most trainings at once on the server (--max-trainings)",
                                       default_per_server() if per_server is None else per_server)
        self.per_owner = _check_limit("the most trainings at once per session (--max-trainings-per-session)",
                                      per_owner)
        self._lock = threading.Lock()
        self._granted: list[Ticket] = []
        self._queue: list[Ticket] = []

    def request(self, owner: Hashable) -> Ticket:
        """A ticket for one training of ``owner``: granted at once if both limits allow."""
        ticket = Ticket(self, owner)
        with self._lock:
            self._queue.append(ticket)
            self._grant()
        return ticket

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._granted)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)

    def _running(self, owner: Hashable) -> int:
        with self._lock:
            return sum(t.owner == owner for t in self._granted)

    def _ahead(self, ticket: Ticket) -> int:
        with self._lock:
            return self._queue.index(ticket) if ticket in self._queue else 0

    def _release(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.state == "granted":
                self._granted.remove(ticket)
            elif ticket.state == "queued":
                self._queue.remove(ticket)
            ticket.state = "released"
            self._grant()

    def _grant(self) -> None:
        """Grant queued tickets in order while the server has room; one whose owner is at its
        limit keeps its place without holding up the others (caller holds the lock)."""
        for ticket in list(self._queue):
            if len(self._granted) >= self.per_server:
                return
            if sum(t.owner == ticket.owner for t in self._granted) < self.per_owner:
                self._queue.remove(ticket)
                self._granted.append(ticket)
                ticket.state = "granted"
