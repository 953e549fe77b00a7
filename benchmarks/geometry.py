"""PINN accuracy on the problems on real geometries, next to what their references cost.

    python benchmarks/geometry.py --out benchmarks/results/geometry_pinn_cpu.json
    python benchmarks/geometry.py --only stokes_cylinder --append benchmarks/results/geometry_pinn_cpu.json
    python benchmarks/geometry.py --only plate_hole_operator --steps 500 --append benchmarks/results/geometry_pinn_cpu.json

For each problem of :mod:`lab.problems.shapes2d` and the cylinder flow: a PINN (tanh MLP 3 x 32, Adam) trained
through the Trainer on points sampled from the geometry, its relative L2 error against the
reference on the evaluation grid (inside the domain) and its wall time; the reference's own
wall time (exact formula, or the finite-element solve with its mesh size; the error of a run
against a finite-element reference is measured at the mesh's nodes). On the L-shape
the same run with RAD resampling too, with the share of the squared error within 0.1 of the
re-entrant corner (where ∇u is unbounded). CPU and a small budget: a few minutes in all.

``plate_hole_operator`` (asked for by name): one FNO for the family of plates whose hole moves
and changes size, trained on finite-element data interpolated onto a masked grid; its
validation error over the domain's grid points next to the mean predictor's, its training
wall time and what the data cost per sample (mesh, P1 solve and interpolation; the data set
generated afresh in a temporary cache).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time

import numpy as np
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem

PROBLEMS = ("lshape_laplace", "disk_helmholtz", "annulus_laplace", "plate_hole_heat", "stokes_cylinder")
#: the finite-element references, by problem
#: the operator on a family of domains: run only when named in --only
OPERATORS = ("plate_hole_operator",)
FEM = {"plate_hole_heat": "P1 finite elements (scikit-fem)",
       "stokes_cylinder": "Taylor-Hood P2/P1 finite elements (scikit-fem)"}


def corner_share(problem, prediction: np.ndarray, radius: float = 0.1) -> float:
    """Share of the squared error (over the domain's grid points) within ``radius`` of the origin."""
    grid = problem.grid()
    X, Y = np.meshgrid(grid["x"], grid["y"], indexing="ij")
    err = (prediction - problem.reference()) ** 2
    known = np.isfinite(err)
    return float(err[known & (np.hypot(X, Y) < radius)].sum() / err[known].sum())


def reference_cost(problem) -> dict:
    if problem.key in FEM:
        t0 = time.perf_counter()
        solution = problem.solve_fem()
        wall = time.perf_counter() - t0
        mesh = solution[0].mesh
        return {"reference": FEM[problem.key], "reference_wall_s": round(wall, 3), "fem_mesh_n": problem.n,
                "fem_nodes": int(mesh.p.shape[1]), "fem_triangles": int(mesh.t.shape[1]),
                "fem_unknowns": int(sum(np.size(a) for a in solution[1::2])), "rel_l2_at": "fem nodes"}
    t0 = time.perf_counter()
    problem._reference(problem.grid())  # the formula itself, not the cache
    return {"reference": "exact", "reference_wall_s": round(time.perf_counter() - t0, 4)}


def run(key: str, steps: int, resampling: str) -> dict:
    problem = get_problem(key)
    cfg = TrainConfig(steps=steps, lr=3e-3, lr_decay_steps=max(steps // 3, 1), n_pde=1000, n_bc=256,
                      resample_every=max(steps // 5, 1) if resampling == "rad" else 0, resampling=resampling,
                      snapshot_every=steps, log_every=steps, device="cpu", seed=0)
    snaps = []
    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()
        result = Trainer(problem, get_model_config("mlp", width=32, depth=3), cfg,
                         sinks=[lambda e: snaps.append(e) if type(e).__name__ == "Snapshot" else None],
                         runs_dir=runs).run()
        wall = time.perf_counter() - t0
    line = {"problem": key, "model": "mlp 3x32 tanh", "adam_steps": steps, "resampling": resampling,
            "n_pde": cfg.n_pde, "n_bc": cfg.n_bc, "rel_l2": result.rel_l2, "train_wall_s": round(wall, 2)}
    if key == "lshape_laplace":
        line["corner_error_share"] = corner_share(problem, snaps[-1].fields["prediction"])
    return {**line, **reference_cost(problem)}


def run_operator(key: str, steps: int) -> dict:
    problem = get_problem(key)
    cfg = TrainConfig(steps=steps, lr=5e-3, lr_decay_steps=max(steps // 3, 1), snapshot_every=steps,
                      log_every=steps, device="cpu", seed=0)
    fno = dict(modes=8, width=24, n_layers=4, projection_channels=32)
    snaps = []
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as runs:
        os.environ["SCIML_LAB_CACHE"] = cache
        t0 = time.perf_counter()
        problem.arrays()
        data_wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = Trainer(problem, get_model_config("fno", **fno), cfg, runs_dir=runs,
                         sinks=[lambda e: snaps.append(e) if type(e).__name__ == "Snapshot" else None]).run()
        wall = time.perf_counter() - t0
        del os.environ["SCIML_LAB_CACHE"]
    n = problem.n_train + problem.n_val
    return {"problem": key, "model": "fno " + " ".join(f"{k}={v}" for k, v in fno.items()), "adam_steps": steps,
            "batch_size": problem.batch_size, "n_train": problem.n_train, "n_val": problem.n_val,
            "resolution": problem.resolution, "rel_l2": result.rel_l2, "rel_l2_over": "domain grid points (masked)",
            "trivial_rel_l2": snaps[-1].extras["trivial_rel_l2"], "train_wall_s": round(wall, 2),
            "reference": FEM["plate_hole_heat"] + ", interpolated on the grid", "fem_mesh_n": problem.mesh_layers,
            "data_wall_s": round(data_wall, 2), "data_wall_s_per_sample": round(data_wall / n, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", nargs="+", choices=PROBLEMS + OPERATORS, default=PROBLEMS, help="these problems only")
    ap.add_argument("--append", default=None, help="add the rows, each with its date and load, to this results file")
    args = ap.parse_args()
    rows = []
    for key in args.only:
        if key in OPERATORS:
            rows.append(run_operator(key, args.steps))
            print(json.dumps(rows[-1]), flush=True)
            continue
        for resampling in (("uniform", "rad") if key == "lshape_laplace" else ("uniform",)):
            rows.append(run(key, args.steps, resampling))
            print(json.dumps(rows[-1]), flush=True)
    out = {"benchmark": "geometry_pinn", "device": "cpu", "cpu": platform.processor() or platform.machine(),
           "threads": torch.get_num_threads(), "load_average_at_end": os.getloadavg(),
           "torch": torch.__version__, "dtype": "float32",
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "results": rows}
    if args.append:
        measured = {k: out[k] for k in ("date", "threads", "load_average_at_end", "torch")}
        with open(args.append) as f:
            out = json.load(f)
        out["results"] += [{**row, "measured": measured} for row in rows]
    for path in filter(None, (args.out, args.append)):
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
