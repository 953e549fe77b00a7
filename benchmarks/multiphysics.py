"""Accuracy of a PINN and an FNO on the coupled problems, on a small CPU budget.

Each row trains one model from scratch (fixed seed, float32, the CPU) and records the relative
L2 error against the problem's reference or validation set, the training time and, for the
operator maps, the error of the trivial predictor (the mean output) beside it. Budgets are
tiny on purpose (the whole table in a few minutes on two cores): the rows compare problems and
model families at equal cost, they are not converged accuracies.

    python benchmarks/multiphysics.py
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.training.events import Snapshot

OUT = Path(__file__).parent / "results" / "multiphysics_cpu.json"

ROWS = [
    # (problem, problem parameters, model, model parameters, steps)
    ("joule_heating2d", {}, "mlp", {"width": 32, "depth": 3}, 500),
    ("rayleigh_benard2d", {"n": 16, "ra": 2000.0, "t_end": 0.1}, "mlp", {"width": 32, "depth": 3}, 300),
    ("mhd2d_orszag_tang", {"n": 32, "t_end": 0.2}, "mlp", {"width": 32, "depth": 3}, 300),
    ("rayleigh_benard2d_operator", {"n_train": 64, "n_val": 16, "batch_size": 16, "resolution": 16},
     "fno", {"modes": 6, "width": 16, "n_layers": 3, "projection_channels": 16}, 300),
    ("mhd2d_operator", {"n_train": 64, "n_val": 16, "batch_size": 16, "resolution": 32, "t_end": 0.2},
     "fno", {"modes": 8, "width": 16, "n_layers": 3, "projection_channels": 16}, 300),
]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for key, params, model, model_params, steps in ROWS:
            problem = get_problem(key, **params)
            snaps = []
            t0 = time.perf_counter()
            result = Trainer(problem, get_model_config(model, **model_params),
                             TrainConfig(steps=steps, lr=3e-3, log_every=50, snapshot_every=steps,
                                         checkpoint_every=steps, device="cpu", seed=0),
                             runs_dir=runs, sinks=[lambda e: snaps.append(e) if isinstance(e, Snapshot) else None]).run()
            row = {"problem": key, "problem_params": params, "model": model, "model_params": model_params,
                   "steps": steps, "status": result.status, "rel_l2": result.rel_l2,
                   "seconds": round(time.perf_counter() - t0, 1)}
            if snaps and "trivial_rel_l2" in snaps[-1].extras:
                row["trivial_rel_l2"] = snaps[-1].extras["trivial_rel_l2"]
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = {"benchmark": "multiphysics accuracy (PINN and FNO on the coupled problems)",
           "device": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
           "load_average": os.getloadavg(), "torch": torch.__version__, "dtype": "float32",
           "date": datetime.date.today().isoformat(), "rows": rows}
    OUT.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
