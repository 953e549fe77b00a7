"""Lagrangian PINN against causal and plain PINNs at the same small step budget, on the CPU.

Convection ``u_t + β u_x = 0`` at β = 30 and 50 and viscous Burgers (ν = 0.01/π), each
trained three ways with the same tanh MLP size, points, Adam steps and schedule: a plain PINN
(``mlp``), the same network with causal weighting (Wang et al. 2024, the lab's defaults:
32 chunks, ε from 0.01 to 100), and the Lagrangian PINN (Mojgani et al. 2023; two branches
of that size, so twice the weights). Recorded per run: the relative L2 error against the
reference on the problem's grid (the Lagrangian prediction interpolated back onto it) and the
wall time, one thread each, with the machine's load (a shared machine slows everything).

    OMP_NUM_THREADS=1 python benchmarks/pinn/lagrangian.py    # about 6 minutes on a 2-core CPU
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]
from benchmarks.inverse import cpu_name  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "lagrangian_pinn_cpu.json"
CASES = {"convection_beta30": ("convection", {"beta": 30.0}), "convection_beta50": ("convection", {"beta": 50.0}),
         "burgers": ("burgers", {})}
METHODS = {"plain": ("mlp", {}), "causal": ("mlp", {"causal": True}), "lagrangian": ("lagrangian", {})}
SETUP = dict(steps=2000, lr=1e-3, lr_decay_steps=500, n_pde=1000, n_ic=256, n_bc=256, log_every=100,
             snapshot_every=100_000, checkpoint_every=100_000, device="cpu", dtype="float32")
MODEL = dict(width=32, depth=3)


def train(case: str, method: str, seed: int, runs: str) -> dict:
    key, params = CASES[case]
    kind, extra = METHODS[method]
    problem = get_problem(key, **params)
    problem.reference(problem.grid())  # computed (or read from the cache) before the clock starts
    trainer = Trainer(problem, get_model_config(kind, **MODEL), TrainConfig(**SETUP, **extra, seed=seed),
                      runs_dir=runs)
    t0 = time.perf_counter()
    result = trainer.run()
    return {"case": case, "method": method, "seed": seed, "rel_l2": round(result.rel_l2, 6),
            "wall_s": round(time.perf_counter() - t0, 2), "status": result.status,
            "parameters": sum(p.numel() for p in trainer.model.parameters())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", choices=list(CASES), default=list(CASES))
    ap.add_argument("--methods", nargs="*", choices=list(METHODS), default=list(METHODS))
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    record = {"what": "relative L2 error and wall time of plain, causal and Lagrangian PINNs at the same "
                      "Adam budget: convection beta = 30, 50 and Burgers nu = 0.01/pi",
              "date": datetime.date.today().isoformat(), "device": "cpu", "cpu": cpu_name(),
              "cores": os.cpu_count(), "torch_threads": 1, "python": platform.python_version(),
              "torch": torch.__version__, "dtype": SETUP["dtype"], "model": MODEL, "train": SETUP,
              "methods": {m: {"model": k, **e} for m, (k, e) in METHODS.items()},
              "loadavg_1_5_15_before": [round(x, 2) for x in os.getloadavg()], "runs": []}
    with tempfile.TemporaryDirectory() as runs:
        for case in args.cases:
            for method in args.methods:
                for seed in range(args.seeds):
                    line = train(case, method, seed, runs)
                    print(json.dumps(line), flush=True)
                    record["runs"].append(line)
    record["loadavg_1_5_15_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
