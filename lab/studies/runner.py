"""The study driver: Optuna keeps the study's state, Dask runs its trials.

Each (point, seed) is one Optuna trial and one run in the run store; the trial's user
attributes name the run (``run``) and its seed (``seed``). The driver asks Optuna for a
point, creates the run folder, records it in the trial, and submits
:func:`lab.studies.trial.run_trial` to the cluster; a finished task is told to Optuna.

What survives what:

* a worker lost mid-trial — Dask reruns the task on another worker, and the task continues
  the run from its last checkpoint;
* the driver killed — finished trials are in the storage; rerunning the same study submits
  again the trials that were running (each continues its run or, if it had ended, only reads
  it), then asks for the rest.
"""
from __future__ import annotations

import contextlib
import logging
import math
import secrets
from pathlib import Path

from lab.studies.spec import StudySpec
from lab.studies.space import split_key
from lab.training.runs import RunRecord, default_runs_dir

log = logging.getLogger(__name__)


def default_storage(runs_dir=None) -> str:
    """An SQLite file beside the runs: ``<runs>/studies.db``."""
    path = Path(runs_dir) if runs_dir else default_runs_dir()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'studies.db'}"


def _sampler(spec: StudySpec):
    import optuna

    seed = spec.sampler_seed
    return {"grid": lambda: optuna.samplers.RandomSampler(seed=seed),  # grid points are enqueued
            "random": lambda: optuna.samplers.RandomSampler(seed=seed),
            "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
            "qmc": lambda: optuna.samplers.QMCSampler(seed=seed)}[spec.sampler]()


def _pruner(spec: StudySpec):
    import optuna

    return {"none": optuna.pruners.NopPruner, "median": optuna.pruners.MedianPruner,
            "hyperband": optuna.pruners.HyperbandPruner,
            "successive_halving": optuna.pruners.SuccessiveHalvingPruner}[spec.pruner]()


def open_study(spec: StudySpec, storage: str):
    """Create the study, or load it when one of that name exists with the same spec."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=spec.name, storage=storage, sampler=_sampler(spec),
                                pruner=_pruner(spec), direction="minimize", load_if_exists=True)
    saved = study.user_attrs.get("spec")
    if saved is None:
        study.set_user_attr("spec", spec.to_dict())
        if spec.sampler == "grid" and not study.trials:
            for point in spec.grid_points():
                for seed in range(spec.seeds):
                    study.enqueue_trial(point, user_attrs={"seed": seed})
    elif saved != spec.to_dict():
        raise ValueError(f"study {spec.name!r} already exists in {storage} with another spec; "
                         "give the study another name")
    return study


@contextlib.contextmanager
def connect(address: str | None = None, n_workers: int = 2, timeout: float = 10.0,
            dashboard: bool = False):
    """A Dask client: to the scheduler at ``address``, else to a new ``LocalCluster`` of
    ``n_workers`` processes with one thread each (closed on exit)."""
    from distributed import Client, LocalCluster

    if address:
        try:
            client = Client(address, timeout=timeout)
        except (OSError, TimeoutError) as err:
            raise ValueError(f"no Dask scheduler answered at {address!r} within {timeout:g} s "
                             f"({type(err).__name__}); is the scheduler running and reachable?") from None
        with client:
            yield client
        return
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"study workers must be an integer >= 1, got {n_workers!r}")
    # a local cluster's INFO lines are not the lab's: among them, a worker closing while the
    # scheduler writes to it logs a traceback at INFO ("Batched Comm Closed"), which buried a
    # served lab's log under what is a normal end of a study
    quiet = logging.getLogger("distributed")
    quiet.setLevel(max(quiet.level, logging.WARNING))
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0" if dashboard else None) as cluster, Client(cluster) as client:
        client.wait_for_workers(n_workers)
        client.run(_quiet_scheduler_closed)
        yield client


class SchedulerClosed(logging.Filter):
    """Drops a worker's "Failed to communicate with scheduler during heartbeat" when the
    scheduler closed the connection. A local cluster's scheduler closes before its workers at
    the end of every study, and a worker whose heartbeat was under way logged that traceback
    at ERROR: into a served lab's log, after a study that went well."""

    def filter(self, record: logging.LogRecord) -> bool:
        from distributed.comm.core import CommClosedError

        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, CommClosedError)
                    and record.getMessage().startswith("Failed to communicate with scheduler during heartbeat"))


def _quiet_scheduler_closed() -> None:
    """Run on each worker of a local cluster (its own process): see :class:`SchedulerClosed`."""
    logger = logging.getLogger("distributed.worker")
    if not any(isinstance(f, SchedulerClosed) for f in logger.filters):
        logger.addFilter(SchedulerClosed())


def _settings(spec: StudySpec, params: dict, seed: int) -> tuple:
    from lab.models import get_model_config
    from lab.problems import get_problem
    from lab.training.config import TrainConfig

    parts = {"problem": {}, "model": {}, "train": {}}
    for key, value in {**spec.fixed, **params}.items():
        part, name = split_key(key)
        parts[part][name] = value
    parts["train"]["seed"] = seed
    return (get_problem(spec.problem, **parts["problem"]), get_model_config(spec.model, **parts["model"]),
            TrainConfig(**parts["train"]))


def _prepare(study, spec: StudySpec, trial, runs_dir) -> str:
    """Draw the trial's point, create its run folder and record it in the trial."""
    params = {dim.key: dim.suggest(trial) for dim in spec.dimensions}
    if "seed" not in trial.user_attrs:  # a point fresh from the sampler: queue its other seeds
        trial.set_user_attr("seed", 0)
        for seed in range(1, spec.seeds):
            study.enqueue_trial(params, user_attrs={"seed": seed})
    problem, model, train = _settings(spec, params, trial.user_attrs.get("seed", 0))
    record = RunRecord.create({"problem": {"key": problem.key, "params": problem.config()},
                               "model": {"kind": model.kind, "params": model.to_dict()},
                               "train": train.to_dict(), "study": spec.name}, runs_dir)
    trial.set_user_attr("run", str(record.path))
    return str(record.path)


def run_study(spec: StudySpec, *, runs_dir=None, storage: str | None = None, client=None,
              address: str | None = None, n_workers: int = 2, timeout: float = 10.0,
              on_trial=None):
    """Run (or continue) ``spec`` to its last trial; returns the ``optuna.Study``.

    ``client``: a ``distributed.Client`` to use; else one to ``address``, else a new
    ``LocalCluster`` of ``n_workers``. ``on_trial(frozen_trial)`` is called after each trial
    is told (e.g. a progress line)."""
    runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
    storage = storage or default_storage(runs_dir)
    study = open_study(spec, storage)
    if client is None:
        with connect(address, n_workers, timeout) as own:
            return _drive(study, spec, storage, runs_dir, own, on_trial)
    return _drive(study, spec, storage, runs_dir, client, on_trial)


def _drive(study, spec: StudySpec, storage: str, runs_dir: Path, client, on_trial):
    """Continue the trials a stopped driver left running, then keep every worker busy with new
    trials until the study has all of its runs."""
    import optuna
    from distributed import wait

    from lab.studies.trial import run_trial

    pruning = spec.pruner != "none"
    running = {}  # future -> trial number

    def submit(number: int, trial_id: int, run_dir: str) -> None:
        prune = {"storage": storage, "study": spec.name, "trial_id": trial_id} if pruning else None
        fut = client.submit(run_trial, run_dir, spec.objective, prune, pure=False,
                            key=f"trial-{spec.name}-{number}-{secrets.token_hex(3)}")
        running[fut] = number

    Running = optuna.trial.TrialState.RUNNING
    for t in study.get_trials(deepcopy=False, states=(Running,)):
        if "run" in t.user_attrs:  # left running by a driver that stopped: continue it
            submit(t.number, t._trial_id, t.user_attrs["run"])
        else:  # stopped before its run existed: run its point again
            study.enqueue_trial(t.params, user_attrs={"seed": t.user_attrs.get("seed", 0)})
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            study.set_user_attr(f"abandoned-{t.number}", True)

    def started() -> int:
        states = (Running, optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                  optuna.trial.TrialState.FAIL)
        return sum(1 for t in study.get_trials(deepcopy=False, states=states)
                   if f"abandoned-{t.number}" not in study.user_attrs)

    try:
        while True:
            capacity = max(1, len(client.scheduler_info()["workers"]))  # a cluster may grow
            while len(running) < capacity and started() < spec.n_trials:
                trial = study.ask()
                submit(trial.number, trial._trial_id, _prepare(study, spec, trial, runs_dir))
            if not running:
                return study
            done, _ = wait(list(running), return_when="FIRST_COMPLETED")
            for fut in done:
                number = running.pop(fut)
                frozen = _tell(study, number, fut)
                if on_trial is not None:
                    on_trial(frozen)
    finally:
        client.cancel(list(running))


def _tell(study, number: int, fut):
    """Record a finished task's outcome on its trial and tell Optuna."""
    import optuna

    State = optuna.trial.TrialState
    storage = study._storage
    tid = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    try:
        out = fut.result()
    except Exception as err:  # the task itself raised: the trial failed, the study goes on
        log.error("trial %d failed: %s: %s", number, type(err).__name__, err)
        storage.set_trial_user_attr(tid, "message", f"{type(err).__name__}: {err}")
        return study.tell(number, state=State.FAIL)
    for key in ("status", "step", "rel_l2", "resumed_from", "message"):
        storage.set_trial_user_attr(tid, key, out[key])
    if out["status"] == "pruned":
        return study.tell(number, state=State.PRUNED)
    if out["status"] != "completed" or math.isnan(out["value"]):
        return study.tell(number, state=State.FAIL)
    return study.tell(number, out["value"])


def trials_table(name: str, storage: str) -> list[dict]:
    """One row per trial of study ``name``: number, state, objective, parameters, seed, run."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise ValueError(f"no study {name!r} in {storage}") from None
    return [{"number": t.number, "state": t.state.name, "value": t.value, **t.params,
             "seed": t.user_attrs.get("seed"), "step": t.user_attrs.get("step"),
             "run": Path(t.user_attrs.get("run", "")).name}
            for t in study.get_trials(deepcopy=False)]
