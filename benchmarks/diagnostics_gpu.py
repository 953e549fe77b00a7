"""Time the diagnostics on a PINN-sized problem: loss landscape, Hessian eigenvalues, E(k).

Cases (float32 by default):

* ``landscape_51x51`` — the full Burgers PINN loss (residual ``u_t + u u_x - nu u_xx`` on
  8192 collocation points + initial and boundary terms, written with ``torch.func`` so it
  vmaps) of a 4x256 tanh MLP on a 51x51 grid of filter-normalised directions; the vmap
  path with chunks sized to half the free GPU memory.
* ``hessian_top5`` — the 5 largest Hessian eigenvalues of the same loss (Lanczos on double
  backward Hessian-vector products; the autograd form of the loss, ``lab.autodiff.Fields``).
* ``spectrum_256^3`` — shell-averaged E(k) of a random 256^3 velocity field.

Each case runs once as warm-up and is then timed with CUDA events (``perf_counter`` on the
CPU); the median over repeats is reported. Usage: ``python benchmarks/diagnostics_gpu.py`` on
a GPU box (writes ``benchmarks/results/diagnostics_gpu.json``); ``--quick`` runs tiny sizes on
the CPU in seconds (smoke test; writes only with ``--out``).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, hessian, jacrev, vmap

from lab.autodiff import Fields
from lab.device import describe, pick_device, resolve_dtype
from lab.diagnostics.hessian import HessianOperator, top_eigenvalues
from lab.diagnostics.landscape import landscape_2d, random_directions
from lab.diagnostics.spectra import energy_spectrum
from lab.nn import mlp
from lab.sampling import sample_box

NU = 0.01 / math.pi
BOX = {"x": (-1.0, 1.0), "t": (0.0, 1.0)}


def _timer(device):
    if device.type == "cuda":
        def run(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            torch.cuda.synchronize(device)
            return start.elapsed_time(end) / 1e3, out
    else:
        def run(fn):
            t0 = time.perf_counter()
            out = fn()
            return time.perf_counter() - t0, out
    return run


def burgers_losses(net: nn.Module, n_pde: int, n_ic: int, n_bc: int, device, dtype):
    """The Burgers PINN loss twice: ``torch.func`` form (params dict) and autograd form (model)."""
    g = torch.Generator().manual_seed(0)
    X = sample_box(BOX, n_pde, g, device=device, dtype=dtype)
    X_ic = sample_box(BOX, n_ic, g, device=device, dtype=dtype, fix={"t": 0.0})
    X_bc = sample_box(BOX, n_bc, g, device=device, dtype=dtype)
    X_bc[:, 0] = torch.where(torch.arange(n_bc, device=device) % 2 == 0, -1.0, 1.0).to(dtype)
    u_ic = -torch.sin(math.pi * X_ic[:, :1])

    def functional(params):
        u = lambda x: functional_call(net, params, (x[None],))[0, 0]  # noqa: E731
        val, grad, hess = vmap(u)(X), vmap(jacrev(u))(X), vmap(hessian(u))(X)
        pde = (grad[:, 1] + val * grad[:, 0] - NU * hess[:, 0, 0]).square().mean()
        ic = (functional_call(net, params, (X_ic,)) - u_ic).square().mean()
        bc = functional_call(net, params, (X_bc,)).square().mean()
        return pde + ic + bc

    def closure(model):
        f = Fields(model, X, ("x", "t"))
        pde = (f.d("t") + f() * f.d("x") - NU * f.d("x", "x")).square().mean()
        return pde + (model(X_ic) - u_ic).square().mean() + model(X_bc).square().mean()

    return functional, closure


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes on the CPU (smoke test)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    device = torch.device("cpu") if args.quick else pick_device(args.device)
    dtype = resolve_dtype(args.dtype)
    if args.quick:
        width, n_pde, n_side, n_spec, repeats = 32, 256, 5, 32, 1
    else:
        width, n_pde, n_side, n_spec, repeats = 256, 8192, 51, 256, args.repeats
    timer = _timer(device)
    results = []

    def report(case: str, times: list[float], **extra):
        row = {"case": case, "median_ms": 1e3 * statistics.median(times),
               "times_ms": [1e3 * t for t in times], **extra}
        results.append(row)
        print(json.dumps(row), flush=True)

    torch.manual_seed(0)  # network initialisation draws from the global generator
    net = nn.Sequential(*mlp([2] + [width] * 4 + [1], "tanh")).to(device=device, dtype=dtype)
    functional, closure = burgers_losses(net, n_pde, 256, 256, device, dtype)
    d1, d2 = random_directions(net, 2, torch.Generator().manual_seed(1))
    alphas = torch.linspace(-1, 1, n_side, device=device, dtype=dtype)
    budget = (torch.cuda.mem_get_info(device)[0] // 2 if device.type == "cuda" else 2 * 2 ** 30)

    def landscape():
        return landscape_2d(net, functional, d1, d2, alphas, alphas, functional=True,
                            memory_budget=budget)

    landscape_2d(net, functional, d1, d2, alphas[:2], alphas[:2], functional=True,
                 memory_budget=budget)  # warm-up
    times, land = zip(*(timer(landscape) for _ in range(repeats)))
    centre = closure(net).item()
    report(f"landscape_{n_side}x{n_side}", list(times), path=land[-1].path,
           chunk_size=land[-1].chunk_size, bytes_estimate=land[-1].bytes_estimate,
           n_params=sum(p.numel() for p in net.parameters()), n_collocation=n_pde,
           ms_per_point=1e3 * statistics.median(times) / n_side ** 2,
           centre_loss=land[-1].values[n_side // 2, n_side // 2].item(), centre_loss_autograd=centre)

    def top5():
        return top_eigenvalues(HessianOperator(net, closure), 5, torch.Generator().manual_seed(2),
                               tol=1e-4, max_iter=200)[0]

    top5()  # warm-up
    times, values = zip(*(timer(top5) for _ in range(repeats)))
    report("hessian_top5", list(times), eigenvalues=values[-1].tolist())

    g = torch.Generator().manual_seed(3)
    u = torch.randn(3, n_spec, n_spec, n_spec, generator=g, dtype=dtype).to(device)

    def spectrum():
        return energy_spectrum(u, 3, vector=True)[1]

    spectrum()  # warm-up
    times, E = zip(*(timer(spectrum) for _ in range(repeats)))
    report(f"spectrum_{n_spec}^3", list(times), parseval_rel_err=abs(
        E[-1].sum().item() / (0.5 * u.double().square().sum(0).mean().item()) - 1))

    out = args.out or (None if args.quick else Path(__file__).parent / "results" / "diagnostics_gpu.json")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"device": describe(device), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                "torch": torch.__version__, "dtype": args.dtype, "quick": args.quick,
                "results": results}
        out.write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
