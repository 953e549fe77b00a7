"""Check a data-parallel run against the one-process run: same steps, same final weights.

Runs ``sciml-lab train`` twice on the same settings — once plainly, once with ``--nproc N``
(``torchrun``: NCCL on GPUs, gloo on CPUs) — and records the largest weight difference, both
relative L2 errors and both wall times with the device, date, torch version and dtype in
``benchmarks/results/ddp_check_<device>.json``. On one GPU, ``--nproc 1`` checks the launch,
the NCCL group and the device pinning; on CPUs, ``--nproc 2`` checks the split and the
gradient average.

Usage: ``python benchmarks/ddp_check.py [--nproc N] [--steps S] [--dtype float32] [--out DIR]``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.device import describe, pick_device  # noqa: E402
from lab.training import find_run  # noqa: E402


def train(runs: Path, settings: list[str], nproc: int | None) -> tuple[dict, dict]:
    cmd = [sys.executable, "-m", "lab.cli", "train", "--runs-dir", str(runs), "--quiet", *settings]
    if nproc is not None:
        cmd += ["--nproc", str(nproc)]
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)
    out = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    return out, find_run(out["run_dir"], runs).read_checkpoint().weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nproc", type=int, default=None, help="ranks (default: GPUs, or 2 on a CPU)")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    device = pick_device("auto")
    nproc = args.nproc or (torch.cuda.device_count() if device.type == "cuda" else 2)
    rows = []
    for problem, model, extra in (
            ("burgers", "mlp", ["n_pde=4096", "n_ic=256", "n_bc=256", "model.width=64", "model.depth=4"]),
            ("burgers_operator", "fno", ["problem.n_train=64", "problem.n_val=16", "problem.batch_size=16",
                                         "model.modes=8", "model.width=16"])):
        settings = ["--problem", problem, "--model", model, "--set", f"dtype={args.dtype}",
                    f"steps={args.steps}", f"snapshot_every={args.steps}", *extra]
        with tempfile.TemporaryDirectory() as tmp:
            one, w1 = train(Path(tmp) / "one", settings, None)
            many, w2 = train(Path(tmp) / "many", settings, nproc)
        diff = max(float((w1[k].double() - w2[k].double()).abs().max()) for k in w1)
        rows.append({"problem": problem, "model": model, "steps": args.steps, "ranks": nproc,
                     "max_weight_difference": diff, "rel_l2_one_process": one["rel_l2"],
                     "rel_l2_ranks": many["rel_l2"], "wall_s_one_process": one["wall_s"],
                     "wall_s_ranks": many["wall_s"]})
        print(json.dumps(rows[-1]))
    name = describe(device).replace(" ", "_") if device.type == "cuda" else "cpu"
    result = {"what": "a data-parallel run (--nproc) against the one-process run on the same settings",
              "device": describe(device), "date": _dt.date.today().isoformat(), "torch": torch.__version__,
              "dtype": args.dtype, "backend": "nccl" if device.type == "cuda" else "gloo", "rows": rows}
    out = Path(args.out) / f"ddp_check_{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
