"""Burgers' viscosity recovered by a PINN from noisy sensors: error against noise and sensors.

For every noise level (relative standard deviation 0, 1 %, 5 %) and number of sensors (10, 50,
200, at random nodes of the reference grid), a small PINN (tanh MLP 3 × 20) trains on the
sensors and the PDE with ν trainable from a guess of 0.02 (true ν = 0.05): Adam then L-BFGS,
on the CPU in float32. Recorded: the recovered ν, its relative error, the field's relative L2
error and the run's wall time, with the machine's load (a shared machine slows everything).

    python benchmarks/inverse.py --seeds 2    # about 4 minutes on a 2-core CPU
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.training.events import Step

OUT = Path(__file__).parent / "results" / "inverse_burgers_nu_cpu.json"
TRUTH, GUESS = 0.05, 0.02
SETUP = dict(steps=200, lbfgs_steps=400, lr=5e-3, lr_schedule="constant", n_pde=400, n_ic=64, n_bc=64,
             log_every=50, snapshot_every=10_000, checkpoint_every=10_000, device="cpu", dtype="float32")
MODEL = dict(width=20, depth=3)


def cpu_name() -> str:
    """The CPU's model name (``platform`` gives only the architecture on Linux)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def recover(noise: float, sensors: int, seed: int, runs: Path) -> dict:
    config = TrainConfig(**SETUP, sensors=sensors, sensor_noise=noise, sensor_seed=seed, seed=seed,
                         infer={"nu": GUESS})
    estimates = []
    trainer = Trainer(get_problem("burgers", nu=TRUTH), get_model_config("mlp", **MODEL), config, runs_dir=runs,
                      sinks=[lambda e: estimates.append(e.extras["inferred"]["nu"]) if isinstance(e, Step) else None])
    t0 = time.perf_counter()
    result = trainer.run()
    nu = estimates[-1]
    return {"noise": noise, "sensors": sensors, "seed": seed, "nu": round(nu, 6),
            "nu_rel_error": round(abs(nu - TRUTH) / TRUTH, 5), "field_rel_l2": round(result.rel_l2, 5),
            "wall_s": round(time.perf_counter() - t0, 2), "status": result.status}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", type=float, nargs="*", default=[0.0, 0.01, 0.05])
    ap.add_argument("--sensors", type=int, nargs="*", default=[10, 50, 200])
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(1)
    get_problem("burgers", nu=TRUTH).reference()  # the reference once, outside the timings
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for noise in args.noise:
            for sensors in args.sensors:
                for seed in range(args.seeds):
                    row = recover(noise, sensors, seed, Path(runs))
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    OUT.write_text(json.dumps({
        "what": f"Burgers nu recovered by a PINN from noisy sensors (true {TRUTH}, initial guess {GUESS}): "
                "relative error of nu against sensor noise (relative std) and number of sensors",
        "date": datetime.date.today().isoformat(), "device": "cpu", "cpu": cpu_name(),
        "cores": os.cpu_count(), "torch_threads": 1, "python": platform.python_version(),
        "torch": torch.__version__, "dtype": SETUP["dtype"], "model": {"kind": "mlp", **MODEL},
        "train": {k: v for k, v in SETUP.items() if k not in ("device", "dtype")},
        "loadavg_1_5_15_before": [round(x, 2) for x in load],
        "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "mean_nu_rel_error": {f"noise {noise:g}": {f"{n} sensors": round(sum(
            r["nu_rel_error"] for r in rows if r["noise"] == noise and r["sensors"] == n) / args.seeds, 5)
            for n in args.sensors} for noise in args.noise},
        "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
