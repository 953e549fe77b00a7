"""Ensemble, MC dropout and last-layer Laplace on a PINN or an operator problem, scored alike.

:func:`run_uq` trains what the method needs (``members`` networks as one vectorised model,
one network with dropout, or one plain network for Laplace — or takes a trained one), predicts
a mean and a standard deviation on the problem's evaluation grid (a PINN) or on the validation
samples (an operator), and scores them against the reference with
:func:`lab.diagnostics.calibration.calibration`. The networks are the lab's: a PINN is
:class:`lab.models.mlp.MLPConfig`'s, an operator :class:`lab.models.fno.FNOConfig`'s; PINN
losses are the problem's own residuals (:meth:`Problem.point_residuals`), operator losses the
relative L2 loss of the operator task. An operator whose outputs count only on a mask
(:meth:`OperatorProblem.output_mask`, a domain on a grid) is trained and scored there only:
its maps are NaN off the mask, as a PINN's grid is outside its domain.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lab.diagnostics.calibration import Calibration, calibration
from lab.models import get_model_config
from lab.training.tasks.operator import masked, relative_l2_loss
from lab.training.tasks.pinn import evaluate_on_grid
from lab.uq.dropout import MCDropout
from lab.uq.ensemble import Ensemble, Stacked, check_members
from lab.uq.laplace import LastLayerLaplace

METHODS = ("ensemble", "dropout", "laplace")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class UQResult:
    """Predictive mean and spread against the reference, with their scores and cost."""

    method: str
    problem: str
    mean: np.ndarray         # PINN: the evaluation grid; operator: (n_val, *shape)
    std: np.ndarray
    reference: np.ndarray
    calibration: Calibration
    seconds: float           # training and prediction
    parameters: int          # trained parameters, all members together
    final_loss: float

    @property
    def error(self) -> np.ndarray:
        return np.abs(self.mean - self.reference)

    def row(self) -> dict:
        return {"method": self.method, "problem": self.problem, **self.calibration.row(),
                "seconds": self.seconds, "parameters": self.parameters, "final_loss": self.final_loss}


def adam(params: list[torch.Tensor], loss: Callable[[int], torch.Tensor], steps: int, lr: float,
         progress: Progress | None = None) -> float:
    """``steps`` Adam steps on ``loss(step)``; returns the last loss."""
    if steps < 1:
        raise ValueError(f"training steps must be at least 1, got {steps}")
    opt = torch.optim.Adam(params, lr=lr)
    value = torch.tensor(float("nan"))
    for k in range(steps):
        opt.zero_grad(set_to_none=True)
        value = loss(k)
        value.backward()
        opt.step()
        if progress is not None:
            progress(k + 1, steps)
    return float(value.detach())


# ---- PINN ---------------------------------------------------------------------------------
def pinn_member_losses(problem, model: nn.Module, batch: dict[str, torch.Tensor], members: int) -> torch.Tensor:
    """Each member's loss ``sum_t mean r_t^2`` (unit weights), shape ``(members,)``; ``batch`` holds
    every member's points one block after another (:class:`lab.uq.ensemble.Stacked`)."""
    res = problem.point_residuals(model, batch, "autograd")
    return sum(r.reshape(members, -1).square().mean(1) for r in res.values())


def _pinn_batches(problem, sizes, seed, dtype, device, tile: int = 1):
    gen = torch.Generator().manual_seed(seed)

    def draw():
        b = problem.sample(*sizes, gen, device=device, dtype=dtype)
        return {k: v.repeat(tile, 1) for k, v in b.items() if len(v)}
    return draw


def _grid_points(problem, grid, dtype, device) -> torch.Tensor:
    mesh = np.meshgrid(*[grid[a] for a in problem.axes], indexing="ij")
    return torch.as_tensor(np.stack([m.ravel() for m in mesh], axis=1), dtype=dtype, device=device)


def _pinn(problem, method, *, members, rate, samples, steps, lr, width, depth, seed, points,
          prior_precision, model, dtype, device, progress):
    if len(problem.outputs) != 1:
        raise ValueError(f"uncertainty maps are of one output field; {problem.key!r} has {len(problem.outputs)}")
    config = get_model_config("mlp", width=width, depth=depth)
    build = lambda g: config.build(problem, g).to(device=device, dtype=dtype)  # noqa: E731
    grid = problem.grid()
    reference = np.asarray(problem.reference(grid), dtype=np.float64)
    if method == "ensemble":
        ens = Ensemble(build, members, seed).to(device)
        draw = _pinn_batches(problem, points, seed, dtype, device, tile=members)
        loss = adam(ens.member_parameters(), lambda k: pinn_member_losses(problem, Stacked(ens), draw(), members).sum(),
                    steps, lr, progress)
        preds = np.stack([evaluate_on_grid(ens.member(m), problem, grid, device=device, dtype=dtype)
                          for m in range(members)])
        return preds.mean(0), preds.std(0, ddof=1), reference, loss, sum(p.numel() for p in ens.member_parameters())
    net = model if model is not None else build(torch.Generator().manual_seed(seed))
    n_params = sum(p.numel() for p in net.parameters())
    drop = MCDropout(net, rate, generator=torch.Generator().manual_seed(seed)) if method == "dropout" else None
    draw = _pinn_batches(problem, points, seed, dtype, device)
    loss = float("nan")
    if model is None:
        loss = adam(list(net.parameters()), lambda k: pinn_member_losses(problem, net, draw(), 1).sum(),
                    steps, lr, progress)
    if method == "dropout":
        preds = np.stack([evaluate_on_grid(net, problem, grid, device=device, dtype=dtype) for _ in range(samples)])
        drop.remove()
        return preds.mean(0), preds.std(0, ddof=1), reference, loss, n_params
    lap = LastLayerLaplace(net, prior_precision)
    batch = draw()
    with torch.enable_grad():
        res = problem.point_residuals(net, batch, "autograd")
        lap.fit({t: (lap.residual_jacobian(r), r) for t, r in res.items()})
    pts = _grid_points(problem, grid, dtype, device)
    rows = lap.features(lambda: net(pts))
    mean = evaluate_on_grid(net, problem, grid, device=device, dtype=dtype)
    return mean, lap.variance(rows).sqrt().numpy().reshape(mean.shape), reference, loss, n_params


# ---- operator -------------------------------------------------------------------------------
def _operator(problem, method, *, members, rate, samples, steps, lr, width, modes, seed,
              prior_precision, model, dtype, device, progress):
    if problem.out_channels != 1:
        raise ValueError(f"uncertainty maps are of one output field; {problem.key!r} has {problem.out_channels}")
    data = problem.datasets(("train", "val"), device=device, dtype=dtype)
    x, y = data["train"]["x"], data["train"]["y"]
    xv, yv = data["val"]["x"], data["val"]["y"]
    config = get_model_config("fno", width=width, modes=modes)
    build = lambda g: config.build(problem, g).to(device=device, dtype=dtype)  # noqa: E731
    gen = torch.Generator().manual_seed(seed)
    B = min(problem.batch_size, len(x))

    def batch():
        idx = torch.randperm(len(x), generator=gen)[:B].to(x.device)
        return x[idx], y[idx]

    reference = yv[:, 0].double().cpu().numpy()
    mask = problem.output_mask(xv)
    off = None if mask is None else ~mask.expand_as(yv)[:, 0].bool().cpu().numpy()

    def scored(mean, std):
        """``mean`` and ``std`` with the reference, NaN off the mask."""
        if off is None:
            return mean, std, reference
        return tuple(np.where(off, np.nan, a) for a in (mean, std, reference))

    if method == "ensemble":
        ens = Ensemble(build, members, seed).to(device)

        def ens_loss(k):
            xb, yb = batch()
            pred = ens(xb)
            return sum(relative_l2_loss(*masked(problem, xb, pred[m], yb)) for m in range(members))
        loss = adam(ens.member_parameters(), ens_loss, steps, lr, progress)
        with torch.no_grad():
            preds = ens(xv)[:, :, 0].double().cpu().numpy()
        return *scored(preds.mean(0), preds.std(0, ddof=1)), loss / members, \
            sum(p.numel() for p in ens.member_parameters())
    net = model if model is not None else build(torch.Generator().manual_seed(seed))
    n_params = sum(p.numel() for p in net.parameters())
    drop = MCDropout(net, rate, generator=torch.Generator().manual_seed(seed)) if method == "dropout" else None
    loss = float("nan")
    if model is None:
        def single_loss(k):
            xb, yb = batch()
            return relative_l2_loss(*masked(problem, xb, net(xb), yb))
        loss = adam(list(net.parameters()), single_loss, steps, lr, progress)
    if method == "dropout":
        mean, std = drop.predict(xv, samples)
        drop.remove()
        return *scored(mean[:, 0].double().cpu().numpy(), std[:, 0].double().cpu().numpy()), loss, n_params
    lap = LastLayerLaplace(net, prior_precision)
    with torch.no_grad():
        r = net(x) - y
    rows, keep = lap.features(lambda: net(x)), problem.output_mask(x)
    if keep is not None:  # the data are the outputs on the mask only
        keep = keep.expand_as(r).reshape(-1).bool()
        rows, r = rows[keep.to(rows.device)], r.reshape(-1)[keep]
    lap.fit({"data": (rows, r)})
    rows = lap.features(lambda: net(xv))
    with torch.no_grad():
        mean = net(xv)[:, 0].double().cpu().numpy()
    return *scored(mean, lap.variance(rows).sqrt().numpy().reshape(mean.shape)), loss, n_params


# ---- entry point -----------------------------------------------------------------------------
def run_uq(problem, method: str, *, members: int = 5, rate: float = 0.1, samples: int = 32,
           steps: int = 500, lr: float = 1e-3, width: int = 32, depth: int = 3, modes: int = 8,
           seed: int = 0, points: tuple[int, int, int] = (1000, 100, 100),
           prior_precision: float = 1.0, model: nn.Module | None = None,
           dtype: torch.dtype = torch.float32, device=None, progress: Progress | None = None) -> UQResult:
    """Train (or take ``model``, trained) and score one method on ``problem``.

    ``method``: ``"ensemble"`` (``members`` networks, one vmapped model), ``"dropout"`` (rate
    ``rate``, ``samples`` passes) or ``"laplace"`` (prior precision ``prior_precision``). A PINN
    is an MLP of ``depth`` hidden layers of ``width`` trained on ``points = (n_pde, n_ic, n_bc)``
    fresh points per step; an operator is an FNO of ``width`` channels and ``modes`` modes.
    ``model`` (Laplace only: the other methods train their own) is a trained network of the
    problem."""
    if method not in METHODS:
        raise ValueError(f"uncertainty method must be one of {list(METHODS)}, got {method!r}")
    if method == "ensemble":
        check_members(members)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    if model is not None and method != "laplace":
        raise ValueError(f"a trained model is scored by 'laplace'; {method!r} trains its own networks")
    start = time.perf_counter()
    common = dict(members=members, rate=rate, samples=samples, steps=steps, lr=lr, width=width, seed=seed,
                  prior_precision=prior_precision, model=model, dtype=dtype, device=device, progress=progress)
    if getattr(problem, "kind", None) == "operator":
        mean, std, ref, loss, n = _operator(problem, method, modes=modes, **common)
    elif problem.has_reference():
        mean, std, ref, loss, n = _pinn(problem, method, depth=depth, points=points, **common)
    else:
        raise ValueError(f"{problem.title} has no reference solution to score the uncertainty against")
    std = np.maximum(std, 1e-12)  # a spread of exactly zero (rate 0) scores as over-confident, not as NaN
    known = np.isfinite(ref)  # an operator's mask
    return UQResult(method, problem.key, mean, std, ref, calibration(ref[known], mean[known], std[known]),
                    time.perf_counter() - start, n, loss)
