"""The Trainer: one optimisation loop for every model family, observable through events.

``Trainer(problem, model_config, train_config, sinks=[...]).run()`` trains in the calling
thread; ``.start()`` trains in a background thread that ``.stop()``, ``.pause()`` and
``.resume()`` control. Adam (with an optional schedule) is followed by optional L-BFGS with a
strong-Wolfe line search. Events go to every sink (see :mod:`lab.training.events`); the run
folder gets the config, metrics and the last good checkpoint (see :mod:`lab.training.runs`).

Failure policy: a non-finite loss or parameter stops the run with a :class:`Failed` event
naming the step, and the checkpoint on disk is the last one written while everything was
finite. Stop saves the current (finite) state, so nothing trained is lost. A disk that refuses
a write (full, read-only) never ends a run early: the last checkpoint stays intact, training
goes on and saving is tried again; if the final state cannot be saved the run fails with a
message naming the last checkpoint on disk.

Before training, the task may prepare for long (an operator task generating its data): the
Trainer emits :class:`Preparing` events meanwhile, Pause holds the preparation between two
chunks of data, and Stop ends the run after the chunk in progress — the finished chunks stay
on disk, and the next run of the same data continues from them (:mod:`lab.data.cache`).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from lab.device import describe, pick_device, resolve_dtype
from lab.training import distributed, graphs, inverse
from lab.training.config import TrainConfig
from lab.training.events import Done, Event, Failed, Preparing, Snapshot, Started, Step
from lab.training.preflight import check_run
from lab.training.runs import RunRecord, default_runs_dir, find_run
from lab.training.spec import RunSpec
from lab.training.tasks import task_for
from lab.workers import finish_at_exit

log = logging.getLogger(__name__)


class Divergence(RuntimeError):
    """Raised inside the loop when a loss or parameter stops being finite."""


class SaveFailed(RuntimeError):
    """The run trained to its end but its last state could not be written (disk full, read-only)."""


class _StoppedPreparing(Exception):
    """Raised from the progress callback when Stop is pressed while the task is being built."""


@dataclass
class Result:
    status: str            # "completed", "stopped" or "failed"
    step: int
    rel_l2: float | None
    run_dir: str
    message: str = ""


class Trainer:
    """Train ``model_config`` on ``problem`` as ``train_config`` says, emitting events."""

    def __init__(self, problem, model_config, train_config: TrainConfig | None = None, *,
                 sinks: Iterable[Callable[[Event], None]] = (), runs_dir=None,
                 record: RunRecord | None = None, state_dict: dict | None = None, start_step: int = 0,
                 optimizer_state: dict | None = None, plan: tuple[int, int] | None = None,
                 loop_state: dict | None = None):
        """``state_dict``, ``optimizer_state``, ``start_step``, ``plan`` and ``loop_state`` come
        from a checkpoint (:meth:`resume`): ``plan = (first step, Adam steps)`` of the
        learning-rate schedule the Adam steps follow (default: a fresh schedule of
        ``config.steps`` from ``start_step``); ``loop_state`` the task's state
        (:meth:`lab.training.tasks.Task.state_dict`) and, for a run stopped during L-BFGS, the
        optimiser's history and the step where that phase ends."""
        self.problem = problem
        self.model_config = model_config
        self.config = train_config or TrainConfig()
        check_run(problem, model_config, self.config)  # before a run folder exists
        #: the ranks of a data-parallel run (:mod:`lab.training.distributed`); rank 0 writes
        self.group = distributed.current()
        distributed.check(problem, model_config, self.config, self.group)
        self.runs_dir = runs_dir
        self._sinks = list(sinks)
        self._record = record
        self._state_dict = state_dict
        self._start_step = start_step
        self._optimizer_state = optimizer_state
        self._plan = plan or (start_step, self.config.steps)
        self._loop_state = loop_state or {}
        self._adam: torch.optim.Optimizer | None = None
        self._lbfgs: torch.optim.LBFGS | None = None
        self._lbfgs_end: int | None = None
        self._task = None
        self._new_controls()
        self.step = start_step
        self.result: Result | None = None
        self.model: torch.nn.Module | None = None

    # ---- construction from a saved run ---------------------------------------------------
    @classmethod
    def resume(cls, run: str, *, steps: int | None = None, lbfgs_steps: int | None = None,
               sinks=(), runs_dir=None) -> "Trainer":
        """Continue a saved run from its checkpoint, in the same folder.

        ``steps=None`` finishes the run's planned Adam steps: a run stopped or cut off at step
        ``s`` of ``N`` trains the remaining ``N - s`` with the learning rate where the schedule
        left it and the saved Adam moments, so stopping and continuing costs nothing.
        ``steps=n`` trains ``n`` more steps (the moments still carry over): a stopped run keeps
        its plan (extended to end ``n`` steps on where ``n`` goes past it) and stays stopped
        until the plan's Adam steps are done (its L-BFGS steps, if any, follow them); a
        completed run trains under a fresh schedule.
        A run stopped during L-BFGS continues its L-BFGS iterations, with their history, up to
        the step where they were planned to end (``lbfgs_steps=n``: ``n`` more).

        Everything else that shapes the rest of the run comes back too (the task's generator,
        points, adapted weights, ...: :meth:`lab.training.tasks.Task.state_dict`), so on the
        same device a stopped run continued to its plan ends with the weights of the
        uninterrupted run. A damaged checkpoint raises ``ValueError`` before anything is written,
        and so does a config a :class:`~lab.training.spec.RunSpec` refuses (naming the field).
        :func:`lab.session.resume` is this, for callers that rebuild and evaluate runs too.
        """
        record = find_run(run, runs_dir)
        problem, model_config, train = RunSpec.from_run(record).build()
        ckpt = record.read_checkpoint()
        meta = ckpt.metadata
        start = int(meta.get("step", 0))
        plan = None
        if steps is None:
            first, total = meta.get("plan", (0, train.steps))
            train.steps, plan = max(first + total - start, 0), (int(first), int(total))
            lbfgs_end = ckpt.state.get("lbfgs", {}).get("end")
            if lbfgs_steps is None and lbfgs_end is not None:  # stopped during L-BFGS
                train.lbfgs_steps = max(int(lbfgs_end) - start, 0)
            if train.steps == 0 and not (lbfgs_steps or train.lbfgs_steps):
                raise ValueError(f"run {record.name} has done its {total} planned Adam steps"
                                 f"{' and its L-BFGS iterations' if lbfgs_end is not None else ''}; "
                                 "give steps > 0 to train more")
        else:
            train.steps = steps
            first, total = meta.get("plan", (0, 0))
            if first + total > start:  # stopped before its plan's end
                plan = (int(first), int(max(first + total, start + steps) - first))
                if start + steps < first + total:  # L-BFGS follows the plan's Adam steps
                    train.lbfgs_steps = 0
        if lbfgs_steps is not None:
            train.lbfgs_steps = lbfgs_steps
        if distributed.current().lead:  # the other ranks of a data-parallel run only read it
            record.check_continuable()  # damaged, or trained elsewhere (one writer per run): refused
        return cls(problem, model_config, train, sinks=sinks, record=record, state_dict=ckpt.weights,
                   start_step=start, optimizer_state=ckpt.optimizer, plan=plan, loop_state=ckpt.state)

    # ---- control --------------------------------------------------------------------------
    def _new_controls(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None

    def __getstate__(self) -> dict:
        """A trainer not yet started pickles whole (problem, configs, checkpoint state, run
        record), so it can train in another process (:mod:`lab.training.process`); its listeners
        and controls stay behind."""
        if self.is_running:
            raise RuntimeError("a running trainer cannot be sent to another process")
        return {k: v for k, v in vars(self).items()
                if k not in ("_sinks", "_stop", "_running", "_thread", "group")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._sinks = []
        self._new_controls()
        self.group = distributed.current()  # the rank of the process it now runs in
        distributed.check(self.problem, self.model_config, self.config, self.group)

    def subscribe(self, sink: Callable[[Event], None]) -> None:
        self._sinks.append(sink)

    def start(self) -> threading.Thread:
        """Train in a background thread; returns it (``join`` it to wait).

        A run still going when the program exits is stopped (its state checkpointed) and
        joined first: see :mod:`lab.workers`.
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this trainer is already running")
        self._thread = threading.Thread(target=self.run, name="sciml-lab-trainer", daemon=True)
        self._thread.start()
        finish_at_exit(self._thread, self.stop)
        return self._thread

    def stop(self) -> None:
        """Ask the loop to stop at the next step (while data are generated: after the chunk in
        progress); the current state is checkpointed."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume_training(self) -> None:
        self._running.set()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def is_paused(self) -> bool:
        return not self._running.is_set()

    def join(self, timeout: float | None = None) -> Result | None:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    # ---- the loop -------------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        for sink in list(self._sinks):
            try:
                sink(event)
            except Exception:  # a broken listener must not kill the training it observes
                log.exception("event sink %r failed; it is unsubscribed", sink)
                self._sinks.remove(sink)

    def _config_dict(self) -> dict:
        return {"problem": {"key": self.problem.key, "params": self.problem.config()},
                "model": {"kind": self.model_config.kind, "params": self.model_config.to_dict()},
                "train": self.config.to_dict()}

    def _checkpoint(self, step: int, rel_l2: float | None = None) -> bool:
        """Save if every parameter is finite; returns whether it saved.

        A write the disk refuses (full, read-only, removed) does not end the run: the previous
        checkpoint stays intact (writes are atomic), training goes on and the next checkpoint
        tries again; the error is kept for the run's outcome (:meth:`run`)."""
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            return False
        if not self.group.lead:
            return True
        try:
            self._record.save_checkpoint(self.model, {**self._config_dict(), "step": step, "rel_l2": rel_l2,
                                                      "plan": list(self._plan)},
                                         self._adam if self._adam is not None else self._optimizer_state,
                                         self._checkpoint_state())
        except OSError as err:
            self._save_error = err
            log.warning("could not save the checkpoint of step %d (%s); training goes on, the last "
                        "checkpoint on disk is step %s", step, err, self._last_ckpt)
            return False
        self._last_ckpt, self._save_error = step, None
        return True

    def _log(self, row: dict) -> None:
        """A metrics row; one the disk refuses is dropped with a warning (once), never the run."""
        if not self.group.lead:
            return
        try:
            self._record.log(row)
        except OSError as err:
            if not self._log_error:
                log.warning("could not write metrics of run %s (%s); training goes on without them",
                            self._record.name, err)
            self._log_error = True

    def _finish(self, **summary) -> None:
        """Write the run's summary; a disk error is logged, since the outcome is already known."""
        if not self.group.lead:
            return
        if self.group.world > 1:
            summary["ranks"] = self.group.world
        try:
            self._record.finish(**summary)
        except OSError as err:
            log.error("could not write the summary of run %s: %s", self._record.name, err)

    def _open_record(self) -> None:
        if self._record is None:
            try:
                self._record = RunRecord.create(self._config_dict(), self.runs_dir)
            except OSError as err:
                raise ValueError(f"cannot create the run's folder in {self.runs_dir or default_runs_dir()}: "
                                 f"{err.strerror or err}; choose another runs folder") from None
        else:  # continued: locked, rows after the checkpoint's step dropped, marked running
            self._record.reopen(self._start_step)

    def _stopping(self) -> bool:
        """Whether Stop was asked here or, in a data-parallel run, on any rank (all stop together)."""
        return self.group.any(self._stop.is_set())

    def _loop_name(self) -> str:
        return self._record.name if self._record is not None else f"rank {self.group.rank}"

    def _checkpoint_state(self) -> dict:
        """The loop's state besides weights and Adam (see :meth:`__init__`'s ``loop_state``)."""
        # what this session has not rebuilt yet is kept, but Adam steps make an L-BFGS history stale
        state = {k: v for k, v in self._loop_state.items() if k == "task" or not self.config.steps}
        if self._task is not None:
            state["task"] = self._task.state_dict()
        if self._lbfgs is not None:
            state["lbfgs"] = {"end": self._lbfgs_end, "state": self._lbfgs.state_dict()["state"]}
        return state

    def _setup(self, t0: float):
        """Device, model (seeded, restored), run folder and task; any error here is a Failed run.

        The task is ``None`` when Stop was pressed while it was being built."""
        c = self.config
        device, dtype = pick_device(c.device), resolve_dtype(c.dtype)
        # a generator of this run's own: runs built at once in other threads draw from theirs
        self.model = self.model_config.build(self.problem, generator=torch.Generator().manual_seed(c.seed))
        inverse.attach(self.model, self.problem, c)  # inferred parameters train and save with it
        self.model.to(device=device, dtype=dtype)
        if self._state_dict is not None:
            self.model.load_state_dict(self._state_dict)
        if self.group.lead:  # rank 0 of a data-parallel run owns the run folder
            self._open_record()

        def preparing(done: int, total: int) -> None:
            self._emit(Preparing("data", done, total, time.perf_counter() - t0))
            self._running.wait()
            if self._stop.is_set():
                raise _StoppedPreparing

        try:
            task = task_for(self.model_config.family)(self.problem, self.model, c, device=device, dtype=dtype,
                                                      generator=torch.Generator().manual_seed(c.seed),
                                                      progress=preparing, group=self.group)
        except _StoppedPreparing:
            return device, None
        if "task" in self._loop_state:
            try:
                task.load_state_dict(self._loop_state["task"])
            except (KeyError, TypeError, RuntimeError) as err:
                raise ValueError(f"the checkpoint of run {self._loop_name()} holds training state that "
                                 f"does not fit its config ({type(err).__name__}: {err})") from err
        self._task = task
        return device, task

    def run(self) -> Result:
        """Train to completion (or stop/failure) in this thread and return the outcome."""
        c = self.config
        t0 = time.perf_counter()
        step, rel = self._start_step, None
        self._last_ckpt: int | None = self._start_step if self._state_dict is not None else None
        self._save_error: OSError | None = None
        self._log_error = False
        run_dir = str(self._record.path) if self._record is not None else ""
        try:
            device, task = self._setup(t0)
            run_dir = str(self._record.path) if self._record is not None else ""
            if task is not None:
                self._emit(Started(self._loop_name(), run_dir, self._config_dict(), describe(device),
                                   sum(p.numel() for p in self.model.parameters()), self._start_step))
                step, rel = self._train(task, t0)
            reason = "stopped" if self._stop.is_set() or step < sum(self._plan) else "completed"
            if task is not None or self._last_ckpt is None:
                # a new run stopped while preparing saves its initial weights, so it can be continued;
                # a continued one keeps its checkpoint, Adam's moments included
                self._checkpoint(step, rel)
            if self._save_error is not None and self._last_ckpt != step:
                self.step = step
                raise SaveFailed(f"the run reached step {step} but could not be saved ({self._save_error}); "
                                 f"the last checkpoint on disk is step {self._last_ckpt}. Free some disk "
                                 "space, then continue the run from there")
            self._finish(status=reason, step=step, rel_l2=rel, elapsed=time.perf_counter() - t0,
                         device=describe(device))  # where the weights were trained (zoo cards)
            self.result = Result(reason, step, rel, run_dir)
            self._emit(Done(step, rel if rel is not None else math.nan, reason, run_dir,
                            time.perf_counter() - t0))
        except Exception as err:  # reported as a Failed event; the last good checkpoint stays
            step = self.step
            clear = (Divergence, ValueError, SaveFailed)
            message = str(err) if isinstance(err, clear) else f"{type(err).__name__}: {err}"
            if not isinstance(err, clear):
                log.exception("training failed at step %d", step)
            if self._record is not None:
                self._finish(status="failed", step=step, rel_l2=rel, message=message,
                             checkpoint_step=self._last_ckpt)
            self.result = Result("failed", step, rel, run_dir, message)
            self._emit(Failed(step, message, run_dir, self._last_ckpt))
        except BaseException:  # KeyboardInterrupt in a notebook, SystemExit: the run stays continuable
            if self._record is not None:  # from its last checkpoint; the lock is given back
                self._finish(status="stopped", step=self._last_ckpt or 0, rel_l2=None,
                             message="interrupted; continue from the last checkpoint")
            raise
        return self.result

    def _train(self, task, t0: float) -> tuple[int, float | None]:
        c = self.config
        step = self._start_step
        rel, shown = None, None  # the newest relative L2 (None without a reference) and its step
        params = [p for p in self.model.parameters() if p.requires_grad]

        def diverged(step: int, terms) -> Divergence:
            bad = [k for k, v in terms.items() if not torch.isfinite(v)]
            return Divergence(f"loss became non-finite at step {step} (terms {bad}); "
                              f"the last good checkpoint is step {self._last_ckpt}. "
                              "Try a smaller learning rate.")

        def objective(step: int):
            total, terms, weights = graphs.weighted_loss(task, step)
            if not torch.isfinite(total):
                raise diverged(step, terms)
            return total, terms, weights

        def crossed(prev: int, step: int, every: int) -> bool:
            return step // every > prev // every

        def observe(prev: int, step: int, phase: str, lr: float, total, terms, weights) -> None:
            nonlocal rel, shown
            if crossed(prev, step, c.log_every):
                terms = {k: self.group.mean(v) for k, v in terms.items()}  # the whole batch's terms
                total = self.group.mean(total)
                losses = {k: float(v.detach()) for k, v in terms.items()}
                weights = {k: float(w) for k, w in weights.items()}  # adapted weights are tensors
                ev = Step(step, phase, losses, float(total.detach()), lr, weights,
                          time.perf_counter() - t0, task.extras())
                self._log({"step": step, "phase": phase, "total": ev.total, "lr": lr,
                                  "elapsed": ev.elapsed, **{f"loss_{k}": v for k, v in losses.items()},
                                  **task.scalars()})
                self._emit(ev)
            if crossed(prev, step, c.snapshot_every) and self.group.lead:
                grid, fields, rel, extras = task.evaluate()
                shown = step
                self._log({"step": step, "rel_l2": rel})
                self._emit(Snapshot(step, grid, fields, rel, extras))
            if crossed(prev, step, c.checkpoint_every):
                self._checkpoint(step, rel)

        # -- Adam -----------------------------------------------------------------------
        adam_end = self._start_step + c.steps
        if c.steps:
            # one captured CUDA graph per step where nothing needs the host (lab.training.graphs)
            blocked = graphs.blockers(task, c, task.device)
            if self.group.world > 1:
                blocked.append("gradients are averaged over the ranks between backward and step")
            opt = self._adam = graphs.adam(params, c.lr, task.device, capturable=not blocked)
            self._restore_moments(opt)
            sched = self._schedule(opt)
            graph = None if blocked else graphs.CapturedAdam(task, opt, step)
            log.info("Adam steps run %s", "as a CUDA graph" if graph else f"eagerly ({'; '.join(blocked)})")

            def check(graph) -> None:  # the graph records non-finite losses on the device
                bad = graph.nonfinite()
                if bad is not None:
                    self.step = bad
                    raise diverged(bad, terms)

            while step < adam_end and not self._stopping():
                self._running.wait()
                if self._stopping():
                    break
                lr = opt.param_groups[0]["lr"]
                if graph is None:
                    opt.zero_grad(set_to_none=True)
                    total, terms, weights = objective(step)
                    total.backward()
                    self.group.average_gradients(params)
                    opt.step()
                else:
                    total, terms, weights = graph.step(step, lr)
                if sched is not None:
                    sched.step()
                step += 1
                self.step = step
                if graph is not None and any(crossed(step - 1, step, every) for every in
                                             (c.log_every, c.snapshot_every, c.checkpoint_every)):
                    check(graph)
                observe(step - 1, step, "adam", lr, total, terms, weights)
            if graph is not None and step > self._start_step:
                check(graph)  # before the final checkpoint
            graph = None  # frees the graph's memory pool before L-BFGS

        # -- L-BFGS: runs in chunks of log_every iterations so events keep flowing ------
        if c.lbfgs_steps and not self._stopping():
            lbfgs = torch.optim.LBFGS(params, lr=1.0, max_iter=c.log_every, history_size=50,
                                      tolerance_grad=1e-12, tolerance_change=1e-14,
                                      line_search_fn="strong_wolfe")
            end = step + c.lbfgs_steps
            saved = self._loop_state.get("lbfgs")
            if saved is not None and not c.steps:  # stopped during L-BFGS: its history goes on
                lbfgs.load_state_dict({"state": saved["state"], "param_groups": lbfgs.state_dict()["param_groups"]})
            self._lbfgs, self._lbfgs_end = lbfgs, end
            state = lbfgs.state[params[0]]
            while step < end and not self._stopping():
                self._running.wait()
                if self._stopping():
                    break
                box = {}

                def closure():
                    lbfgs.zero_grad(set_to_none=True)
                    total, terms, weights = objective(step)
                    total.backward()
                    self.group.average_gradients(params)
                    total = self.group.mean(total)  # the line search compares one loss on every rank
                    box.update(total=total.detach(), terms={k: v.detach() for k, v in terms.items()},
                               weights=weights)
                    return total

                want = min(c.log_every, end - step)
                # the line search may need several evaluations per iteration: never let the
                # evaluation budget, rather than the iteration count, end a chunk
                lbfgs.param_groups[0].update(max_iter=want, max_eval=want * 25)
                before = state.get("n_iter", 0)
                lbfgs.step(closure)
                done = state.get("n_iter", 0) - before
                prev, step = step, step + max(done, 1)
                self.step = step
                observe(prev, step, "lbfgs", 1.0, box["total"], box["terms"], box["weights"])
                if done == 0:  # the gradient is below tolerance: nothing more to gain
                    break
        if shown != step and self.group.lead:  # the final state is always shown
            grid, fields, rel, extras = task.evaluate()
            self._log({"step": step, "rel_l2": rel})
            self._emit(Snapshot(step, grid, fields, rel, extras))
        return step, rel

    def _restore_moments(self, opt) -> None:
        """Load the checkpoint's Adam state into ``opt`` when it fits its parameters."""
        saved = self._optimizer_state
        if not saved:
            return
        shapes = [p.shape for group in opt.param_groups for p in group["params"]]
        if sorted(saved) != list(range(len(shapes))) or any(
                saved[i]["exp_avg"].shape != shape for i, shape in enumerate(shapes)):
            log.warning("the checkpoint's Adam state does not fit the model; Adam starts afresh")
            return
        opt.load_state_dict({"state": saved, "param_groups": opt.state_dict()["param_groups"]})

    def _schedule(self, opt):
        """The learning rate at step ``s`` of this session is the plan's at its step
        ``s + start - first``, so a continued run picks the schedule up where it stopped."""
        c = self.config
        first, total = self._plan
        done = self._start_step - first
        if c.lr_schedule == "exponential":
            factor = lambda s: c.lr_decay ** ((s + done) / c.lr_decay_steps)  # noqa: E731
        elif c.lr_schedule == "cosine":
            factor = lambda s: 0.5 * (1 + math.cos(math.pi * min(s + done, total) / max(total, 1)))  # noqa: E731
        else:
            return None
        return torch.optim.lr_scheduler.LambdaLR(opt, factor)
