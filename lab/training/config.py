"""Training configuration: optimiser, schedule, points, device — declared once."""
from __future__ import annotations

import math
from typing import ClassVar

import param

from lab.config import CheckedDict, CheckedList, Config, ConfigError
from lab.training.causal import check_schedule


def check_weights(weights: dict) -> None:
    """Finite numbers >= 0 (which keys are terms depends on the problem: see
    :func:`lab.training.preflight.check_loss_weights`)."""
    for k, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ConfigError("loss_weights", f"Loss weights: the weight of {k!r} must be a finite "
                                              f"number >= 0, got {w!r}.")


def check_infer(guesses: dict) -> None:
    """Finite numbers (which names are parameters, and their bounds, depend on the problem:
    see :func:`lab.training.inverse.check_guesses`)."""
    for k, g in guesses.items():
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not math.isfinite(g):
            raise ConfigError("infer", f"Infer: the initial guess of {k!r} must be a finite number, got {g!r}.")


def check_eps(eps: list) -> None:
    """Finite numbers, then the schedule's own rule (positive, increasing)."""
    bad = [e for e in eps if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e)]
    if bad:
        raise ConfigError("causal_eps", f"Causal eps: every value must be a finite number, got {bad[0]!r}; "
                                        "give an increasing list such as [0.01, 0.1, 1].")
    try:
        check_schedule(eps)
    except ValueError as err:
        raise ConfigError("causal_eps", f"Causal eps: {err}.") from None


class TrainConfig(Config):
    """How a model is trained. Every field has bounds; the app and CLI are generated from it."""

    title: ClassVar[str] = "the training"

    steps = param.Integer(2000, bounds=(0, 10_000_000), doc="Adam iterations")
    lr = param.Number(1e-3, bounds=(1e-8, 1.0), doc="Adam learning rate")
    lr_schedule = param.Selector(default="exponential", objects=["constant", "exponential", "cosine"],
                                 doc="Learning-rate schedule over the Adam phase")
    lr_decay = param.Number(0.9, bounds=(0.01, 1.0),
                            doc="Exponential schedule: factor applied every 'lr_decay_steps' steps")
    lr_decay_steps = param.Integer(1000, bounds=(1, 10_000_000), doc="Steps per exponential decay")
    cuda_graphs = param.Boolean(True, doc="On CUDA, capture each Adam step as one CUDA graph and replay it "
                                "(several times faster for launch-bound PINNs and FNOs). Runs of a neural-ODE task, "
                                "and any run off CUDA, keep the eager loop; balancing steps run eagerly "
                                "between replays")
    derivatives = param.Selector(
        default="auto", objects=["auto", "autograd", "taylor", "compiled"],
        doc="How the PDE residual's derivatives are computed. 'auto': on CUDA, Taylor-mode jets "
            "through a plain MLP or PIG, compiled by torch.compile (the fastest route measured; the "
            "first step compiles), else autograd; 'autograd': nested reverse mode, any model; "
            "'taylor' / 'compiled': Taylor mode through a plain MLP (tanh/sin) or PIG, eager or compiled")
    lbfgs_steps = param.Integer(0, bounds=(0, 1_000_000),
                                doc="L-BFGS iterations (strong-Wolfe line search) after Adam")
    n_pde = param.Integer(2000, bounds=(1, 50_000_000), doc="Collocation points in the interior")
    n_ic = param.Integer(256, bounds=(0, 10_000_000), doc="Points on the initial slice")
    n_bc = param.Integer(256, bounds=(0, 10_000_000), doc="Points on the boundary")
    resample_every = param.Integer(0, bounds=(0, 10_000_000),
                                   doc="Draw fresh collocation points every this many steps (0: never)")
    loss_weights = CheckedDict(default={}, check=check_weights, doc="Fixed weight per loss term, e.g. {'ic': 10}; others 1")
    resampling = param.Selector(default="uniform", objects=["uniform", "rad"],
                                doc="How fresh collocation points are drawn every 'resample_every' "
                                    "steps: uniformly, or residual-adaptive (RAD, Wu et al. 2023)")
    rad_k = param.Number(1.0, bounds=(0.0, 10.0), doc="RAD exponent k in p ∝ |r|^k/mean|r|^k + c")
    rad_c = param.Number(1.0, bounds=(0.0, 1e3), doc="RAD uniform floor c in p ∝ |r|^k/mean|r|^k + c")
    rad_candidates = param.Integer(10, bounds=(1, 1000),
                                   doc="RAD draws this many uniform candidates per kept point")
    causal = param.Boolean(False, doc="Causal residual weighting over time chunks (Wang et al. 2024)")
    causal_chunks = param.Integer(32, bounds=(1, 4096), doc="Number M of time chunks for causal weighting")
    causal_eps = CheckedList(default=[1e-2, 1e-1, 1.0, 10.0, 100.0], check=check_eps, item_type=(int, float),
                            doc="Schedule of causality parameters ε, advanced when min weight > δ")
    causal_delta = param.Number(0.99, bounds=(0.0, 1.0), inclusive_bounds=(False, False),
                                doc="Advance ε once every causal weight exceeds δ, in (0, 1)")
    balancing = param.Selector(default="none", objects=["none", "grad_norm", "ntk"],
                               doc="Adaptive loss weights: gradient-norm or NTK-trace balancing")
    balance_every = param.Integer(100, bounds=(1, 1_000_000), doc="Update balancing weights every this many steps")
    balance_momentum = param.Number(0.9, bounds=(0.0, 1.0), inclusive_bounds=(True, False),
                                    doc="Moving-average momentum of the balancing weights, in [0, 1)")
    ntk_points = param.Integer(32, bounds=(1, 4096), doc="Points per term for the NTK-trace estimate")
    seed = param.Integer(0, bounds=(0, 2**31 - 1), doc="Seed for initialisation and sampling")
    device = param.Selector(default="auto", objects=["auto", "cpu", "cuda", "mps"],
                            doc="Where to train; 'auto' picks cuda, then mps, then cpu")
    dtype = param.Selector(default="float32", objects=["float32", "float64"], doc="Floating-point precision")
    log_every = param.Integer(10, bounds=(1, 1_000_000), doc="Emit a Step event every this many steps")
    snapshot_every = param.Integer(100, bounds=(1, 1_000_000),
                                   doc="Evaluate against the reference every this many steps")
    checkpoint_every = param.Integer(500, bounds=(1, 10_000_000),
                                     doc="Save the last good checkpoint every this many steps")

    # ---- learning from data: observations as a loss term, parameters recovered (PINN, PIG) ----
    sensors = param.Integer(0, bounds=(0, 1_000_000), doc="Observations drawn from the reference: number of "
                            "sensors, fitted as the loss term 'data' (0: none)")
    sensor_noise = param.Number(0.0, bounds=(0.0, 1.0), doc="Gaussian noise on the sensors, its standard "
                                "deviation relative to the reference's")
    sensor_layout = param.Selector(default="random", objects=["random", "grid"],
                                   doc="Sensors at random nodes of the reference grid, or on an even lattice")
    sensor_seed = param.Integer(0, bounds=(0, 2**31 - 1), doc="Seed of the sensors' positions and noise")
    observations = param.String("", doc="File of observations (CSV, NPZ, HDF5 or netCDF: a column per axis "
                                "and observed output), fitted as the loss term 'data'")
    infer = CheckedDict(default={}, check=check_infer, doc="Problem parameters to recover from the "
                        "observations, with their initial guess, e.g. {'nu': 0.05}")

    @param.depends("sensors", "observations", watch=True, on_init=True)
    def _check_observations(self):
        if self.sensors and self.observations:
            raise ConfigError("observations", "Observations: give either a file of observations or a number "
                                              "of sensors drawn from the reference, not both.")

    @param.depends("resampling", "resample_every", watch=True, on_init=True)
    def _check_resampling(self):
        if self.resampling == "rad" and not self.resample_every:
            raise ConfigError("resample_every", "Resampling 'rad' needs Resample every >= 1 (how often "
                                                "to redraw points): set Resample every, or choose 'uniform'.")
