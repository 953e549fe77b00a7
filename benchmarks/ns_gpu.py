"""Time one step of the pseudo-spectral Navier–Stokes solvers and compare with memory bandwidth.

Cases (float32 by default): 3D velocity solver at 128^3 and 256^3 (Taylor–Green), 2D vorticity
solver at 1024^2 (random vorticity). Each step is timed with CUDA events after a warm-up
(wall clock with ``perf_counter`` on the CPU); the median over repeats is reported.

Achieved bandwidth: the device copy bandwidth is measured with a large device-to-device copy
(bytes read + written / time). A step's memory traffic is *estimated* by counting each array
pass once — an FFT reads its input and writes its output (real field: ``n^d`` words; half
complex spectrum: ``~n^d`` words), an element-wise kernel reads its operands and writes its
result — in units of one real field; the fraction ``traffic / time / copy bandwidth`` says how
close a step is to memory-bound speed (FFT passes internal to cuFFT are not counted, so the
fraction is a lower bound on the true utilisation).

Usage: ``python benchmarks/ns_gpu.py`` on a GPU box (writes ``benchmarks/results/ns_gpu.json``);
``--quick`` runs tiny sizes on the CPU in seconds (smoke test; writes only with ``--out``).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import statistics
import time
from pathlib import Path

import torch

from lab.device import describe, pick_device, resolve_dtype
from lab.solvers.grf import grf
from lab.solvers.navier_stokes import NavierStokes2D, NavierStokes3D, taylor_green_3d

#: field passes per Lawson-RK4 step (see module docstring): 4 nonlinear evaluations + stage
#: combinations. 3D per evaluation: curl (6 spectral r/w) + irfftn of 6 (12) + cross (9) +
#: rfftn of 3 (6) + mask/projection (8) = 41; stage inputs 4 x 9 and the final sum 15.
PASSES_3D = 4 * 41 + 4 * 9 + 15
#: 2D per evaluation: spectral stack (6) + irfftn of 4 (8) + advection (5) + rfftn (2) +
#: mask/forcing (3) = 24; stage inputs 4 x 3 and the final sum 5.
PASSES_2D = 4 * 24 + 4 * 3 + 5


def _timer(device):
    if device.type == "cuda":
        def run(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            return start.elapsed_time(end) / 1e3
    else:
        def run(fn):
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0
    return run


def copy_bandwidth(device, nbytes: int, repeats: int) -> float:
    """Bytes/s of a device-to-device copy (read + write counted)."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    timer = _timer(device)
    for _ in range(2):
        dst.copy_(src)
    times = [timer(lambda: dst.copy_(src)) for _ in range(repeats)]
    return 2 * src.numel() * 4 / statistics.median(times)


def time_step(solver, state, dt, device, warmup: int, repeats: int) -> float:
    timer = _timer(device)
    holder = [state]

    def one():
        holder[0] = solver.step(holder[0], dt)

    for _ in range(warmup):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return statistics.median(timer(one) for _ in range(repeats))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes on the CPU (smoke test)")
    ap.add_argument("--device", default=None, help="default: cuda if available (cpu with --quick)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--out", default=None,
                    help="JSON path; default results/ns_gpu.json (--quick writes only if given)")
    args = ap.parse_args(argv)

    device = pick_device(args.device or ("cpu" if args.quick else "auto"))
    dtype = resolve_dtype(args.dtype)
    itemsize = torch.finfo(dtype).bits // 8
    repeats = args.repeats or (3 if args.quick else 20)
    sizes_3d = (16, 24) if args.quick else (128, 256)
    size_2d = 64 if args.quick else 1024
    copy_bytes = (64 if args.quick else 2048) * 2**20

    meta = {"device": describe(device), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "torch": torch.__version__, "dtype": args.dtype, "quick": args.quick}
    bw = copy_bandwidth(device, copy_bytes, repeats)
    rows = [{"case": "d2d_copy", "bytes": copy_bytes, "bandwidth_GBps": bw / 1e9}]
    print(json.dumps({**meta, **rows[0]}), flush=True)

    cases = []
    for n in sizes_3d:
        ns = NavierStokes3D(n, nu=1 / 1600, device=device, dtype=dtype, max_bytes=64 * 2**30)
        state = ns.project(ns.to_spectral(taylor_green_3d(n, device=device, dtype=dtype)))
        cases.append((f"ns3d_{n}^3", ns, state, PASSES_3D * n**3 * itemsize))
    g = torch.Generator().manual_seed(0)
    ns2 = NavierStokes2D(size_2d, nu=1e-4, length=1.0, device=device, dtype=dtype, max_bytes=64 * 2**30)
    w0 = grf((size_2d, size_2d), 2.5, 7.0, 1, g, device=device, dtype=dtype)[0]
    cases.append((f"ns2d_{size_2d}^2", ns2, ns2.to_spectral(w0), PASSES_2D * size_2d**2 * itemsize))

    for name, solver, state, traffic in cases:
        dt = 0.5 * solver.max_stable_dt(state)
        t = time_step(solver, state, dt, device, warmup=2 if args.quick else 5, repeats=repeats)
        row = {"case": name, "step_ms": t * 1e3, "traffic_GB_est": traffic / 1e9,
               "achieved_GBps": traffic / t / 1e9, "fraction_of_copy_bw": traffic / t / bw}
        if not math.isfinite(row["step_ms"]):
            raise RuntimeError(f"{name}: timing failed")
        rows.append(row)
        print(json.dumps({**meta, **row}), flush=True)

    if args.out or not args.quick:
        out = Path(args.out or Path(__file__).parent / "results" / "ns_gpu.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
