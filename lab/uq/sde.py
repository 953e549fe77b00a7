"""Stable neural SDEs beside the neural ODE on irregularly sampled chaotic trajectories.

The problem's reference trajectory (a :class:`lab.problems.chaos.ChaoticODE`, e.g. Lorenz-63 or
Lorenz-96) on its uniform grid is normalised per component and split in time: the first
``train_fraction`` is the training series, of which a fraction ``missing`` of the points is
dropped (:func:`lab.data.irregular.observed_mask`); the rest is held out. Every model is
trained by Adam on ``window``-step rollouts from observed points, the mean-square error counted
at the observed points only (an SDE: averaged over ``samples`` paths, the paper's loss). Then,
from the first held-out state:

* forecast RMSE of the (mean) path over ``horizon`` steps, in units of the component's standard
  deviation, and for an SDE the coverage of the truth by its 90 % interval;
* Hellinger distances of the invariant densities (:func:`lab.diagnostics.attractors.density_distance`)
  and of the power spectra (:func:`~lab.diagnostics.attractors.power_spectrum_distance`) of a
  rollout over the whole held-out segment against the reference there.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from lab.data.irregular import check_missing, observed_mask
from lab.diagnostics.attractors import density_distance, power_spectrum_distance
from lab.diagnostics.calibration import coverage
from lab.models.neural_ode import NeuralODE
from lab.models.neural_sde import SDE_CLASSES, StableSDE
from lab.uq.methods import Progress, adam

MODELS = ("neural_ode",) + SDE_CLASSES


@dataclass(frozen=True)
class Series:
    """A normalised trajectory, its train/test split and which training points are observed."""

    t: torch.Tensor            # (n,), uniform
    states: torch.Tensor       # (n, d), (y - mean) / std
    mean: np.ndarray
    std: np.ndarray
    split: int                 # first held-out index
    observed: torch.Tensor     # (split,) bool

    @property
    def dt(self) -> float:
        return float(self.t[1] - self.t[0])


def series(problem, *, missing: float, train_fraction: float = 0.5, seed: int = 0,
           grid_shape: tuple[int] | None = None, dtype: torch.dtype = torch.float32) -> Series:
    """The problem's reference on its grid (or ``grid_shape``), normalised, split and irregularly observed."""
    if tuple(problem.axes) != ("t",):
        raise ValueError(f"neural SDEs train on ODE problems (axes ('t',)), got {problem.axes}")
    check_missing(missing)  # before the reference is computed
    if not 0.1 <= train_fraction <= 0.9:
        raise ValueError(f"training fraction must be in [0.1, 0.9], got {train_fraction}")
    grid = problem.grid(grid_shape)
    ref = np.asarray(problem.reference(grid)).reshape(len(grid["t"]), len(problem.outputs))
    split = int(round(train_fraction * len(ref)))
    mask = observed_mask(split, missing, torch.Generator().manual_seed(seed))
    mean, std = ref[:split][mask.numpy()].mean(0), ref[:split][mask.numpy()].std(0)
    return Series(torch.as_tensor(grid["t"], dtype=dtype), torch.as_tensor((ref - mean) / std, dtype=dtype),
                  mean, std, split, mask)


def build(kind: str, state_dim: int, *, width: int = 64, depth: int = 2, latent: int = 16,
          seed: int = 0) -> torch.nn.Module:
    """A neural ODE (the lab's, RK4 on the data's grid) or one of the stable SDE classes."""
    g = torch.Generator().manual_seed(seed)
    if kind == "neural_ode":
        return NeuralODE(state_dim, width, depth, "tanh", "rk4", generator=g)
    if kind not in SDE_CLASSES:
        raise ValueError(f"model must be one of {list(MODELS)}, got {kind!r}")
    return StableSDE(kind, state_dim, latent=latent, width=width, depth=depth, generator=g)


def rollout(model, y0: torch.Tensor, tau: torch.Tensor, samples: int, seed: int) -> torch.Tensor:
    """``(len(tau), samples, batch, d)``: an SDE's sample paths, or the ODE's one path."""
    if isinstance(model, StableSDE):
        return model.paths(y0, tau, samples, seed=seed)
    return model(y0, tau)[:, None]


def masked_window_loss(data: Series, *, window: int, batch: int, samples: int,
                       generator: torch.Generator) -> Callable[[torch.nn.Module, int], torch.Tensor]:
    """``loss(model, step)``: mean-square error of ``window``-step rollouts from ``batch`` observed
    training points, counted where the training series is observed."""
    starts = torch.nonzero(data.observed[:data.split - window]).reshape(-1)
    if window < 1 or len(starts) == 0:
        raise ValueError(f"window must be in [1, {data.split - 1}] steps, got {window}")
    tau = data.t[:window + 1] - data.t[0]
    offsets = torch.arange(window + 1)

    def loss(model, step: int) -> torch.Tensor:
        s = starts[torch.randint(0, len(starts), (batch,), generator=generator)]
        idx = s[None, :] + offsets[:, None]                      # (window + 1, batch)
        pred = rollout(model, data.states[s], tau, samples, seed=step)
        sq = (pred - data.states[idx][:, None]).square().mean((1, 3))
        w = data.observed[idx].to(sq.dtype)
        return (sq * w).sum() / w.sum()

    return loss


@dataclass(frozen=True)
class Forecast:
    """One model's scores on the held-out segment, and its paths there (physical units)."""

    model: str
    missing: float
    forecast_rmse: float
    coverage90: float          # NaN for the ODE (no spread)
    density_hellinger: float
    spectrum_hellinger: float
    seconds: float
    final_loss: float
    t: np.ndarray              # held-out times
    paths: np.ndarray          # (len(t), samples, d)
    reference: np.ndarray      # (len(t), d)

    def row(self) -> dict:
        return {k: getattr(self, k) for k in ("model", "missing", "forecast_rmse", "coverage90",
                                              "density_hellinger", "spectrum_hellinger", "seconds",
                                              "final_loss")}


def train_and_forecast(problem, kind: str, *, missing: float, steps: int = 200, lr: float = 3e-3,
                       window: int = 10, batch: int = 32, samples: int = 4, eval_samples: int = 16,
                       horizon: int = 100, width: int = 64, depth: int = 2, latent: int = 16, seed: int = 0,
                       data: Series | None = None, progress: Progress | None = None) -> Forecast:
    """Train ``kind`` on the irregular series of ``problem`` and score its forecast."""
    start = time.perf_counter()
    data = data if data is not None else series(problem, missing=missing, seed=seed)
    model = build(kind, data.states.shape[1], width=width, depth=depth, latent=latent, seed=seed)
    loss = masked_window_loss(data, window=window, batch=batch, samples=samples,
                              generator=torch.Generator().manual_seed(seed))
    final = adam(list(model.parameters()), lambda k: loss(model, k), steps, lr, progress)
    test = data.states[data.split - 1:]          # from the last training state on
    tau = data.t[:len(test)] - data.t[0]
    with torch.no_grad():
        paths = rollout(model, test[:1], tau, eval_samples, seed=10**6 + seed)[:, :, 0]  # (n, S, d)
    truth = test
    finite = bool(torch.isfinite(paths).all())
    h = min(horizon, len(test) - 1)
    mean = paths[1:h + 1].mean(1)
    rmse = float((mean - truth[1:h + 1]).square().mean().sqrt()) if finite else math.inf
    cov = math.nan
    if isinstance(model, StableSDE) and finite:
        spread = paths[1:h + 1].std(1).clamp_min(1e-12)
        cov = coverage(truth[1:h + 1].numpy(), mean.numpy(), spread.numpy(), 0.9)
    dens = spec = math.nan
    if finite:
        d = min(3, truth.shape[1])
        dens = density_distance(paths[:, :, :d].reshape(-1, d).double(), truth[:, :d].double(), bins=8)
        spec = power_spectrum_distance(paths[:, 0].double(), truth.double(), data.dt,
                                       segment=min(256, len(truth)))
    phys = lambda x: x.double().numpy() * data.std + data.mean  # noqa: E731
    return Forecast(kind, missing, rmse, cov, dens, spec, time.perf_counter() - start, final,
                    data.t[data.split - 1:].double().numpy(), phys(paths), phys(truth))
