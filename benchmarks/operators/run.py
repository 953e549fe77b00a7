"""Neural-operator benchmarks: training throughput and accuracy; one JSON file per device.

Throughput: milliseconds per training step (forward + backward + Adam) of a 4-layer FNO in
float32 (TF32 off), median over timed steps (CUDA events on a GPU), peak memory, on the shapes
of the FNO literature. ``lab`` is the eager step with fused Adam; ``lab_graph`` (CUDA) is the
same step captured once and replayed as one CUDA graph by :class:`lab.training.graphs.CapturedAdam`,
as the Trainer does; ``neuralop`` is neuraloperator's FNO with ``torch.optim.Adam``
when ``import neuralop`` works (its ``n_modes`` counts both signs, so ``n_modes = 2 * modes``
keeps the frequencies ``|f| < modes``). Accuracy: FNO trained through the lab's Trainer on the
paper settings (Li et al. 2021), scaled by ``--scale`` (fraction of samples and steps);
``--minutes`` caps each training run, the step count then set from the measured step time.
``--trainer-speed``: Trainer milliseconds per step on the paper settings, eager and with the
captured step (CUDA), which adds to the kernel time above the per-step batch draw and copy.

    python benchmarks/operators/run.py            # GPU: paper shapes
    python benchmarks/operators/run.py --quick    # CPU: small shapes, seconds

Writes ``benchmarks/results/operators_<device>.json`` (device, date, torch version, dtype)
and prints one JSON line per measurement.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.sittings import carried_run, remember_run, run_within  # noqa: E402
from benchmarks.timing import profiled_kernels  # noqa: E402
from lab.device import describe, pick_device  # noqa: E402
from lab.models.fno import FNO  # noqa: E402
from lab.training import TrainConfig, graphs  # noqa: E402
from lab.training.runs import find_run  # noqa: E402
from lab.training.tasks import Task  # noqa: E402

#: (name, spatial shape, batch, modes, width)
SHAPES = [("fno1d_1024", (1024,), 64, 16, 64), ("fno2d_64", (64, 64), 32, 16, 64),
          ("fno2d_256", (256, 256), 16, 16, 64), ("fno3d_64", (64, 64, 64), 4, 8, 32)]
QUICK_SHAPES = [("fno1d_256", (256,), 16, 16, 32), ("fno2d_32", (32, 32), 8, 8, 16),
                ("fno3d_16", (16, 16, 16), 2, 4, 8)]


def _neuralop_fno(d, modes, width):
    try:
        from neuralop.models import FNO as NeuralopFNO
    except Exception:  # neuralop absent or broken: its column is left out, not faked
        return None
    return NeuralopFNO(n_modes=tuple([2 * modes] * (d - 1) + [2 * modes]), hidden_channels=width,
                       in_channels=1, out_channels=1, n_layers=4)


class _FixedBatch(Task):
    """The benchmark's step as a task of :mod:`lab.training.graphs`: one fixed batch, MSE loss."""

    family = "operator"

    def __init__(self, model, x, y):
        super().__init__(SimpleNamespace(key="throughput benchmark"), model, TrainConfig(), device=x.device,
                         dtype=x.dtype, generator=None)
        self.batch = {"x": x, "y": y}

    def loss_terms(self, step):
        return {"mse": (self.model(self.batch["x"]) - self.batch["y"]).pow(2).mean()}

    def eager_step(self, opt) -> None:
        opt.zero_grad(set_to_none=True)
        self.loss_terms(0)["mse"].backward()
        opt.step()


def time_steps(model, x, y, *, device, warmup: int, iters: int, mode: str) -> dict:
    """``mode``: ``"eager"`` (lab: fused Adam on CUDA), ``"graph"`` (captured) or ``"plain"``
    (``torch.optim.Adam`` defaults, how neuraloperator's FNO is trained). The peak memory of a
    captured step leaves out the graph's private pool (allocated at capture): quote the eager one."""
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3) if mode == "plain" else \
        graphs.adam(params, 1e-3, device, capturable=mode == "graph")
    task = _FixedBatch(model, x, y)
    captured = graphs.CapturedAdam(task, opt, 0) if mode == "graph" else None
    count = iter(range(10**9))

    def step():
        if captured is not None:
            captured.step(next(count), 1e-3)
            return
        task.eager_step(opt)

    for _ in range(warmup):
        step()
    times = []
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    for _ in range(iters):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            step()
            times.append(1e3 * (time.perf_counter() - t0))
    out = {"ms_per_step_median": statistics.median(times), "ms_per_step_min": min(times), "iters": iters}
    if cuda:
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    if captured is not None:
        out["captured"] = captured.graph is not None
        if captured.nonfinite() is not None:
            raise FloatingPointError("non-finite loss in the captured benchmark step")
    return out


def kernel_table(model, x, y, device, top: int = 12) -> list[dict]:
    """The eager step's GPU kernels by total time: ``[{kernel, ms_per_step, calls_per_step}]``."""
    opt = graphs.adam(list(model.parameters()), 1e-3, device, capturable=False)
    task = _FixedBatch(model, x, y)
    steps = 5
    _, kernels = profiled_kernels(lambda: task.eager_step(opt), device, steps)
    total: dict[str, list[float]] = {}
    for k in kernels:
        t = total.setdefault(k.name[:90], [0.0, 0])
        t[0] += k.device_time / 1e3 / steps
        t[1] += 1 / steps
    rows = sorted(total.items(), key=lambda kv: -kv[1][0])[:top]
    return [{"kernel": n, "ms_per_step": round(ms, 3), "calls_per_step": round(c, 1)} for n, (ms, c) in rows]


def throughput(device, quick: bool, compile_: bool, emit, profile: bool = False) -> None:
    for name, shape, batch, modes, width in (QUICK_SHAPES if quick else SHAPES):
        d = len(shape)
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(batch, 1, *shape, generator=gen).to(device)
        y = torch.randn(batch, 1, *shape, generator=gen).to(device)
        runs = [("lab", "eager")] + ([("lab_graph", "graph")] if device.type == "cuda" else []) + \
            [("neuralop", "plain")]
        for impl, mode in runs:
            model = _neuralop_fno(d, modes, width) if impl == "neuralop" else \
                FNO(1, 1, (modes,) * d, width=width, n_layers=4, projection_channels=128)
            if model is None:
                continue
            model = model.to(device)
            compiled = compile_ and impl == "lab"
            if compiled:
                model = torch.compile(model)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            r = time_steps(model, x, y, device=device, warmup=3 if quick else 10, iters=5 if quick else 50,
                           mode=mode)
            row = {"benchmark": "throughput", "config": name, "impl": impl, "shape": list(shape),
                   "batch": batch, "modes": modes, "width": width, "n_layers": 4, "dtype": "float32",
                   "compiled": compiled, "params": sum(p.numel() for p in model.parameters()), **r}
            if profile and impl == "lab" and device.type == "cuda":
                row["kernels"] = kernel_table(model, x, y, device)
            emit(row)
            del model


#: The FNO paper's settings (Li et al. 2021) by name: problem, its parameters, the model, Adam
#: steps (500 epochs of batch 20), the paper's relative L2 and how our data compare. The data
#: come from the lab's solvers on the grids given here.
_NS_NU1E_3 = dict(n_train=1000, n_val=200, batch_size=20, resolution=64, solve_resolution=128, nu=1e-3,
                  time_steps=50, history=10, rollout_steps=40, eval_steps=40, solver_batch=1200)
_NS_NU1E_4 = dict(n_train=1000, n_val=200, batch_size=20, resolution=64, solve_resolution=128, nu=1e-4,
                  time_steps=30, history=10, rollout_steps=20, eval_steps=20, solver_batch=1200)
#: the FNO-3D setting: the ns_nu1e-3 data, 10 input frames and the 40 that follow as one field
_NS3D = dict(n_train=1000, n_val=200, batch_size=10, resolution=64, solve_resolution=128, nu=1e-3, time_steps=50,
             history=10, frames=40, solver_batch=1200)
PAPER = [
    ("burgers", "burgers_operator",
     dict(n_train=1000, n_val=200, batch_size=20, resolution=1024, solve_resolution=2048, solver_batch=1200),
     dict(modes=16, width=64), 25_000, 0.0160,
     "paper: nu=0.1, GRF u0, split-step solver at s=8192 subsampled to 1024; 1000 train / 200 test"),
    ("darcy", "darcy_operator",
     dict(n_train=1000, n_val=100, batch_size=20, resolution=85, solve_resolution=421, grf_modes=421, a_low=4.0),
     dict(modes=12, width=32), 25_000, 0.0108,
     "paper: a in {12, 4} (its generation script; its text says 3) thresholded GRF with as many cosine modes "
     "as grid points, f=1, second-order FD at s=421 subsampled to 85, as here (conjugate gradients on the GPU); "
     "1000 train / 100 test"),
    ("ns_nu1e-3", "ns2d_operator", _NS_NU1E_3, dict(modes=12, width=20), 25_000, 0.0128,
     "paper: nu=1e-3, T=50, pseudo-spectral Crank-Nicolson at 256^2 (dt=1e-4) subsampled to 64^2 "
     "(here: solved at 128^2); 10 input frames, trained and evaluated on the whole 40-step rollout"),
    ("ns_nu1e-3_onestep", "ns2d_operator", dict(_NS_NU1E_3, rollout_steps=1), dict(modes=12, width=20),
     25_000, 0.0128,
     "as ns_nu1e-3, but trained by one-step teacher forcing (40 times cheaper per Adam step than "
     "the paper's whole-rollout training); evaluated on the whole 40-step rollout"),
    ("ns_nu1e-3_fno3d", "ns2d_spacetime_operator", _NS3D,
     dict(modes=8, width=20), 50_000, 0.0086,
     "paper (FNO-3D): the same data as ns_nu1e-3 (solved at 128^2 here), 10 input frames repeated along t, "
     "the 40 following frames predicted as one space-time field; batch 10, 500 epochs"),
    ("ns_nu1e-3_fno3d_norm", "ns2d_spacetime_operator", _NS3D, dict(modes=8, width=20, normalize_output=True),
     50_000, 0.0086, "as ns_nu1e-3_fno3d, with the paper's pointwise output normaliser and peak learning rate "
     "2.5e-3 (its fourier_3d.py); cosine schedule, no weight decay or batch norm"),
    ("ns_nu1e-4", "ns2d_operator", _NS_NU1E_4, dict(modes=12, width=20), 25_000, 0.1559,
     "paper (Table 1, N=1000 column): nu=1e-4, T=30, 256^2 subsampled to 64^2 (here: solved at "
     "128^2); 10 input frames, trained and evaluated on the whole 20-step rollout. The paper's "
     "0.0973 is its N=10000 setting"),
    ("ns_nu1e-4_n10000", "ns2d_operator", dict(_NS_NU1E_4, n_train=10_000), dict(modes=12, width=20),
     25_000, 0.0973,
     "as ns_nu1e-4 with the paper's N=10000 training samples, trained for the N=1000 row's 25 000 Adam "
     "steps (50 epochs; the paper's 500 would take about 100 GPU-minutes on an H200, the data about 10)"),
    ("ns_nu1e-4_n10000_long", "ns2d_operator", dict(_NS_NU1E_4, n_train=10_000), dict(modes=12, width=20),
     80_000, 0.0973,
     "as ns_nu1e-4_n10000 with a plan of 80 000 Adam steps (160 epochs; the paper trains 500), carried "
     "over sittings on two machines, each regenerating the data"),
    ("ns_nu1e-4_fno3d_n10000", "ns2d_spacetime_operator",
     dict(_NS3D, nu=1e-4, time_steps=30, frames=20, n_train=10_000), dict(modes=8, width=20, normalize_output=True),
     500_000, 0.0820, "paper (FNO-3D, N=10000): the ns_nu1e-4_n10000 data (solved at 128^2 here), 10 input "
     "frames repeated along t, the 20 following frames as one space-time field; batch 10, 500 epochs; here with "
     "the normaliser and peak learning rate 2.5e-3 of its fourier_3d.py, a cosine schedule, and a plan cut to "
     "the steps that fit --plan-minutes"),
]


#: ``--model mgno``: the multigrid operator's settings per row (levels: the grid halves per level,
#: 85 -> 43 -> 22 -> 11 -> 6 for Darcy); rows not listed use the default
MGNO = {"darcy": dict(width=32, n_layers=4, levels=5), "default": dict(width=32, n_layers=4, levels=4)}


#: peak learning rate of a row's cosine schedule where it is not 1e-3: the paper's FNO-3D script uses 2.5e-3
PEAK_LR = {"ns_nu1e-3_fno3d_norm": 2.5e-3, "ns_nu1e-4_fno3d_n10000": 2.5e-3}


def _train(problem, mkw, steps, device, limit=None, log_every=None, snapshot_every=None, cuda_graphs=True,
           resume=None, runs_dir=None, lr=1e-3, kind="fno"):
    """FNO through the Trainer: ``(result, Step events, Snapshot events)``; ``limit`` in seconds.

    ``resume``: a run (name or folder) to continue to the end of its planned steps instead."""
    from lab.models import get_model_config
    from lab.training.events import Snapshot, Step
    from lab.training.trainer import Trainer

    events = []
    if resume:
        trainer = Trainer.resume(resume, sinks=[events.append], runs_dir=runs_dir)
    else:
        cfg = TrainConfig(steps=steps, lr=lr, lr_schedule="cosine",
                          snapshot_every=snapshot_every or max(steps // 5, 1),
                          log_every=log_every or max(steps // 10, 1),
                          checkpoint_every=max(steps // 10, 1) if runs_dir else max(steps, 1),
                          device=device.type, cuda_graphs=cuda_graphs)
        trainer = Trainer(problem, get_model_config(kind, **mkw), cfg, runs_dir=runs_dir or tempfile.mkdtemp(),
                          sinks=[events.append])
    result = run_within(trainer, limit)
    return result, [e for e in events if isinstance(e, Step)], [e for e in events if isinstance(e, Snapshot)]


def _n_params(kind, mkw, problem) -> int:
    from lab.models import get_model_config

    return sum(p.numel() for p in get_model_config(kind, **mkw).build(problem).parameters())


def _ms_per_step(problem, mkw, device, cuda_graphs=True, kind="fno") -> float:
    """Trainer milliseconds per Adam step: 200 steps timed after 100 of warm-up (and capture).

    Each logged step reads its losses back, so the times include all the GPU work before them;
    no validation falls inside the window (a 40-step rollout of the NS validation set costs
    more than 200 training steps)."""
    _, ev, _ = _train(problem, mkw, 300, device, log_every=100, snapshot_every=300, cuda_graphs=cuda_graphs,
                      kind=kind)
    t = {e.step: e.elapsed for e in ev}
    return 1e3 * (t[300] - t[100]) / 200


def _steps_that_fit(problem, mkw, device, steps: int, minutes: float, kind="fno") -> tuple[int, float]:
    """``steps``, cut to the Trainer steps that fit ``minutes``, and the measured ms per step."""
    ms = _ms_per_step(problem, mkw, device, kind=kind)
    return max(1, min(steps, int(60e3 * minutes / ms))), ms


class _Fallbacks(logging.Handler):
    """Collects the warnings of Adam steps that could not be captured."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def trainer_speed(device, emit, only=None) -> None:
    """Trainer steps/s on the paper settings, eager and (CUDA) with the captured Adam step."""
    from lab.problems import get_problem

    fallbacks = _Fallbacks()
    logging.getLogger("lab.training.graphs").addHandler(fallbacks)
    for name, key, pkw, mkw, _, _, _ in PAPER:
        if only and name not in only:
            continue
        problem = get_problem(key, max_gb=64.0, **pkw)
        problem.arrays(device=device)
        for graphs_on in ([False, True] if device.type == "cuda" else [False]):
            fallbacks.messages.clear()
            ms = _ms_per_step(problem, mkw, device, cuda_graphs=graphs_on)
            emit({"benchmark": "trainer_steps", "setting": name, "problem": key, "problem_params": pkw,
                  "model": {"kind": "fno", **mkw}, "cuda_graphs": graphs_on, "ms_per_step": ms,
                  "steps_per_s": 1e3 / ms, "capture_fallback": list(fallbacks.messages), "dtype": "float32"})
    logging.getLogger("lab.training.graphs").removeHandler(fallbacks)


def accuracy(device, quick: bool, scale: float, minutes: float | None, emit, only=None,
             continue_in: Path | None = None, lr: float | None = None, plan_minutes: float | None = None,
             kind: str = "fno") -> None:
    """Train each setting and emit its row. ``continue_in``: a folder where each setting's
    run carries on from call to call (for runs longer than one sitting): the run named in
    ``<setting>.run`` there is continued, else started with the paper's steps; ``minutes``
    then stops it (checkpointed) instead of shortening it, and ``plan_minutes`` cuts a new
    run's plan to the steps that fit that long (timed first)."""
    from lab.problems import get_problem

    def n(v, lo=4):
        return max(lo, int(round(v * scale)))

    settings = [(name, key, {k: (n(v) if k in ("n_train", "n_val") else v) for k, v in pkw.items()}, mkw,
                 n(steps), target, note) for name, key, pkw, mkw, steps, target, note in PAPER]
    if quick:
        settings = [
            ("burgers", "burgers_operator",
             dict(n_train=64, n_val=16, batch_size=16, resolution=64, solve_resolution=256),
             dict(modes=12, width=24, n_layers=3, projection_channels=64), 200, None, "quick"),
            ("darcy", "darcy_operator",
             dict(n_train=64, n_val=16, batch_size=16, resolution=15, solve_resolution=29),
             dict(modes=6, width=16, n_layers=3, projection_channels=32), 200, None, "quick"),
        ]

    for name, key, pkw, mkw, steps, target, note in settings:
        if only and name not in only:
            continue
        if kind == "mgno":
            mkw = MGNO.get(name, MGNO["default"])
        problem = get_problem(key, max_gb=64.0, **pkw)
        t0 = time.perf_counter()
        problem.arrays(device=device)
        t_data = time.perf_counter() - t0
        ms_step, resume, limit = None, None, 1.25 * 60 * minutes if minutes else None
        if continue_in is not None:
            resume, done = carried_run(continue_in, name)
            limit = 60 * minutes if minutes else None
            if done:
                print(f"{name}: run {resume} has finished its plan", file=sys.stderr)
                continue
            if resume is None and plan_minutes:
                steps, _ = _steps_that_fit(problem, mkw, device, steps, plan_minutes, kind)
        elif minutes:
            steps, ms_step = _steps_that_fit(problem, mkw, device, steps, minutes, kind)
        t0 = time.perf_counter()
        new_lr = lr or PEAK_LR.get(name, 1e-3)
        result, ev, snaps = _train(problem, mkw, steps, device, limit, resume=resume, runs_dir=continue_in, lr=new_lr,
                                   kind=kind)
        if resume:  # a continued run keeps its own rate and plan
            run_lr, steps = (find_run(resume, continue_in).config()["train"][k] for k in ("lr", "steps"))
        else:
            run_lr = new_lr
        if continue_in is not None:
            remember_run(continue_in, name, result.run_dir)
            if len(ev) > 1:
                ms_step = 1e3 * (ev[-1].elapsed - ev[0].elapsed) / (ev[-1].step - ev[0].step)
        row = {"benchmark": "accuracy", "setting": name, "problem": key, "problem_params": pkw,
               "model": {"kind": kind, **mkw}, "parameters": _n_params(kind, mkw, problem),
               "continued_from": resume,
               "steps": steps, "steps_done": result.step, "epochs": result.step * pkw["batch_size"] / pkw["n_train"],
               "status": result.status, "rel_l2": result.rel_l2, "paper_rel_l2": target,
               "trivial_rel_l2": snaps[-1].extras.get("trivial_rel_l2") if snaps else None,
               "ms_per_step": ms_step, "data_seconds": t_data, "train_seconds": time.perf_counter() - t0,
               "lr": run_lr, "dtype": "float32", "paper": note}
        if snaps and "rollout_error" in snaps[-1].extras:
            row["rollout_error"] = snaps[-1].extras["rollout_error"]
        emit(row)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, CPU-friendly")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile(FNO)")
    ap.add_argument("--profile", action="store_true", help="list the eager lab step's GPU kernels (CUDA)")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--trainer-speed", action="store_true",
                    help="also time Trainer steps, eager and captured, on the paper settings")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of paper samples and steps")
    ap.add_argument("--minutes", type=float, default=None,
                    help="cap on each accuracy training run; fewer steps when the paper's do not fit")
    ap.add_argument("--continue-in", type=Path, default=None,
                    help="folder where each accuracy run continues from call to call (with --minutes: "
                         "the time of this sitting)")
    ap.add_argument("--plan-minutes", type=float, default=None,
                    help="with --continue-in: a new run's plan is cut to the steps that fit this many minutes "
                         "(timed over 200 steps first)")
    ap.add_argument("--lr", type=float, default=None,
                    help="peak learning rate of the accuracy runs' cosine schedule (default: 1e-3, or the row's "
                         "in PEAK_LR; a continued run keeps its own)")
    ap.add_argument("--problems", default=None,
                    help="comma-separated subset of the accuracy (and Trainer-speed) settings: "
                         + ", ".join(p[0] for p in PAPER))
    ap.add_argument("--model", default="fno", choices=["fno", "mgno"],
                    help="accuracy rows: the FNO (the paper's) or the multigrid operator MgNO at its settings (MGNO)")
    ap.add_argument("--out", default=None, help="output JSON (default benchmarks/results/operators_<device>.json)")
    args = ap.parse_args(argv)
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 figures mean float32
        torch.backends.cudnn.allow_tf32 = False
    tag = describe(device).replace(" ", "_").replace("(", "").replace(")", "").replace("/", "_")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"operators_{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []

    def emit(row):  # the file is rewritten after every row, so a cut-off run keeps its rows
        print(json.dumps(row), flush=True)
        rows.append(row)
        out.write_text(json.dumps({"device": describe(device), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                   "torch": torch.__version__, "python": platform.python_version(),
                                   "dtype": "float32", "tf32": False, "quick": args.quick, "results": rows},
                                  indent=2))

    if not args.skip_throughput:
        throughput(device, args.quick, False, emit, args.profile)
        if args.compile:
            throughput(device, args.quick, True, emit)
    only = args.problems.split(",") if args.problems else None
    if args.trainer_speed:
        trainer_speed(device, emit, only)
    if not args.skip_accuracy:
        accuracy(device, args.quick, args.scale, args.minutes, emit, only, args.continue_in, args.lr,
                 args.plan_minutes, args.model)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
