"""Studies on a local Dask cluster: trials per hour and Dask's overhead per trial, 1 vs 2 workers.

For each worker count a fresh ``LocalCluster`` is started (timed apart), every worker runs one
warm-up trial (imports, the Burgers reference), then a grid study of ``--trials`` small Burgers
runs is timed. Overhead per trial = (study wall time x workers - the runs' own training time)
/ trials: what scheduling, Optuna's storage, run folders and idle workers cost on top of
training. The machine's load average is recorded beside the numbers, since a shared machine
slows everything.

    python benchmarks/studies.py --trials 8 --steps 100
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

from lab.studies import StudySpec, connect, run_study
from lab.training.runs import RunRecord

OUT = Path(__file__).parent / "results" / "studies_cpu.json"


def measure(workers: int, trials: int, steps: int) -> dict:
    fixed = {"steps": steps, "n_pde": 256, "n_ic": 64, "n_bc": 64, "model.depth": 2, "device": "cpu",
             "log_every": 10, "snapshot_every": steps, "checkpoint_every": steps}
    with tempfile.TemporaryDirectory() as home:
        runs = Path(home) / "runs"
        t0 = time.perf_counter()
        with connect(n_workers=workers) as client:
            start_s = time.perf_counter() - t0
            warm = StudySpec(space={"model.width": [8]}, fixed=fixed, seeds=workers, name="warm-up")
            run_study(warm, runs_dir=runs, client=client)
            spec = StudySpec(space={"model.width": [16]}, fixed=fixed, seeds=trials, name="timed")
            load = os.getloadavg()
            t1 = time.perf_counter()
            study = run_study(spec, runs_dir=runs, client=client)
            wall = time.perf_counter() - t1
        train_s = sum(RunRecord(Path(t.user_attrs["run"])).summary()["elapsed"] for t in study.trials)
    return {"workers": workers, "trials": trials, "steps": steps, "cluster_start_s": round(start_s, 2),
            "study_wall_s": round(wall, 2), "trials_per_hour": round(3600 * trials / wall, 1),
            "train_s_per_trial": round(train_s / trials, 3),
            "overhead_s_per_trial": round((wall * workers - train_s) / trials, 3),
            "loadavg_1_5_15_before": [round(x, 2) for x in load],
            "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    rows = []
    for workers in (1, 2):
        row = measure(workers, args.trials, args.steps)
        print(json.dumps(row), flush=True)
        rows.append(row)
    import dask
    import optuna

    OUT.write_text(json.dumps({
        "what": "grid study of Burgers PINN runs (MLP width 16, depth 2) on a dask LocalCluster "
                "(processes, one thread each); overhead = (wall x workers - training time) / trials",
        "date": datetime.date.today().isoformat(), "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
        "dask": dask.__version__, "optuna": optuna.__version__, "dtype": "float32",
        "note": "machine shared with other jobs while measured: see the load averages",
        "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
