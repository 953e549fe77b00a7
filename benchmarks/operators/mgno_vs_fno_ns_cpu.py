"""MgNO beside FNO on a time-dependent set, small enough for a CPU: Navier–Stokes rollouts.

The ``ns2d_operator`` problem of the FNO paper's ν = 1e-3 row at a reduced size (32² grid,
10 input frames, 5 predicted autoregressively, 32 training and 8 validation trajectories), each
model trained through the Trainer for the same Adam steps, seed and schedule. Records
parameters, wall time and the validation relative L2 over the whole rollout (and the
persistence baseline), with device, date, torch version and dtype, in
``benchmarks/results/operators_mgno_vs_fno_ns_cpu.json``. The GPU comparison on Darcy at the
paper's setting is ``operators_mgno_vs_fno_darcy_*.json`` (``benchmarks/operators/run.py``).

Usage: ``python benchmarks/operators/mgno_vs_fno_ns_cpu.py [--steps 200] [--threads 2]``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from lab.models import get_model_config
from lab.problems import get_problem
from lab.training import Snapshot, TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = dict(n_train=32, n_val=8, batch_size=8, resolution=32, solve_resolution=32, nu=1e-3,
               time_steps=15, history=10, rollout_steps=5, eval_steps=5)
MODELS = {"fno": dict(modes=8, width=20), "mgno": dict(width=20, n_layers=4, levels=4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "operators_mgno_vs_fno_ns_cpu.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for kind, params in MODELS.items():
            snaps = []
            trainer = Trainer(get_problem("ns2d_operator", **PROBLEM), get_model_config(kind, **params),
                              TrainConfig(steps=args.steps, lr=1e-3, lr_schedule="cosine",
                                          snapshot_every=args.steps, device="cpu", seed=0),
                              runs_dir=runs, sinks=[lambda e: snaps.append(e) if isinstance(e, Snapshot) else None])
            t0 = time.perf_counter()
            result = trainer.run()
            rows.append({"model": kind, "config": params,
                         "parameters": sum(p.numel() for p in trainer.model.parameters()),
                         "steps": result.step, "status": result.status, "rel_l2": result.rel_l2,
                         "persistence_rel_l2": snaps[-1].extras["trivial_rel_l2"],
                         "wall_s_incl_data_and_eval": round(time.perf_counter() - t0, 1)})
            print(json.dumps(rows[-1]))
    out = {"what": "MgNO and FNO on Navier-Stokes rollouts (ns2d_operator, nu=1e-3, reduced size), "
                   "same steps, seed and cosine schedule; rel_l2 over the whole validation rollout",
           "problem": PROBLEM, "device": f"CPU ({platform.processor() or platform.machine()}), "
                                         f"{args.threads} threads",
           "date": _dt.date.today().isoformat(), "torch": torch.__version__, "dtype": "float32",
           "loadavg_1_5_15": list(os.getloadavg()), "rows": rows}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
