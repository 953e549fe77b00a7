"""Seconds to compute each registered problem's default reference on this machine.

Prints one JSON line per problem (key, grid shape, wall and CPU seconds) after a header line
with the device, torch version, thread count and date. References are computed with
``_reference`` directly, bypassing the disk cache, so the figures are solver cost.

    python benchmarks/reference_timing.py [--only KEY ...] [--threads N]
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import time

import torch

from lab.device import describe
from lab.problems import list_problems


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="problem keys to time (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps({"device": describe(torch.device("cpu")), "torch": torch.__version__,
                      "python": platform.python_version(), "threads": torch.get_num_threads(),
                      "dtype": "float64",
                      "date": datetime.datetime.now().isoformat(timespec="seconds")}), flush=True)
    for key, cls in list_problems().items():
        if (args.only and key not in args.only) or cls.kind == "operator":
            continue  # operator problems have datasets, not a reference: see benchmarks/operators
        problem = cls()
        grid = problem.grid()
        wall, cpu = time.perf_counter(), time.process_time()
        ref = problem._reference(grid)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({"problem": key, "grid": list(problem.grid_shape),
                          "shape": list(ref.shape), "seconds": round(wall, 3),
                          "cpu_seconds": round(cpu, 3)}), flush=True)


if __name__ == "__main__":
    main()
