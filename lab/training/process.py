"""A Trainer in a worker process: the server's event loop keeps its core, Stop acts at once.

``ProcessTrainer(trainer).start()`` sends a not-yet-started :class:`~lab.training.Trainer`
(pickled whole: problem, configs, checkpoint state) to a new process, which trains it exactly
as ``Trainer.run()`` does (the run folder is written there, as by a thread) and streams every
event back through a pipe. In this process a relay thread receives them and calls the sinks, so
views subscribe as they do to a Trainer; ``stop``, ``pause`` and ``resume_training`` are one
message on a second pipe, which a thread in the worker hands to the Trainer's own controls.
The object keeps the attributes and controls of a Trainer that views use (``problem``,
``config``, ``step``, ``model``, ``result``, ``join``, ...), so a view need not know which runs.

Why processes: torch releases the GIL inside its kernels, but the Python of a training loop
(optimiser, autograd bookkeeping, events) holds it, so trainings run as threads of a web server
starve its event loop — on two cores, four trainings made plots update in bursts 10–25 s apart
and Stop take 19 s. A worker runs with ``threads`` torch threads (one by default) at a lower
priority (``nice``), so the server answers first.

Why the standard library's ``multiprocessing`` and not a ``dask.distributed`` cluster: each
training needs a private, immediate, two-way channel (events out, Stop in) and nothing else; a
pipe gives that with no scheduler, no extra long-lived processes and no package beyond Python,
which matters on Binder (2 GB). Dask stays the engine of studies, which schedule many runs
without watching each live. The ``spawn`` start method, because a forked torch process may
deadlock in OpenMP or CUDA state inherited from its parent; a worker therefore costs one
interpreter start (importing torch: a few seconds), paid once per training.

Failure policy: the worker stops (and checkpoints) when the server goes away, whichever way
(its control pipe closes); a worker that dies (killed, out of memory) ends the run here with a
:class:`Failed` event naming the last checkpoint, which stays on disk, and the run lists as
``interrupted``. At interpreter exit a live worker is stopped and waited for
(:mod:`lab.workers`).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import socket
import threading
from collections.abc import Callable

import torch

from lab.entry_points import USER_MODULES, load_user_module
from lab.training import distributed, inverse
from lab.training.events import Done, Event, Failed, Snapshot, Started, Step
from lab.training.runs import RunRecord
from lab.training.trainer import Trainer
from lab.workers import finish_at_exit

log = logging.getLogger(__name__)

CONTEXT = multiprocessing.get_context("spawn")
#: scheduling priority a worker gives up: the lowest, so the web server in the parent (and a
#: browser on the same machine) take the CPU whenever they need it and a worker trains on what is
#: left (at 5, four workers on two cores still held Stop back 5-9 s and page loads 20-40 s)
NICE = 19
_COMMANDS = {"stop": Trainer.stop, "pause": Trainer.pause, "resume": Trainer.resume_training}


class ProcessTrainer:
    """Runs a not-yet-started ``trainer`` in a worker process; controlled like a Trainer."""

    def __init__(self, trainer: Trainer, *, threads: int = 1, ranks: int = 1):
        """``ranks > 1``: a data-parallel run (:mod:`lab.training.distributed`) on that many
        worker processes, one GPU each where there are GPUs; rank 0 sends the events."""
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads (torch threads of the worker) must be at least 1, not {threads!r}")
        distributed.check_ranks(ranks, "GPUs (ranks of a data-parallel run)")
        distributed.check(trainer.problem, trainer.model_config, trainer.config, distributed.Group(0, ranks))
        self.ranks = ranks
        self._helpers: list = []  # the worker processes of ranks 1, 2, ...
        _check_travels(trainer)
        self._payload = pickle.dumps(trainer)  # anything that cannot travel fails here, not in the worker
        self._modules = list(USER_MODULES)  # the worker imports them before it unpickles
        self.problem, self.model_config, self.config = trainer.problem, trainer.model_config, trainer.config
        self.runs_dir, self.step, self.threads = trainer.runs_dir, trainer.step, threads
        self.result = None
        self.run_dir = ""
        self._sinks: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        self._process = None
        self._relay: threading.Thread | None = None
        self._control = None
        self._commands: list[str] = []   # given before start, sent on start
        self._paused = False
        self._weights: dict | None = None
        self._model: torch.nn.Module | None = None
        self._loaded = None              # the weights self._model holds

    # ---- control (the Trainer's) ---------------------------------------------------------
    def subscribe(self, sink: Callable[[Event], None]) -> None:
        self._sinks.append(sink)

    def start(self) -> threading.Thread:
        """Start the worker and the relay thread; returns the relay (``join`` it to wait)."""
        if self._process is not None:
            raise RuntimeError("this trainer has already been started")
        events, events_out = CONTEXT.Pipe(duplex=False)
        control_in, control = CONTEXT.Pipe(duplex=False)
        envs = _rank_environments(self.ranks)
        self._process = CONTEXT.Process(target=work, args=(self._payload, events_out, control_in, self.threads,
                                                                  self._modules, envs[0]),
                                        name="sciml-lab-training", daemon=True)
        self._process.start()
        for env in envs[1:]:
            helper = CONTEXT.Process(target=work_rank, args=(self._payload, self.threads, self._modules, env),
                                     name=f"sciml-lab-training-rank{env['RANK']}", daemon=True)
            helper.start()
            self._helpers.append(helper)
        events_out.close()   # only the worker writes events: its exit ends our reads with EOF
        control_in.close()
        with self._lock:
            self._control = control
            for command in self._commands:
                control.send(command)
        self._relay = threading.Thread(target=self._listen, args=(events,), name="sciml-lab-trainer-relay",
                                       daemon=True)
        self._relay.start()
        finish_at_exit(self._relay, self.stop)
        return self._relay

    def stop(self) -> None:
        """Ask the worker to stop at its next step; it checkpoints, and its Done ends the relay."""
        self._command("stop")

    def pause(self) -> None:
        self._paused = True
        self._command("pause")

    def resume_training(self) -> None:
        self._paused = False
        self._command("resume")

    @property
    def is_running(self) -> bool:
        return self._relay is not None and self._relay.is_alive()

    @property
    def is_paused(self) -> bool:
        return self._paused

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def join(self, timeout: float | None = None):
        if self._relay is not None:
            self._relay.join(timeout)
        return self.result

    @property
    def model(self) -> torch.nn.Module | None:
        """The model with the newest weights received (from a Snapshot or the end), on the CPU."""
        with self._lock:
            weights = self._weights
            if weights is None:
                return None
            if self._model is None:
                dtype = next(iter(weights.values())).dtype
                self._model = inverse.attach(self.model_config.build(self.problem), self.problem,
                                             self.config).to(dtype=dtype)
            if self._loaded is not weights:
                self._model.load_state_dict(weights)
                self._loaded = weights
            return self._model

    def _command(self, command: str) -> None:
        with self._lock:
            if self._control is None:
                self._commands.append(command)
                return
            try:
                self._control.send(command)
            except OSError:  # the worker has ended: its last events tell how
                log.debug("training worker %s is gone; %r not sent", self.pid, command)

    # ---- relay ---------------------------------------------------------------------------
    def _listen(self, events) -> None:
        with events:
            while True:
                try:
                    kind, payload, weights = pickle.loads(events.recv_bytes())
                except EOFError:
                    break
                if weights is not None:
                    with self._lock:
                        self._weights = weights
                if kind == "result":
                    self.result = payload
                else:
                    self._observe(payload)
                    self._emit(payload)
        self._process.join()
        for helper in self._helpers:  # they end with rank 0; one left waiting on a dead rank 0 is ended
            helper.join(timeout=60)
            if helper.is_alive():
                helper.terminate()
        with self._lock:
            self._control.close()
        if self.result is None:
            self._emit(self._died())

    def _observe(self, event: Event) -> None:
        if isinstance(event, Started):
            self.run_dir = event.run_dir
        if isinstance(event, (Step, Snapshot, Done, Failed)):
            self.step = event.step

    def _emit(self, event: Event) -> None:
        for sink in list(self._sinks):
            try:
                sink(event)
            except Exception:  # as in Trainer._emit: a broken listener must not end the relay
                log.exception("event sink %r failed; it is unsubscribed", sink)
                self._sinks.remove(sink)

    def _died(self) -> Failed:
        """The Failed event of a worker that ended without a result. The run folder is left as
        the worker left it: "running" with its lock given back by the OS, which the run store
        lists as interrupted at its last checkpoint (:mod:`lab.training.runs`)."""
        code = self._process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        kept = None
        if self.run_dir:
            try:
                kept = RunRecord(self.run_dir).load_checkpoint()[1].get("step")
            except ValueError:
                kept = None  # no checkpoint was written before the worker died
        return Failed(self.step, f"the training process ended unexpectedly ({how}); see the server log",
                      self.run_dir, kept)


# ---- the worker ---------------------------------------------------------------------------
def _check_travels(trainer: Trainer) -> None:
    """Refuse, in words, a problem or model defined in the server's ``__main__`` (a notebook
    cell, a script): a fresh worker process cannot rebuild it. One from a ``--module`` file, an
    installed package or an entry point travels (the worker imports the same modules)."""
    for what, obj in (("problem", trainer.problem), ("model", trainer.model_config)):
        where = getattr(type(obj), "defined_in", "") or type(obj).__module__
        if where == "__main__":
            raise ValueError(
                f"the {what} {type(obj).__name__} was defined in this Python session, which a training "
                "process cannot import; train in a thread (LabApp(training_mode='thread'), "
                "SCIML_LAB_TRAINING=thread), or define it in a file given with --module")


def _rank_environments(ranks: int) -> list[dict | None]:
    """What ``torchrun`` would set for each rank on this machine (``[None]``: one process)."""
    if ranks == 1:
        return [None]
    with socket.socket() as probe:  # a free port on this machine for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return [{"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(ranks),
             "RANK": str(r), "LOCAL_RANK": str(r)} for r in range(ranks)]


def _prepare(threads: int, modules: tuple[str, ...], env: dict | None, payload: bytes) -> Trainer:
    """A worker's set-up: signals, priority, threads, user modules, its rank; the trainer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's; it stops us in order
    if hasattr(os, "nice"):
        os.nice(NICE)
    torch.set_num_threads(threads)
    if env is not None:
        os.environ.update(env)
        distributed.setup_from_environment()
    for spec in modules:
        load_user_module(spec)
    from lab.models import list_models
    from lab.problems import list_problems

    list_problems(), list_models()  # entry points: extensions' problems and models
    return pickle.loads(payload)  # it joins this process's rank as it unpickles


def work(payload: bytes, events, control, threads: int, modules: tuple[str, ...] = (),
         env: dict | None = None) -> None:
    """Worker process: train the pickled Trainer, sending every event, then the result.
    ``modules``: the user modules the server imported (``--module``); with the entry points,
    they register the problems and models the Trainer refers to. ``env``: rank 0's place in
    a data-parallel run."""
    trainer = _prepare(threads, modules, env, payload)
    outbox = _Outbox(events, trainer)
    trainer.subscribe(outbox)
    threading.Thread(target=_obey, args=(control, trainer), name="sciml-lab-control", daemon=True).start()
    result = trainer.run()
    distributed.teardown()
    outbox.send("result", result)
    events.close()


def work_rank(payload: bytes, threads: int, modules: tuple[str, ...], env: dict) -> None:
    """A further rank of a data-parallel run: trains silently; Stop reaches it through rank 0."""
    _prepare(threads, modules, env, payload).run()
    distributed.teardown()


def _obey(control, trainer: Trainer) -> None:
    """Hand each command to the trainer; the server gone (pipe closed) means Stop."""
    while True:
        try:
            command = control.recv()
        except (EOFError, OSError):
            trainer.stop()
            return
        _COMMANDS[command](trainer)


class _Outbox:
    """The worker's sink: each event (with the weights, for a Snapshot or Done) down the pipe.

    A send returns once the server has read the message; a server gone stops the training."""

    def __init__(self, conn, trainer: Trainer):
        self._conn, self._trainer, self._open = conn, trainer, True

    def __call__(self, event: Event) -> None:
        weights = None
        if isinstance(event, (Snapshot, Done)) and self._trainer.model is not None:
            weights = {k: v.detach().to("cpu", copy=True) for k, v in self._trainer.model.state_dict().items()}
        self.send("event", event, weights)

    def send(self, kind: str, payload, weights: dict | None = None) -> None:
        if not self._open:
            return
        try:
            self._conn.send_bytes(pickle.dumps((kind, payload, weights), protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # the server went away: nobody listens, so end the run (it checkpoints)
            self._open = False
            self._trainer.stop()
