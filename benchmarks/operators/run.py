"""Neural-operator benchmarks: training throughput and accuracy; one JSON file per device.

Throughput: milliseconds per training step (forward + backward + Adam) of a 4-layer FNO in
float32, median over timed steps (CUDA events on a GPU), peak memory, on the shapes of the
FNO literature; neuraloperator's FNO on the same shapes when ``import neuralop`` works
(its ``n_modes`` counts both signs on leading axes, so ``n_modes = 2 * modes`` there keeps
the same frequencies ``|f| < modes``). Accuracy: FNO trained through the lab's Trainer on
the paper settings (Li et al. 2021), scaled by ``--scale`` (fraction of samples and steps).

    python benchmarks/operators/run.py            # GPU: paper shapes
    python benchmarks/operators/run.py --quick    # CPU: small shapes, seconds

Writes ``benchmarks/results/operators_<device>.json`` (device, date, torch version, dtype)
and prints one JSON line per measurement.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab.device import describe, pick_device  # noqa: E402
from lab.models.fno import FNO  # noqa: E402

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


def time_steps(model, x, y, *, device, warmup: int, iters: int) -> dict:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        opt.step()

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
    return out


def throughput(device, quick: bool, compile_: bool) -> list[dict]:
    rows = []
    for name, shape, batch, modes, width in (QUICK_SHAPES if quick else SHAPES):
        d = len(shape)
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(batch, 1, *shape, generator=gen).to(device)
        y = torch.randn(batch, 1, *shape, generator=gen).to(device)
        models = {"lab": FNO(1, 1, (modes,) * d, width=width, n_layers=4, projection_channels=128)}
        other = _neuralop_fno(d, modes, width)
        if other is not None:
            models["neuralop"] = other
        for impl, model in models.items():
            model = model.to(device)
            if compile_ and impl == "lab":
                model = torch.compile(model)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            r = time_steps(model, x, y, device=device, warmup=3 if quick else 10, iters=5 if quick else 50)
            row = {"benchmark": "throughput", "config": name, "impl": impl, "shape": list(shape),
                   "batch": batch, "modes": modes, "width": width, "n_layers": 4, "dtype": "float32",
                   "compiled": compile_ and impl == "lab",
                   "params": sum(p.numel() for p in model.parameters()), **r}
            print(json.dumps(row), flush=True)
            rows.append(row)
            del model
    return rows


def accuracy(device, quick: bool, scale: float) -> list[dict]:
    from lab.models import get_model_config
    from lab.problems import get_problem
    from lab.training.config import TrainConfig
    from lab.training.trainer import Trainer

    def n(v, lo=4):
        return max(lo, int(round(v * scale)))

    settings = [
        ("burgers_operator", dict(n_train=n(1000), n_val=n(200), batch_size=20, resolution=1024,
                                  solve_resolution=8192),
         dict(modes=16, width=64), n(5000 * 10)),
        ("darcy_operator", dict(n_train=n(1000), n_val=n(100), batch_size=20, resolution=85, solve_resolution=421),
         dict(modes=12, width=32), n(5000 * 10)),
        ("ns2d_operator", dict(n_train=n(1000), n_val=n(200), batch_size=20, resolution=64, solve_resolution=256,
                               nu=1e-3, time_steps=50, history=10, rollout_steps=1, eval_steps=40),
         dict(modes=12, width=20), n(5000 * 10)),
    ]
    if quick:
        settings = [
            ("burgers_operator", dict(n_train=64, n_val=16, batch_size=16, resolution=64, solve_resolution=256),
             dict(modes=12, width=24, n_layers=3, projection_channels=64), 200),
            ("darcy_operator", dict(n_train=64, n_val=16, batch_size=16, resolution=15, solve_resolution=29),
             dict(modes=6, width=16, n_layers=3, projection_channels=32), 200),
        ]
    rows = []
    for key, pkw, mkw, steps in settings:
        problem = get_problem(key, max_gb=64.0, **pkw)
        t0 = time.perf_counter()
        problem.arrays(device=device)
        t_data = time.perf_counter() - t0
        train = TrainConfig(steps=steps, lr=1e-3, lr_schedule="cosine", snapshot_every=max(steps, 1),
                            log_every=max(steps // 10, 1), checkpoint_every=max(steps, 1),
                            device=device.type)
        snaps = []
        t0 = time.perf_counter()
        result = Trainer(problem, get_model_config("fno", **mkw), train, runs_dir=tempfile.mkdtemp(),
                         sinks=[lambda e: snaps.append(e) if type(e).__name__ == "Snapshot" else None]).run()
        row = {"benchmark": "accuracy", "problem": key, "problem_params": pkw, "model": {"kind": "fno", **mkw},
               "steps": steps, "status": result.status, "rel_l2": result.rel_l2,
               "trivial_rel_l2": snaps[-1].extras.get("trivial_rel_l2") if snaps else None,
               "data_seconds": t_data, "train_seconds": time.perf_counter() - t0, "dtype": "float32"}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, CPU-friendly")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile(FNO)")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of paper samples and steps")
    ap.add_argument("--out", default=None, help="output JSON (default benchmarks/results/operators_<device>.json)")
    args = ap.parse_args(argv)
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 figures mean float32
        torch.backends.cudnn.allow_tf32 = False
    rows = []
    if not args.skip_throughput:
        rows += throughput(device, args.quick, compile_=False)
        if args.compile:
            rows += throughput(device, args.quick, compile_=True)
    if not args.skip_accuracy:
        rows += accuracy(device, args.quick, args.scale)
    tag = describe(device).replace(" ", "_").replace("(", "").replace(")", "").replace("/", "_")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"operators_{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": describe(device), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                               "torch": torch.__version__, "python": platform.python_version(),
                               "dtype": "float32", "quick": args.quick, "results": rows}, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
