"""PIG training speed: Adam steps/s of the Trainer's step, per derivative route.

    python benchmarks/pinn/pig_speed.py                       # Klein–Gordon 2D, all routes
    python benchmarks/pinn/pig_speed.py --routes autograd --profile autograd

The step is the Trainer's (:class:`lab.training.tasks.pinn.PINNTask` loss: residual, initial
value and velocity, boundary; :class:`lab.training.graphs.CapturedAdam`, points redrawn every
100 steps) for PIG with 4000 Gaussians, ``top_k=32`` and 8192 collocation points, float32.
Each route (``TrainConfig.derivatives``) reports whether its step was captured as a CUDA
graph (or why not), the host synchronisations of one eager step (CUDA sync debug mode), the
loss of the first step (the same initial model and batch for every route), and optionally
the GPU kernels of an eager step (torch.profiler, the 25 costliest). Results go to
``benchmarks/results/pig_speed_<device>.json`` with device, date, torch version and dtype.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab.device import describe, pick_device  # noqa: E402
from lab.models import get_model_config  # noqa: E402
from lab.problems import get_problem  # noqa: E402
from lab.training import TrainConfig, graphs  # noqa: E402
from lab.training.tasks import task_for  # noqa: E402
from benchmarks.timing import peak_gb, profiled_kernels, reset_peak, sync  # noqa: E402


def build(args, engine, device):
    """Task and capturable Adam of one route: the same model and batch for every route."""
    problem = get_problem(args.problem)
    cfg = TrainConfig(n_pde=args.n_pde, n_ic=args.n_ic, n_bc=args.n_bc, resample_every=100,
                      lr=1e-2, derivatives=engine, device=str(device), dtype="float32", seed=0)
    torch.manual_seed(0)
    model = get_model_config("pig", n_gaussians=args.gaussians, top_k=args.top_k).build(problem)
    model.to(device=device, dtype=torch.float32)
    task = task_for("pinn")(problem, model, cfg, device=device, dtype=torch.float32,
                            generator=torch.Generator().manual_seed(0))
    params = [p for p in model.parameters() if p.requires_grad]
    return task, graphs.adam(params, cfg.lr, device, capturable=device.type == "cuda")


def eager_step(task, opt, step):
    opt.zero_grad(set_to_none=True)
    total, terms, _ = graphs.weighted_loss(task, step)
    total.backward()
    opt.step()
    return total, terms


def host_syncs(task, opt, step, device) -> list[str]:
    """The distinct host-synchronisation warnings of one eager step (CUDA sync debug mode)."""
    if device.type != "cuda":
        return []
    sync(device)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            eager_step(task, opt, step)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sorted({str(w.message).split("\n")[0] for w in seen})


def profile(task, opt, step, device, steps=5) -> dict:
    """Kernels of ``steps`` eager steps: count, GPU time and the costliest 25 by CUDA time."""
    from torch.profiler import ProfilerActivity

    count = iter(range(step, step + steps))
    prof, kernels = profiled_kernels(lambda: eager_step(task, opt, next(count)), device, steps,
                                     [ProfilerActivity.CPU, ProfilerActivity.CUDA])
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=60)
    return {"kernels_per_step": len(kernels) / steps,
            "gpu_kernel_ms_per_step": round(sum(k.device_time for k in kernels) / 1e3 / steps, 3),
            "table": table}


def measure(args, route, device) -> dict:
    task, opt = build(args, route, device)
    t0 = time.perf_counter()
    total, terms = eager_step(task, opt, 0)  # compiles the jet where the route does
    first = {"total": float(total.detach()), **{k: float(v.detach()) for k, v in terms.items()}}
    first_step_s = time.perf_counter() - t0
    eager_step(task, opt, 1)
    syncs = host_syncs(task, opt, 2, device)
    # the Trainer's step: a captured CUDA graph where possible (CUDA only), else eager
    runner = graphs.CapturedAdam(task, opt, 3) if device.type == "cuda" else None
    step = iter(range(3, 10**9))

    def train_step():
        s = next(step)
        runner.step(s, 1e-2) if runner is not None else eager_step(task, opt, s)

    for _ in range(graphs.WARMUP_STEPS + 5):  # warm-up steps, then the capture
        train_step()
    reset_peak(device)
    rates = []
    for _ in range(args.repeats):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            train_step()
        sync(device)
        rates.append(round(args.steps / (time.perf_counter() - t0), 2))
    captured = runner is not None and runner.graph is not None
    row = {"route": route, "captured": captured, "fallback": runner.fallback if runner else "not CUDA",
           "steps_per_s": sorted(rates)[len(rates) // 2], "repeats": rates,
           "first_step_s": round(first_step_s, 2), "first_step_loss": first,
           "host_syncs_per_eager_step": syncs,
           "peak_gpu_gb": peak_gb(device)}
    if route in args.profile:
        row["profile"] = profile(task, opt, next(step), device)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problem", default="klein_gordon2d")
    ap.add_argument("--gaussians", type=int, default=4000)
    ap.add_argument("--top-k", type=int, default=32)
    ap.add_argument("--n-pde", type=int, default=8192)
    ap.add_argument("--n-ic", type=int, default=512)
    ap.add_argument("--n-bc", type=int, default=512)
    ap.add_argument("--steps", type=int, default=200, help="Timed steps per repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--routes", default="autograd,taylor,compiled",
                    help="Comma-separated TrainConfig.derivatives values to measure")
    ap.add_argument("--profile", default="", help="Comma-separated routes to profile")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help="Output JSON (default benchmarks/results/pig_speed_<device>.json)")
    args = ap.parse_args(argv)
    args.profile = [r for r in args.profile.split(",") if r]
    device = pick_device(args.device)
    name = describe(device)
    meta = {"device": name, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "python": platform.python_version(), "dtype": "float32",
            "problem": args.problem, "n_gaussians": args.gaussians, "top_k": args.top_k,
            "points": {"n_pde": args.n_pde, "n_ic": args.n_ic, "n_bc": args.n_bc},
            "timed_steps": args.steps, "repeats": args.repeats}
    print(json.dumps({"meta": meta}), flush=True)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"pig_speed_{slug}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for route in [r for r in args.routes.split(",") if r]:
        try:
            row = measure(args, route, device)
        except Exception as err:  # a route that fails is a result to record, not the end of the run
            row = {"route": route, "error": f"{type(err).__name__}: {err}"}
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "profile"}), flush=True)
        if "profile" in row:
            print(row["profile"]["table"], flush=True)
        out.write_text(json.dumps({"meta": meta, "results": rows}, indent=1))  # kept if a later route stalls
    return 0


if __name__ == "__main__":
    sys.exit(main())
