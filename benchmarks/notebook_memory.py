"""Peak memory of each course notebook run top to bottom (FAST mode by default).

Each notebook runs in a fresh subprocess that executes it with nbclient; once the kernel has
exited, that subprocess reads ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` — the peak resident set
of its largest reaped child, i.e. the kernel — so every figure is one notebook's kernel alone.
Prints one JSON line per notebook and writes ``benchmarks/results/notebook_memory.json`` (FAST) or
``notebook_memory_full.json`` (``--full``) with the date, CPU, mode and versions. Binder gives about 2 GB; ``notebooks/README.md`` quotes these.

    python benchmarks/notebook_memory.py                 # every notebooks/NN_*.ipynb, FAST
    python benchmarks/notebook_memory.py --full 01_first_pinn.ipynb
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: FAST and full mode keep their own files: a full-mode run would otherwise replace the FAST rows
RESULTS = {False: ROOT / "benchmarks" / "results" / "notebook_memory.json",
           True: ROOT / "benchmarks" / "results" / "notebook_memory_full.json"}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def run_one(path: Path) -> dict:
    """Execute one notebook (in this process's child kernel) and measure that kernel's peak RSS."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    status, message = "ok", ""
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        last = str(err).splitlines()[-1] if str(err) else type(err).__name__
        status, message = "failed", re.sub(r"\x1b\[[0-9;]*m", "", last)  # no terminal colours
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {"notebook": path.name, "status": status, "peak_rss_mib": round(peak_kib / 1024, 1),
            "wall_s": round(time.perf_counter() - t0, 1), **({"message": message} if message else {})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="names in notebooks/ (default: all NN_*.ipynb)")
    ap.add_argument("--full", action="store_true", help="full sizes instead of SCIML_LAB_FAST=1")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # the per-notebook subprocess
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(Path(args.one))))
        return 0

    paths = [NOTEBOOKS / n for n in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    env = {**os.environ, "SCIML_LAB_FAST": "0" if args.full else "1"}
    rows = []
    for path in paths:
        out = subprocess.run([sys.executable, __file__, "--one", str(path)], env=env, check=True,
                             capture_output=True, text=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row |= {"date": datetime.date.today().isoformat(), "cpu": cpu_name()}  # rows merged over runs keep theirs
        print(json.dumps(row), flush=True)
        rows.append(row)

    import torch

    mode = "full" if args.full else "FAST (SCIML_LAB_FAST=1)"
    results = RESULTS[args.full]
    if args.notebooks and results.exists():  # re-measured notebooks replace their old rows
        old = json.loads(results.read_text())
        merged = {r["notebook"]: r for r in old["notebooks"]} | {r["notebook"]: r for r in rows}
        rows = [merged[k] for k in sorted(merged)]
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({
        "date": datetime.date.today().isoformat(), "cpu": cpu_name(), "cores": os.cpu_count(),
        "mode": mode, "python": platform.python_version(),
        "torch": torch.__version__, "measure": "peak RSS of the notebook's kernel (ru_maxrss)",
        "notebooks": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
