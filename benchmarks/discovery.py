"""Equation discovery against the truth: Burgers, KdV and Kuramoto–Sivashinsky at 0 and 1 % noise.

For each case, :func:`lab.discovery.discover` fits a PINN to noisy samples of the problem's
reference and regresses ``u_t`` on the library; the found coefficients are written next to the
true ones (read off each problem's residual), with whether exactly the true terms were found and
the relative error of each coefficient. Cases run in parallel processes, one thread each.

    python benchmarks/discovery.py [--problems burgers kdv] [--workers 6] [--out FILE]
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

#: (problem, its parameters, discovery settings) — ν = 0.1 and μ = 0.1 keep the fields smooth
#: enough for a small PINN on a CPU; KS is the regular preset (Wang et al. 2022)
CASES = [
    ("burgers", {"nu": 0.1}, dict(order=2, steps=900, warmup=500)),
    ("kdv", {"mu": 0.1}, dict(order=3, steps=2000, warmup=1000)),
    ("kuramoto_sivashinsky", {}, dict(order=4, steps=2500, warmup=1500, width=64, depth=4, collocation=2000)),
]
NOISE = (0.0, 0.01)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_case(key: str, params: dict, settings: dict, noise: float) -> dict:
    import torch

    from lab.discovery import DiscoveryConfig, discover
    from lab.problems import get_problem

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    result = discover(get_problem(key, **params), DiscoveryConfig(noise=noise, **settings))
    return {"problem": key, "params": params, "noise": noise, "settings": settings,
            "found": result.coefficients, "true": result.truth, "equation": result.equation(),
            "exact_terms": result.exact_support(), "relative_errors": result.errors(),
            "wall_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="*", default=[k for k, _, _ in CASES], help="which of the cases to run")
    ap.add_argument("--workers", type=int, default=len(CASES) * len(NOISE))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "discovery_cpu.json"))
    args = ap.parse_args()
    jobs = [(k, p, s, n) for k, p, s in CASES for n in NOISE if k in args.problems]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(run_case, *zip(*jobs)))
    for r in rows:
        print(json.dumps(r))
    out = {"date": datetime.date.today().isoformat(), "device": "cpu", "cpu": _cpu(), "threads_per_case": 1,
           "torch": torch.__version__, "dtype": "float32", "sensors": 2000,
           "method": "PINN (MLP, L-BFGS) alternating with STLSQ (pysindy), library u^p d^k u / dx^k, p <= 2",
           "cases": rows}
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(args.out)


if __name__ == "__main__":
    main()
