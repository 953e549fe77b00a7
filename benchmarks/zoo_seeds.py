"""Train zoo entries' recipes again over seeds: the spread each card states beside its one model.

    python benchmarks/zoo_seeds.py heat-pinn convection-lagrangian --seeds 10 --parallel 2
    python benchmarks/zoo_seeds.py --cards        # write each entry's summary onto its card

A zoo model is one seed of its recipe; how far another seed lands says how much its error is
the recipe's and how much luck. Each run rebuilds the entry's ``config.json`` with only the seed
(and the device) changed, trains it from scratch in a process of its own and appends a JSON line
to ``benchmarks/results/zoo_seeds.jsonl``; ``--cards`` summarises the lines per entry (number of
seeds, min, median, max, device) into the card's ``seeds`` field, which ``sciml-lab zoo list``
and the app's zoo picker show and a test checks against this file, and appends them here as
summary lines (``benchmarks/pinn/published.py`` reads the Lagrangian row's).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import torch

from lab import Trainer, zoo
from lab.training.spec import RunSpec

RESULTS = Path(__file__).resolve().parent / "results" / "zoo_seeds.jsonl"


def train(name: str, seed: int, device: str) -> dict:
    """The entry's recipe from scratch with ``seed``: its error, steps and wall time."""
    problem, model, config = RunSpec.from_dict(zoo.show(name)["config"]).build()
    config.param.update(seed=seed, device=device)
    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()
        result = Trainer(problem, model, config, runs_dir=runs).run()
        wall = time.perf_counter() - t0
    line = {"benchmark": "zoo_seeds", "entry": name, "seed": seed, "rel_l2": result.rel_l2,
            "steps": result.step, "status": result.status, "wall_s": round(wall, 2), "device": device,
            "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "dtype": config.dtype, "date": time.strftime("%Y-%m-%d")}
    if device.startswith("cuda"):
        line["device_name"] = torch.cuda.get_device_name(0)
    return line


def summaries(path: Path = RESULTS) -> dict[str, dict]:
    """``{entry: {seeds, min, median, max, device, file}}`` over the lines of ``path`` (a seed
    run twice counts once: its latest line)."""
    runs: dict[str, dict[int, dict]] = {}
    for text in path.read_text().splitlines() if path.is_file() else []:
        line = json.loads(text)
        if line["benchmark"] == "zoo_seeds":  # not the summaries --cards appends
            runs.setdefault(line["entry"], {})[line["seed"]] = line
    out = {}
    for name, by_seed in runs.items():
        errors = sorted(x["rel_l2"] for x in by_seed.values())
        devices = sorted({x.get("device_name", x["device"]) for x in by_seed.values()})
        out[name] = {"seeds": len(errors), "min": errors[0], "median": statistics.median(errors),
                     "max": errors[-1], "device": ", ".join(devices), "file": path.name}
    return out


def _threads(n: int) -> None:
    torch.set_num_threads(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("entries", nargs="*", help="zoo entries (default: none; see --cards)")
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (seed 0 is the zoo's own recipe)")
    ap.add_argument("--first-seed", type=int, default=0, help="the sweep's first seed (a sweep split over calls)")
    ap.add_argument("--parallel", type=int, default=1, help="runs at a time, each in its own process")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(RESULTS), help="append the result lines to this JSON-lines file")
    ap.add_argument("--cards", action="store_true", help="write each swept entry's summary onto its card")
    args = ap.parse_args()

    jobs = [(name, s) for name in args.entries for s in range(args.first_seed, args.first_seed + args.seeds)]
    with ProcessPoolExecutor(args.parallel, mp_context=get_context("spawn"), initializer=_threads,
                             initargs=(args.threads,)) as pool:
        for run in as_completed([pool.submit(train, name, s, args.device) for name, s in jobs]):
            line = run.result()
            print(json.dumps(line), flush=True)
            with open(args.out, "a") as f:  # each line as soon as it is known: a sweep cut short keeps its runs
                f.write(json.dumps(line) + "\n")
    if args.cards:  # onto the cards, and as summary lines (the published table reads them)
        out = Path(args.out)
        runs = [x for x in out.read_text().splitlines() if json.loads(x)["benchmark"] == "zoo_seeds"]
        lines = []
        for name, summary in summaries(out).items():
            zoo.set_seeds(name, summary)
            lines.append(json.dumps({"benchmark": "zoo_seeds_summary", "entry": name, **summary,
                                     "rel_l2": summary["median"], "date": time.strftime("%Y-%m-%d")}))
            print(lines[-1])
        out.write_text("".join(x + "\n" for x in runs + lines))  # the summaries replace the earlier ones


if __name__ == "__main__":
    main()
