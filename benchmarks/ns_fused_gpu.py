"""The fused Navier–Stokes step against the reference step, in one process on one device.

For each case of ``benchmarks/ns_gpu.py`` (3D 128^3 and 256^3 Taylor–Green, 2D 1024^2 random
vorticity; float32) and each way of running the step (``fused=`` ``"off"``: the reference,
``"compile"``, ``"graphs"``; ``"eager"`` where asked): the first call (the compile time, kept
out of the timing), the median step time over repeats after a warm-up, the fraction of the
measured copy bandwidth computed with the *reference* step's traffic count
(``ns_gpu.PASSES_3D`` / ``PASSES_2D``, so every fraction compares the same work), the peak
memory, and the largest difference from the reference after a few steps (physical fields).

Then the operator data set of the FNO-paper row with N = 10 000 (``ns2d``, nu = 1e-4, T = 30,
solved at 128^2 in float64 and stored at 64^2) is generated at a reduced ``--data-samples``
with the reference and the fused step (the compile is warmed on a step of the same shape and
reported apart), extrapolated to the 10 200 samples of that row (train + validation), and the
two sets are compared frame by frame.

What limits the fused step: between two transforms it runs one kernel, so its own traffic
(``PASSES_FUSED_*``, single-pass transforms assumed) is below the reference count; what is
left is the FFTs (cuFFT runs a 3D transform as several passes over the data, none of which the
count includes) and, for small fields, the launch gaps that ``"graphs"`` removes.

Usage on a GPU box (about 5 minutes): ``python benchmarks/ns_fused_gpu.py --out DIR`` writes
``DIR/ns_fused_gpu.json`` (default ``benchmarks/results/``) and prints a summary; ``--quick``
runs tiny sizes on the CPU in seconds (writes only with ``--out``).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from benchmarks.ns_gpu import PASSES_2D, PASSES_3D, copy_bandwidth, time_step  # noqa: E402
from lab.data.datasets import NS2DData  # noqa: E402
from lab.device import describe, pick_device  # noqa: E402
from lab.solvers import navier_stokes  # noqa: E402
from lab.solvers import grf  # noqa: E402
from lab.solvers.navier_stokes import NavierStokes2D, NavierStokes3D, taylor_green_3d  # noqa: E402

#: passes of the fused step, counted as ``ns_gpu`` counts them. 3D per evaluation: irfftn of 6
#: (12) + cross product (9) + rfftn of 3 (6); element-wise: the first derivative kernel (read 3,
#: write 6), three stage kernels (read the transform and the state, write the stage and the 6
#: next fields: 15 each) and the final combination (read 15, write 3).
PASSES_FUSED_3D = 4 * 27 + 9 + 3 * 15 + 18
#: 2D: irfftn of 4 (8) + advection (5) + rfftn (2); first kernel 5, stage kernels 7, final 6.
PASSES_FUSED_2D = 4 * 15 + 5 + 3 * 7 + 6
#: the FNO-paper N = 10 000 row (``benchmarks/operators/run.py``): train + validation samples
PAPER_SAMPLES = 10_200
PAPER_DATA = dict(nu=1e-4, time_steps=30, resolution=64, solve_resolution=128, solver_batch=1200, seed=0)
#: a few frames of a coarse set for the CPU smoke test
QUICK_DATA = dict(nu=1e-3, time_steps=2, resolution=16, solve_resolution=32, solver_batch=8, seed=0)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_reset(device):
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gb(device):
    return torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None


def _cases(quick, device, dtype):
    """(name, solver factory, initial state, reference traffic, fused traffic) per case."""
    item = torch.finfo(dtype).bits // 8
    out = []
    for n in ((16, 24) if quick else (128, 256)):
        def make(fused, n=n):
            return NavierStokes3D(n, nu=1 / 1600, device=device, dtype=dtype, max_bytes=64 * 2**30, fused=fused)
        ref = make("off")
        state = ref.project(ref.to_spectral(taylor_green_3d(n, device=device, dtype=dtype)))
        out.append((f"ns3d_{n}^3", make, state, PASSES_3D * n**3 * item, PASSES_FUSED_3D * n**3 * item))
    n = 64 if quick else 1024
    w0 = grf.grf((n, n), 2.5, 7.0, 1, torch.Generator().manual_seed(0), device=device, dtype=dtype)[0]

    def make2(fused, n=n):
        return NavierStokes2D(n, nu=1e-4, length=1.0, device=device, dtype=dtype, max_bytes=64 * 2**30, fused=fused)
    out.append((f"ns2d_{n}^2", make2, make2("off").to_spectral(w0), PASSES_2D * n**2 * item,
                PASSES_FUSED_2D * n**2 * item))
    return out


def step_row(name, make, state, traffic, traffic_fused, mode, device, bw, warmup, repeats, check_steps):
    """Time one way of stepping one case; compare its fields with the reference's."""
    _peak_reset(device)
    ref, solver = make("off"), make(mode)
    dt = 0.5 * ref.max_stable_dt(state)
    _sync(device)
    t0 = time.perf_counter()
    solver.step(state, dt)  # the compile of the step, for a compiled mode
    _sync(device)
    first = time.perf_counter() - t0
    t = time_step(solver, state, dt, device, warmup=warmup, repeats=repeats)
    a, b = state, state
    for _ in range(check_steps):
        a, b = ref.step(a, dt), solver.step(b, dt)
    fa, fb = ref.to_physical(a), ref.to_physical(b)
    return {"case": name, "fused": mode, "step_ms": t * 1e3, "first_call_s": first,
            "traffic_GB_est": traffic / 1e9, "achieved_GBps": traffic / t / 1e9,
            "fraction_of_copy_bw": traffic / t / bw,
            "fraction_of_copy_bw_fused_count": traffic_fused / t / bw if mode != "off" else None,
            "peak_memory_GB": _peak_gb(device), "check_steps": check_steps,
            "max_abs_diff_vs_reference": float((fa - fb).abs().max()),
            "max_abs_field": float(fa.abs().max())}


def kernel_split(name, make, state, mode, device, steps=5):
    """GPU time per step by kind of kernel (cuFFT, generated, other) from the profiler: what the
    step's time goes to, and so what limits it."""
    from torch.profiler import ProfilerActivity, profile

    ref, solver = make("off"), make(mode)
    dt = 0.5 * ref.max_stable_dt(state)
    v = state
    for _ in range(3):
        v = solver.step(v, dt)
    _sync(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            v = solver.step(v, dt)
        _sync(device)
    split, top = {"fft": 0.0, "generated": 0.0, "other": 0.0}, []
    for e in prof.key_averages():
        us = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0.0)
        if us <= 0:
            continue
        low = e.key.lower()
        kind = "fft" if ("fft" in low or "r2c" in low or "c2r" in low) else \
            "generated" if low.startswith("triton") else "other"
        split[kind] += us / 1e3 / steps
        top.append((us / 1e3 / steps, e.count // steps, e.key[:90]))
    top.sort(reverse=True)
    return {"case": name, "fused": mode, "profile": "GPU ms per step by kernel kind",
            **{f"{k}_ms": v for k, v in split.items()},
            "top_kernels": [{"ms": t, "per_step": c, "name": k} for t, c, k in top[:8]]}


def data_row(mode, samples, device, settings):
    """Generate the reduced N = 10 000 set with the reference (``"off"``) or the default fused step."""
    spec = NS2DData(n_samples=samples, **settings)
    warm = 0.0
    if mode != "off":  # compile for the shapes of a chunk, outside the timing
        _sync(device)
        t0 = time.perf_counter()
        n, b = spec.solve_resolution, min(samples, spec.solver_batch)
        ns = NavierStokes2D(n, nu=spec.nu, length=1.0, device=device, fused=mode,
                            forcing=navier_stokes.fno_forcing(n, device=device), max_bytes=64 * 2**30)
        w = ns.to_spectral(grf.grf((n, n), 2.5, 7.0, b, torch.Generator().manual_seed(1), lengths=1.0,
                                   device=device))
        ns.max_velocity(w)  # the adaptive loop measures the speed, then steps from that transform
        ns.step(w, 1e-3)
        _sync(device)
        warm = time.perf_counter() - t0
    _peak_reset(device)
    t0 = time.perf_counter()
    with mock.patch.object(navier_stokes, "default_fused", lambda _device: mode):
        data = spec.generate(device=device)["w"]
    seconds = time.perf_counter() - t0
    return data, {"case": f"ns2d_data_nu1e-4_{samples}", "fused": mode, "dtype": "float64", "samples": samples,
                  "generate_s": seconds, "warmup_s": warm, "peak_memory_GB": _peak_gb(device),
                  f"extrapolated_{PAPER_SAMPLES}_samples_min": seconds * PAPER_SAMPLES / samples / 60}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes on the CPU (smoke test)")
    ap.add_argument("--device", default=None, help="default: cuda if available (cpu with --quick)")
    ap.add_argument("--modes", default=None,
                    help="comma-separated fused modes besides 'off' "
                         "(default: eager,compile,graphs on CUDA, eager elsewhere)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--data-samples", type=int, default=None, help="samples of the reduced data set (default 1000)")
    ap.add_argument("--budget-s", type=float, default=360.0,
                    help="skip what is left (the CUDA-graph rows last) once this many seconds have passed")
    ap.add_argument("--out", default=None,
                    help="output folder (default benchmarks/results; --quick writes only if given)")
    args = ap.parse_args(argv)

    start = time.perf_counter()
    device = pick_device(args.device or ("cpu" if args.quick else "auto"))
    dtype = torch.float32
    modes = (args.modes or ("eager,compile,graphs" if device.type == "cuda" else "eager")).split(",")
    step_modes = [m for m in modes if m != "graphs"]
    repeats = args.repeats or (3 if args.quick else 20)
    samples = args.data_samples or (8 if args.quick else 1000)
    meta = {"device": describe(device), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "torch": torch.__version__, "dtype": "float32", "quick": args.quick}
    out = Path(args.out or ROOT / "benchmarks" / "results") / "ns_fused_gpu.json" \
        if args.out or not args.quick else None
    bw = copy_bandwidth(device, (64 if args.quick else 2048) * 2**20, repeats)
    rows = [{"case": "d2d_copy", "bandwidth_GBps": bw / 1e9}]
    print(json.dumps({**meta, **rows[0]}), flush=True)

    def save():
        if out is not None:  # after every row: a run stopped at its time limit keeps what it measured
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({**meta, "elapsed_s": time.perf_counter() - start, "results": rows},
                                      indent=2) + "\n")

    def emit(row):
        rows.append(row)
        print(json.dumps(row), flush=True)
        save()

    def attempt(label, fn):
        """One row; a failure (a compile error, out of memory) is recorded, not fatal."""
        if time.perf_counter() - start > args.budget_s:
            emit({**label, "skipped": f"over the {args.budget_s:.0f} s budget"})
            return None
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - one unattended run records every outcome
            emit({**label, "error": f"{type(exc).__name__}: {exc}"[:800]})
            return None
        finally:
            _peak_reset(device)

    cases = _cases(args.quick, device, dtype)
    warmup, check = (2, 3) if args.quick else (5, 5)
    late = [m for m in modes if m == "graphs"]
    for stage_modes in (["off"] + step_modes, late):
        for name, make, state, traffic, traffic_fused in cases:
            for mode in stage_modes:
                row = attempt({"case": name, "fused": mode}, lambda: step_row(
                    name, make, state, traffic, traffic_fused, mode, device, bw, warmup, repeats, check))
                if row is not None:
                    emit(row)
                if device.type == "cuda" and mode in ("off", "compile"):
                    split = attempt({"case": name, "fused": mode, "profile": "failed"},
                                    lambda: kernel_split(name, make, state, mode, device))
                    if split is not None:
                        emit(split)
        if stage_modes is not late:  # the data set between the plain and the CUDA-graph rows
            default = navier_stokes.default_fused(device) if device.type == "cuda" else step_modes[-1]
            settings = QUICK_DATA if args.quick else PAPER_DATA
            made = {}
            for mode in ("off", default):
                got = attempt({"case": "ns2d_data", "fused": mode}, lambda: data_row(mode, samples, device, settings))
                if got is not None:
                    made[mode], row = got
                    emit(row)
            if len(made) == 2:
                old, new = made["off"], made[default]
                per_frame = abs(old - new).reshape(old.shape[0], old.shape[1], -1).max(axis=(0, 2))
                t_old, t_new = (next(r["generate_s"] for r in rows if "generate_s" in r and r["fused"] == m)
                                for m in ("off", default))
                emit({"case": "ns2d_data_compare", "fused": default, "speedup": t_old / t_new,
                      "max_abs_diff_per_frame": [float(x) for x in per_frame],
                      "max_abs_field": float(abs(old).max())})

    by = {(r["case"], r.get("fused")): r for r in rows if "step_ms" in r}
    for (case, mode), r in by.items():
        base = by.get((case, "off"))
        if base is not None and mode != "off":
            r["speedup_vs_reference"] = base["step_ms"] / r["step_ms"]
    print("\nsummary (fraction of copy bandwidth with the reference traffic count):")
    for r in rows[1:]:
        if "step_ms" in r:
            print(f"  {r['case']:>12} {r['fused']:>8}: {r['step_ms']:8.3f} ms  {100 * r['fraction_of_copy_bw']:5.1f} %"
                  f"  x{r.get('speedup_vs_reference', 1.0):.2f}  first call {r['first_call_s']:.1f} s"
                  f"  max diff {r['max_abs_diff_vs_reference']:.2e} of {r['max_abs_field']:.2e}")
        elif "generate_s" in r:
            print(f"  {r['case']:>12} {r['fused']:>8}: {r['generate_s']:.1f} s (warm-up {r['warmup_s']:.1f} s), "
                  f"{PAPER_SAMPLES} samples ~ {r[f'extrapolated_{PAPER_SAMPLES}_samples_min']:.1f} min")
        elif "profile" in r and "fft_ms" in r:
            print(f"  {r['case']:>12} {r['fused']:>8}: GPU ms/step cuFFT {r['fft_ms']:.3f}, generated "
                  f"{r['generated_ms']:.3f}, other {r['other_ms']:.3f}")
        elif "speedup" in r:
            print(f"  data set x{r['speedup']:.2f}, max diff per frame {r['max_abs_diff_per_frame'][1]:.1e} (first) "
                  f"{r['max_abs_diff_per_frame'][-1]:.1e} (last) of {r['max_abs_field']:.1e}")
        else:
            print(f"  {r}")
    save()
    if out is not None:
        print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()
