"""How close a continued run comes to the uninterrupted one on a GPU, for every method.

Runs the exact-resume matrix of ``tests/test_exact_resume.py`` (the same cases) on the given
device and dtype — CUDA graphs and compiled derivatives as the Trainer picks them — and
reports the largest weight difference between the run stopped at step k and continued and the
run that never stopped. On the CPU in float64 the test asserts they are identical; on a GPU,
kernels whose reductions are not ordered the same way from launch to launch could make them
differ by rounding, which is what this measures.

    python benchmarks/resume_gpu.py --device cuda --dtype float32 --out results.json
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import test_exact_resume as matrix  # noqa: E402

from lab import Trainer  # noqa: E402


def compare(case: str, device: str, dtype: str) -> dict:
    matrix.BASE.update(device=device, dtype=dtype)
    with tempfile.TemporaryDirectory() as runs:
        whole, done = matrix._run(case, Path(runs))
        _, stopped = matrix._run(case, Path(runs), stop_after=matrix.CASES[case][-1])
        again = Trainer.resume(stopped.run_dir)
        result = again.run()
    ref, got = whole.model.state_dict(), again.model.state_dict()
    full = [k for k in ref if ref[k].numel()]
    diff = max(float((got[k] - ref[k]).abs().max()) for k in full)
    scale = max(float(ref[k].abs().max()) for k in full)
    return {"case": case, "status": [done.status, stopped.status, result.status], "steps": result.step,
            "identical": all(torch.equal(got[k], ref[k]) for k in ref), "max_abs_diff": diff,
            "max_rel_diff": diff / scale if scale else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rows = []
    dev = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    for case in matrix.CASES:
        try:
            rows.append(compare(case, args.device, args.dtype))
        except Exception as err:  # one case's failure is a row, not the end of the table
            rows.append({"case": case, "error": f"{type(err).__name__}: {err}"})
        print(json.dumps(rows[-1]), flush=True)
        if args.out:  # after every case, so a run cut short keeps what it measured
            Path(args.out).write_text(json.dumps(
                {"benchmark": "exact_resume", "device": dev, "dtype": args.dtype, "torch": torch.__version__,
                 "date": datetime.date.today().isoformat(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
