"""Darcy at the FNO paper's setting (s = 85): which training detail or data detail moves the error?

Each variant trains the operator benchmark's Darcy FNO (its ``PAPER`` setting: 12 modes,
width 32, 25 000 Adam steps of batch 20) through the Trainer on the same data and seed and
prints one JSON line: ``base`` is the benchmark's set-up (cosine schedule); ``ynorm`` decodes
the output by the training set's pointwise mean and standard deviation, as the paper's
normaliser does (the FNO's ``normalize_output``); ``step`` halves the learning rate every 100
epochs (continuously) as the paper's StepLR does. ``--data`` changes how the data are made
(``key=value`` parameters of ``darcy_operator``), e.g. the paper's solver grid and field modes:

    python benchmarks/operators/darcy_variants.py base ynorm step    # GPU, about a minute each
    python benchmarks/operators/darcy_variants.py base --data solve_resolution=421 grf_modes=421 a_low=4

Results: ``benchmarks/results/darcy_variants_<device>.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.operators.run import PAPER  # noqa: E402
from lab.config import parse_assignments  # noqa: E402
from lab.device import pick_device  # noqa: E402
from lab.models.fno import FNOConfig  # noqa: E402
from lab.problems import get_problem  # noqa: E402
from lab.training import TrainConfig, Trainer  # noqa: E402
from lab.training.events import Snapshot  # noqa: E402

#: the operator benchmark's Darcy setting: problem parameters, model and Adam steps
_, _, DARCY, MODEL, STEPS, _, _ = next(p for p in PAPER if p[0] == "darcy")


STEP_LR = dict(lr_schedule="exponential", lr_decay=0.5, lr_decay_steps=5000)
#: name -> (FNO options added to the setting's model, training options)
VARIANTS = {"base": ({}, {}), "ynorm": ({"normalize_output": True}, {}), "step": ({}, STEP_LR)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", choices=list(VARIANTS))
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data", nargs="*", default=[], metavar="KEY=VALUE",
                    help="darcy_operator parameters to change, e.g. solve_resolution=421")
    args = ap.parse_args(argv)
    data = dict(DARCY, **parse_assignments(args.data, "--data"))
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    problem = get_problem("darcy_operator", max_gb=64.0, **data)
    t0 = time.perf_counter()
    problem.arrays(device=device)
    data_seconds = time.perf_counter() - t0
    for name in args.variants:
        options, schedule = VARIANTS[name]
        cfg = TrainConfig(**{"steps": args.steps, "lr": 1e-3, "lr_schedule": "cosine",
                             "snapshot_every": max(args.steps // 5, 1), "log_every": max(args.steps // 10, 1),
                             "checkpoint_every": args.steps, "device": device.type, **schedule})
        curve = []
        t0 = time.perf_counter()
        result = Trainer(problem, FNOConfig(**MODEL, **options), cfg, runs_dir=tempfile.mkdtemp(),
                         sinks=[lambda e: curve.append((e.step, e.rel_l2)) if isinstance(e, Snapshot) else None]).run()
        print(json.dumps({"variant": name, "data": data, "data_seconds": data_seconds, "train": schedule,
                          "status": result.status, "steps": result.step, "rel_l2": result.rel_l2, "curve": curve,
                          "seconds": time.perf_counter() - t0}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
