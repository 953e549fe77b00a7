"""Train the Burgers PINN from the CLI and print relative L2 and wall time as one JSON line.

    python benchmarks/burgers_pinn.py                 # the default recipe
    python benchmarks/burgers_pinn.py --deepxde       # DeepXDE's example network and points

It calls ``sciml-lab train`` exactly as a user would, so the figure covers the whole path
(reference, sampling, Adam, L-BFGS, evaluation, run record). ``--out`` appends the JSON line
with device, date and versions to a results file.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import torch

RECIPES = {
    # 4x32 tanh, 3000 Adam steps with exponential decay, then 5000 L-BFGS iterations
    "default": ["model.width=32", "model.depth=4", "n_pde=4000", "lr=0.003", "lr_decay_steps=1000",
                "lbfgs_steps=5000"],
    # DeepXDE's Burgers example: 3x20 tanh, 2540 points, 15k Adam (lr 1e-3) then L-BFGS
    "deepxde": ["model.width=20", "model.depth=3", "n_pde=2540", "n_ic=80", "n_bc=80", "lr=0.001",
                "lr_schedule=constant", "lbfgs_steps=5000"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="default")
    ap.add_argument("--steps", type=int, default=3000, help="Adam steps")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", default=None, help="append the result line to this JSON-lines file")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as runs:
        cmd = [sys.executable, "-m", "lab.cli", "--runs-dir", runs, "train", "--quiet", "--problem", "burgers",
               "--steps", str(args.steps), "--set", *RECIPES[args.recipe], f"device={args.device}",
               "snapshot_every=100000", "checkpoint_every=100000"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        wall = time.perf_counter() - t0
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    line = {"benchmark": "burgers_pinn", "recipe": args.recipe, "adam_steps": args.steps,
            "rel_l2": result["rel_l2"], "train_wall_s": result["wall_s"], "process_wall_s": round(wall, 2),
            "device": args.device, "cpu": platform.processor() or platform.machine(),
            "threads": args.threads or torch.get_num_threads(), "torch": torch.__version__,
            "dtype": "float32", "date": time.strftime("%Y-%m-%d")}
    if args.device.startswith("cuda"):
        line["device_name"] = torch.cuda.get_device_name(0)
    print(json.dumps(line))
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
