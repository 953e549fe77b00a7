"""``sciml-lab`` command line, headless part: train, inspect saved runs, list problems, studies.

The installed ``sciml-lab`` command is :func:`widgets.cli.main`, which adds ``serve`` (the
app) on top of this parser, so ``lab`` never imports the UI and runs where Panel is absent
(a GPU node, a batch job: ``python -m lab.cli train ...``).

The CLI edits the same configs the app does: ``--set`` takes ``key=value`` pairs for the
problem (``problem.nu=0.01``), the model (``model.width=64``) and training (``steps=5000``);
values are parsed as JSON where possible, so ``loss_weights={"ic":10}`` works too.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from lab.config import describe_bounds, parse_assignments
from lab.entry_points import load_user_module


def _parse_sets(pairs: list[str]) -> tuple[dict, dict, dict]:
    problem, model, train = {}, {}, {}
    for key, value in parse_assignments(pairs).items():
        if key.startswith("problem."):
            problem[key[8:]] = value
        elif key.startswith("model."):
            model[key[6:]] = value
        else:
            train[key] = value
    return problem, model, train


#: ``--observe`` keys and the training settings they set
OBSERVE_KEYS = {"sensors": "sensors", "noise": "sensor_noise", "layout": "sensor_layout", "seed": "sensor_seed"}


def _learning_from_data(args) -> dict:
    """Training settings of ``--observe sensors=50,noise=0.01``, ``--observations FILE`` and
    ``--infer nu=0.05`` (comma-separated or repeated)."""
    out = {}
    for key, value in parse_assignments(",".join(args.observe or []).split(",") if args.observe else [],
                                        "--observe").items():
        if key not in OBSERVE_KEYS:
            raise ValueError(f"--observe takes {', '.join(OBSERVE_KEYS)}, not {key!r} "
                             "(e.g. --observe sensors=50,noise=0.01,layout=random,seed=0)")
        out[OBSERVE_KEYS[key]] = value
    if args.observations:
        out["observations"] = str(Path(args.observations).expanduser().resolve())
    if args.infer:
        out["infer"] = parse_assignments(",".join(args.infer).split(","), "--infer")
    return out


def _progress_sink(total_steps: int, preparing_every_s: float = 2.0):
    """tqdm bar with the loss terms and the latest relative L2 in its postfix; a line on data
    generation at most every ``preparing_every_s`` seconds, and when it is done."""
    from tqdm import tqdm

    from lab.training.events import Done, Failed, Preparing, Snapshot, Started, Step

    bar = tqdm(total=total_steps, unit="step", dynamic_ncols=True)
    state = {"rel": None, "post": {}, "said": -math.inf}

    def sink(ev):
        if isinstance(ev, Preparing):
            if ev.done == ev.total or ev.elapsed - state["said"] >= preparing_every_s:
                state["said"] = ev.elapsed
                bar.write(f"{ev.text} ({ev.elapsed:.0f} s)")
        elif isinstance(ev, Started):
            bar.n = ev.start_step
            bar.write(f"run {ev.run_id} on {ev.device}, {ev.n_params} parameters")
        elif isinstance(ev, Step):
            bar.n = ev.step
            post = {k: f"{v:.2e}" for k, v in ev.losses.items()}
            if state["rel"] is not None:
                post["relL2"] = f"{state['rel']:.2e}"
            state["post"] = post
            bar.set_postfix(post, refresh=False)
            bar.refresh()
        elif isinstance(ev, Snapshot) and ev.rel_l2 is not None:  # None: no reference
            state["rel"] = ev.rel_l2
            bar.set_postfix({**state["post"], "relL2": f"{ev.rel_l2:.2e}"})
        elif isinstance(ev, (Done, Failed)):
            bar.close()
    return sink


@contextmanager
def _stop_on_signals(trainer, received: list[int]):
    """SIGINT (Ctrl-C) and SIGTERM stop ``trainer`` after the current step, so its state is
    checkpointed and the run marked "stopped" (continue it with ``--resume``); a second
    signal ends the process at once. Handlers are installed from the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):
        received.append(signum)
        signal.signal(signum, signal.SIG_DFL)
        trainer.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def cmd_train(args) -> int:
    import os
    import subprocess

    from lab.models import get_model_config
    from lab.problems import get_problem
    from lab.session import resume
    from lab.training import TrainConfig, Trainer, distributed

    if args.nproc is not None and "WORLD_SIZE" not in os.environ:  # start the ranks, wait for them
        return subprocess.call(distributed.launch_command(args.nproc, args.argv))
    group = distributed.setup_from_environment()
    if args.resume is not None:
        if not args.resume.strip():
            raise ValueError("--resume needs the name or path of a saved run ('sciml-lab runs list' shows them)")
        trainer = resume(args.resume, steps=args.steps, runs_dir=args.runs_dir)
    else:
        p_kw, m_kw, t_kw = _parse_sets(args.set or [])
        if args.steps is not None:
            t_kw["steps"] = args.steps
        t_kw.update(_learning_from_data(args))
        problem = (get_problem("external_operator", path=args.data, **p_kw) if args.data is not None
                   else get_problem(args.problem, **p_kw))
        model = get_model_config(args.model, **m_kw)
        trainer = Trainer(problem, model, TrainConfig(**t_kw), runs_dir=args.runs_dir)
    for name in args.track or []:
        trainer.subscribe(_tracking_sink(name))
    c = trainer.config
    if not args.quiet and group.lead:
        trainer.subscribe(_progress_sink(trainer.step + c.steps + c.lbfgs_steps))
    t0 = time.perf_counter()
    received: list[int] = []
    with _stop_on_signals(trainer, received):
        result = trainer.run()
    distributed.teardown()
    out = {"status": result.status, "step": result.step, "rel_l2": result.rel_l2,
           "wall_s": round(time.perf_counter() - t0, 3), "run_dir": result.run_dir}
    if result.message:
        out["message"] = result.message
    if group.world > 1:
        out["ranks"] = group.world
    if group.lead:
        print(json.dumps(out))
    if received and result.status == "stopped":
        name = Path(result.run_dir).name
        where = f" --runs-dir {shlex.quote(args.runs_dir)}" if args.runs_dir else ""
        print(f"sciml-lab: run {name} stopped at step {result.step} by "
              f"{signal.Signals(received[0]).name} and saved; continue it with: "
              f"sciml-lab train --resume {shlex.quote(name)}{where}", file=sys.stderr)
        return 128 + received[0]
    return 0 if result.status != "failed" else 1


def cmd_runs(args) -> int:
    from lab.training.runs import find_run, list_runs

    if args.action == "list":
        rows = list_runs(args.runs_dir)
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        if not rows:
            print("no saved runs")
        for r in rows:
            rel = f"{r['rel_l2']:.3e}" if isinstance(r["rel_l2"], float) else "-"
            note = f"  ({r['note']})" if r["status"] in ("damaged", "interrupted") else ""
            print(f"{r['name']:<48} {r['status']:<11} step {r['step']!s:>7}  relL2 {rel}{note}")
        return 0
    if not args.name:
        raise ValueError("'runs show' needs a run name or path")
    rec = find_run(args.name, args.runs_dir)
    row = rec.row()
    if row["status"] == "damaged":  # show what is readable, and why the rest is not
        print(json.dumps({"name": rec.name, "status": "damaged", "damage": row["note"]}, indent=2))
        return 1
    print(json.dumps({"config": rec.config(), "summary": {**rec.summary(), "status": row["status"]},
                      "metrics_rows": len(rec.metrics())}, indent=2))
    return 0


def cmd_zoo(args) -> int:
    from lab import zoo

    if args.action == "list":
        rows = zoo.list(args.zoo)
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        if not rows:
            print(f"no zoo entries in {args.zoo or zoo.zoo_dir()}")
        for r in rows:
            if "damaged" in r:
                print(f"{r['name']:<24} damaged: {r['damaged']}")
                continue
            rel = f"{r['rel_l2']:.3e}" if isinstance(r["rel_l2"], float) else "-"
            kib = f"{r['bytes'] / 1024:.0f} KiB" if isinstance(r["bytes"], int) else "-"
            print(f"{r['name']:<24} {r['problem']:<20} {r['model']:<12} relL2 {rel}  {r['dtype']:<7} "
                  f"{kib:>8}  step {r['steps']!s:>6}  {zoo.spread(r):<26}  {r['device']}")
        return 0
    if not args.target:
        what = "an entry name ('sciml-lab zoo list' shows them)" if args.action == "show" else "a finished run"
        raise ValueError(f"'zoo {args.action}' needs {what}")
    if args.action == "show":
        print(json.dumps(zoo.show(args.target, args.zoo), indent=2))
        return 0
    if not args.name:
        raise ValueError("'zoo add RUN' needs --name NAME, the entry's name")
    tolerance = zoo.HALF_TOLERANCE if args.half_tolerance is None else args.half_tolerance
    card = zoo.add(args.target, args.name, args.zoo, runs_dir=args.runs_dir, tolerance=tolerance,
                   description=args.description, replace=args.replace)
    print(json.dumps(card, indent=2))
    return 0


def add_zoo_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    z = sub.add_parser("zoo", parents=[common], help="the trained models shipped in the repository",
                       description="List the zoo, show an entry's card and config (zoo show NAME), or "
                                   "add a finished run as an entry (zoo add RUN --name NAME): float16 "
                                   "weights where they keep the run's error, else float32.")
    z.add_argument("action", choices=["list", "show", "add"], nargs="?", default="list")
    z.add_argument("target", nargs="?", help="show: the entry's name; add: the run (name or path)")
    z.add_argument("--name", default=None, help="add: the new entry's name")
    z.add_argument("--zoo", default=None, help="the zoo folder (default $SCIML_LAB_ZOO or the repository's zoo/)")
    z.add_argument("--half-tolerance", type=float, default=None,
                   help="add: store float16 if its relative L2 is at most this fraction above float32's "
                        "(default lab.zoo.HALF_TOLERANCE)")
    z.add_argument("--description", default="", help="add: one line on what the entry is")
    z.add_argument("--replace", action="store_true", help="add: overwrite an entry of that name")
    z.add_argument("--json", action="store_true", help="list: as JSON")
    z.set_defaults(func=cmd_zoo)


def cmd_problems(args) -> int:
    from lab.problems import list_problems

    for key, cls in list_problems().items():
        print(f"{key:<24} {cls.kind:<6} {cls.title}")
        if args.verbose:
            for name, p in cls.param.objects("existing").items():
                if name != "name":
                    print(f"    {name} = {p.default!r}  {describe_bounds(p)}  {p.doc or ''}")
    return 0


def cmd_export(args) -> int:
    from lab.session import export

    print(export(args.name, args.format, args.out, args.runs_dir, time=args.time))
    return 0


def cmd_discover(args) -> int:
    from lab.discovery import DiscoveryConfig, discover, equation_text
    from lab.problems import get_problem

    problem = get_problem(args.problem, **parse_assignments(args.set or []))
    config = DiscoveryConfig(**{k[2:]: v for k, v in vars(args).items() if k.startswith("c_") and v is not None})

    def line(s) -> None:
        print(f"step {s.step}: data {s.data_loss:.2e}  pde {s.pde_loss:.2e}  {equation_text(s.coefficients)}",
              file=sys.stderr, flush=True)

    result = discover(problem, config, callback=None if args.quiet else line)
    print(result.equation())
    if result.truth is not None:
        print("true: " + equation_text(result.truth))
    print(json.dumps({"found": result.coefficients, "true": result.truth, "exact_terms": result.exact_support(),
                      "relative_errors": result.errors() if result.truth else None}))
    return 0


def add_discover_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from lab.discovery import DiscoveryConfig

    d = sub.add_parser("discover", parents=[common], help="discover a problem's equation from noisy samples",
                       description="Fit a PINN to noisy samples of a problem's reference and find "
                                   "u_t = Θ(u) ξ by sparse regression over a library of terms.")
    d.add_argument("--problem", default="burgers")
    d.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="the problem's parameters, e.g. nu=0.1")
    for name, p in DiscoveryConfig.param.objects("existing").items():
        if name != "name":
            d.add_argument(f"--{name.replace('_', '-')}", dest=f"c_{name}", type=type(p.default), metavar=name.upper(),
                           default=None, help=f"{p.doc} (default {p.default}; {describe_bounds(p)})")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_discover)


def cmd_study(args) -> int:
    from lab.studies import StudySpec, default_storage, run_study, trials_table

    storage = args.storage or default_storage(args.runs_dir)
    if args.action == "show":
        rows = trials_table(args.spec, storage)
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
            return 0
        keys = list(dict.fromkeys(k for r in rows for k in r))
        print("  ".join(f"{k:>12}" for k in keys))
        for r in rows:
            print("  ".join(f"{r.get(k):>12.4g}" if isinstance(r.get(k), float) else f"{r.get(k)!s:>12}"
                            for k in keys))
        return 0
    data = {}
    if args.spec:
        try:
            data = json.loads(open(args.spec).read())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"study spec {args.spec!r} could not be read: {err}") from None
    options = {"problem": args.problem, "model": args.model, "seeds": args.seeds, "sampler": args.sampler,
               "pruner": args.pruner, "n_points": args.points, "objective": args.objective, "name": args.name}
    data.update({k: v for k, v in options.items() if v is not None})
    if args.space:
        data["space"] = {**data.get("space", {}), **parse_assignments(args.space, "--space")}
    if args.set:
        data["fixed"] = {**data.get("fixed", {}), **parse_assignments(args.set)}
    spec = StudySpec.from_dict(data)
    print(f"study {spec.name}: {spec.n_trials} runs, state in {storage}", file=sys.stderr)

    def line(t) -> None:
        print(json.dumps({"trial": t.number, "state": t.state.name, "value": t.value, **t.params,
                          "seed": t.user_attrs.get("seed"), "run": t.user_attrs.get("run")}), flush=True)

    run_study(spec, runs_dir=args.runs_dir, storage=storage, address=args.address,
              n_workers=args.workers, timeout=args.timeout, on_trial=line)
    return 0


def _tracking_sink(name: str):
    from lab.tracking import SINKS

    return SINKS[name]()


def add_study_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub.choices["train"].add_argument(
        "--track", action="append", choices=["tensorboard", "mlflow"],
        help="also send the run to TensorBoard (the run's tensorboard/ folder) or MLflow "
             "(MLFLOW_TRACKING_URI); repeatable")
    s = sub.add_parser("study", parents=[common], help="run or show a study: many runs over a search space")
    s.add_argument("action", choices=["run", "show"])
    s.add_argument("spec", nargs="?", help="run: a study spec (JSON file); show: the study's name")
    s.add_argument("--space", nargs="*", metavar="KEY=VALUES",
                   help='searched parameters: model.width=[16,32], lr={"low":1e-4,"high":1e-2,"log":true}, '
                        "problem.nu=bounds")
    s.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="settings shared by every run (as for train)")
    s.add_argument("--problem", default=None)
    s.add_argument("--model", default=None)
    s.add_argument("--seeds", type=int, default=None, help="runs per point (default 1)")
    s.add_argument("--sampler", default=None, help="grid (default), random, tpe or qmc")
    s.add_argument("--pruner", default=None, help="none (default), median, hyperband or successive_halving")
    s.add_argument("--points", type=int, default=None, help="points a sampler draws (not for grid)")
    s.add_argument("--objective", default=None,
                   help="rel_l2 (default), a logged metric (total, loss_pde, ...) or time_to:<error>")
    s.add_argument("--name", default=None, help="study name (default: derived from the spec; rerun to continue)")
    s.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite file in the runs folder)")
    s.add_argument("--address", default=None, help="Dask scheduler address (default: a local cluster)")
    s.add_argument("--workers", type=int, default=2, help="local cluster worker processes")
    s.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the scheduler")
    s.add_argument("--json", action="store_true", help="show: trials as JSON")
    s.set_defaults(func=cmd_study)


def _print_table(rows: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print("  ".join(f"{k:>17}" for k in keys))
    for r in rows:
        print("  ".join(f"{r[k]:>17.4g}" if isinstance(r.get(k), float) else f"{r.get(k)!s:>17}" for k in keys))


def cmd_uq(args) -> int:
    from lab.problems import get_problem
    from lab.uq.methods import METHODS, run_uq

    problem_params, _, _ = _parse_sets(args.set or [])
    problem = get_problem(args.problem, **problem_params)
    model = None
    if args.run:
        from lab.session import rebuild

        saved = rebuild(args.run, args.runs_dir)
        problem, model = saved.problem, saved.model
    methods = list(METHODS) if args.method == "all" else [args.method]
    rows = []
    for method in methods:
        r = run_uq(problem, method, members=args.members, rate=args.rate, samples=args.samples,
                   steps=args.steps, lr=args.lr, width=args.width, depth=args.depth, modes=args.modes,
                   seed=args.seed, prior_precision=args.prior_precision, model=model)
        rows.append(r.row())
    _print_table(rows, args.json)
    return 0


def cmd_sde(args) -> int:
    from lab.problems import get_problem
    from lab.uq.sde import series, train_and_forecast

    problem_params, _, _ = _parse_sets(args.set or [])
    problem = get_problem(args.problem, **problem_params)
    rows = []
    for missing in args.missing:
        data = series(problem, missing=missing, seed=args.seed)
        for kind in args.models:
            rows.append(train_and_forecast(problem, kind, missing=missing, steps=args.steps, seed=args.seed,
                                           data=data).row())
    _print_table(rows, args.json)
    return 0


def add_trust_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from lab.uq.methods import METHODS
    from lab.uq.sde import MODELS

    u = sub.add_parser("uq", parents=[common], help="uncertainty of a PINN or an operator: calibration table")
    u.add_argument("--problem", default="burgers")
    u.add_argument("--method", choices=list(METHODS) + ["all"], default="ensemble")
    u.add_argument("--members", type=int, default=5, help="ensemble members (at least 2)")
    u.add_argument("--rate", type=float, default=0.1, help="MC dropout rate, in [0, 1)")
    u.add_argument("--samples", type=int, default=32, help="MC dropout passes")
    u.add_argument("--prior-precision", type=float, default=1.0, help="Laplace prior precision")
    u.add_argument("--steps", type=int, default=500, help="Adam steps of each network")
    u.add_argument("--lr", type=float, default=1e-3)
    u.add_argument("--width", type=int, default=32, help="MLP neurons per layer, or FNO channels")
    u.add_argument("--depth", type=int, default=3, help="MLP hidden layers")
    u.add_argument("--modes", type=int, default=8, help="FNO modes per axis")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--run", default=None, help="laplace: a saved run's trained model (name or path)")
    u.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="problem.<p>=...")
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=cmd_uq)

    d = sub.add_parser("sde", parents=[common],
                       help="stable neural SDEs beside the neural ODE on an irregularly sampled chaotic series")
    d.add_argument("--problem", default="lorenz63")
    d.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    d.add_argument("--missing", nargs="+", type=float, default=[0.3, 0.5, 0.7],
                   help="fractions of the training points dropped, each in [0, 1)")
    d.add_argument("--steps", type=int, default=200, help="Adam steps of each model")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="problem.<p>=... (e.g. problem.t_end=20)")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_sde)


#: adds subcommands to the parser: ``(subparsers, common parent parser) -> None``
AddCommands = Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None]


def build_parser(add_commands: AddCommands | None = None) -> argparse.ArgumentParser:
    # --runs-dir is accepted before or after the subcommand (see main)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs-dir", default=None, help="where runs are saved (default ~/.sciml-lab/runs)")
    common.add_argument("--module", action="append", default=[], metavar="FILE_OR_MODULE",
                        help="import a file (my_pde.py) or module first: the problems and models "
                             "it defines become available; repeatable")
    ap = argparse.ArgumentParser(prog="sciml-lab",
                                 description="sciml-lab: an interactive lab for scientific machine learning")
    ap.add_argument("--runs-dir", dest="runs_dir_global", default=None, help=argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="command", required=True)
    if add_commands is not None:
        add_commands(sub, common)

    t = sub.add_parser("train", parents=[common], help="train a model on a problem")
    t.add_argument("--problem", default="burgers")
    t.add_argument("--model", default="mlp")
    t.add_argument("--steps", type=int, default=None,
                   help="Adam steps (overrides --set steps=); with --resume, steps beyond the "
                        "checkpoint (default: finish the run's planned steps)")
    t.add_argument("--set", nargs="*", metavar="KEY=VALUE",
                   help="problem.<p>=…, model.<p>=…, or a training parameter")
    t.add_argument("--observe", action="append", metavar="KEY=VALUE,...",
                   help="fit sensors drawn from the reference: sensors=N,noise=REL_STD,layout=random|grid,seed=S")
    t.add_argument("--observations", default=None, metavar="FILE",
                   help="fit the observations in FILE (CSV, NPZ, HDF5 or netCDF: a column per axis and output)")
    t.add_argument("--infer", action="append", metavar="NAME=GUESS,...",
                   help="recover problem parameters from the observations, from these initial guesses (nu=0.05)")
    t.add_argument("--resume", default=None, help="continue a saved run (name or path)")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="data-parallel training on N ranks launched by torchrun (one GPU each; gloo "
                        "processes on a CPU); each rank takes 1/N of the points or mini-batch")
    t.add_argument("--data", default=None, metavar="FILE.h5",
                   help="train an operator on an HDF5 dataset in PDEBench's or The Well's layout "
                        "(the problem is then external_operator; e.g. --model fno)")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("runs", parents=[common], help="list or show saved runs")
    r.add_argument("action", choices=["list", "show"], nargs="?", default="list")
    r.add_argument("name", nargs="?")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_runs)

    p = sub.add_parser("problems", parents=[common], help="list the problem catalogue")
    p.add_argument("-v", "--verbose", action="store_true", help="show parameters and ranges")
    p.set_defaults(func=cmd_problems)

    from lab.io import FORMATS
    e = sub.add_parser("export", parents=[common], help="write a saved run's fields to a file",
                       description="Evaluate a saved run on its problem's grid and write prediction, "
                                   "reference and error: " + "; ".join(f"{k}: {v[1]}" for k, v in FORMATS.items()))
    e.add_argument("name", help="saved run (name or path)")
    e.add_argument("--format", choices=sorted(FORMATS), default="nc")
    e.add_argument("--out", default=None, help="output path (default: the run's name and the format's suffix)")
    e.add_argument("--time", type=int, default=None, help="vti: the time index to write (default: the last)")
    e.set_defaults(func=cmd_export)

    add_study_parser(sub, common)
    add_trust_parsers(sub, common)
    add_discover_parser(sub, common)
    add_zoo_parser(sub, common)
    return ap


def main(argv: list[str] | None = None, add_commands: AddCommands | None = None) -> int:
    args = build_parser(add_commands).parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what data-parallel ranks run again
    args.runs_dir = args.runs_dir or args.runs_dir_global
    try:
        for spec in getattr(args, "module", None) or []:
            load_user_module(spec)  # before anything lists problems or models
        return args.func(args)
    except ValueError as err:  # bad input: one clear line, no traceback
        print(f"sciml-lab: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
