"""Uncertainty methods side by side: calibration and cost on a Burgers PINN and a Darcy FNO,
and the stable neural SDEs beside the neural ODE on irregularly sampled Lorenz-63.

Small CPU budgets (the lab's CPU-only audience): every UQ method trains its networks for the
same number of Adam steps (an ensemble: all members together, one vectorised model), then
predicts on the Burgers evaluation grid or the Darcy validation set; the scores are those of
:func:`lab.diagnostics.calibration.calibration`. ``seconds`` is training plus prediction, on a
machine whose load average is recorded beside it (a shared machine slows everything).
The SDE rows train each model at 30/50/70 % of the training points missing
(:mod:`lab.uq.sde`).

    python benchmarks/uncertainty.py            # -> benchmarks/results/uncertainty_cpu.json
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path

import torch

from lab.device import describe
from lab.problems import get_problem
from lab.uq.methods import METHODS, run_uq
from lab.uq.sde import MODELS, series, train_and_forecast

OUT = Path(__file__).parent / "results" / "uncertainty_cpu.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pinn-steps", type=int, default=400)
    ap.add_argument("--fno-steps", type=int, default=150)
    ap.add_argument("--sde-steps", type=int, default=150)
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = {
        "burgers": dict(problem=get_problem("burgers"), steps=args.pinn_steps, width=32, depth=3,
                        points=(1000, 100, 100), lr=1e-3),
        "darcy_operator": dict(problem=get_problem("darcy_operator"), steps=args.fno_steps, width=16, modes=8,
                               lr=3e-3),
    }
    rows = []
    for name, s in settings.items():
        problem = s.pop("problem")
        for method in METHODS:
            r = run_uq(problem, method, members=args.members, rate=0.1, samples=32, seed=0, **s)
            row = {**r.row(), "steps": s["steps"], "members": args.members if method == "ensemble" else 1}
            rows.append(row)
            print(json.dumps(row), flush=True)
    sde_rows = []
    lorenz = get_problem("lorenz63")
    for missing in (0.3, 0.5, 0.7):
        data = series(lorenz, missing=missing, seed=0)
        for kind in MODELS:
            row = {"problem": "lorenz63", **train_and_forecast(lorenz, kind, missing=missing, steps=args.sde_steps,
                                                               data=data).row(), "steps": args.sde_steps}
            sde_rows.append(row)
            print(json.dumps(row), flush=True)
    out = {
        "device": describe(torch.device("cpu")), "threads": args.threads,
        "load_average": os.getloadavg(), "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "torch": torch.__version__, "dtype": "float32",
        "note": ("Burgers PINN: MLP 3x32, 1000/100/100 fresh points per step, Adam lr 1e-3; Darcy FNO: "
                 "width 16, 8 modes, the problem's default data set (64 training, 16 validation samples "
                 "at 29x29), Adam lr 3e-3; dropout rate 0.1 with 32 passes; Laplace prior precision 1, "
                 "noise variance = mean-square residual per term. Lorenz-63: t in [0, 10], dt 0.005, "
                 "trained on the first half (window 10 steps, batch 32, 4 paths per start), scored on "
                 "the second: forecast RMSE over 100 steps (0.5 time units) in units of each "
                 "component's standard deviation, 90 % coverage of 16 SDE paths, Hellinger distances of "
                 "invariant density (8 bins per axis) and Welch power spectrum."),
        "uq": rows, "sde": sde_rows,
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
