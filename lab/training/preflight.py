"""Checks a run passes before its folder is created: a refused setting leaves no failed run.

The Trainer calls :func:`check_run` when it is built, so the app's Train button, the CLI and
the API refuse, with a message in the user's terms, what would otherwise fail in the middle
of setting up: a loss weight for a term the problem does not have, a model family that
cannot train the problem, causal training without time, and sizes that cannot fit in memory
(the model, its optimiser state, the collocation points' autograd tape, reference grids and
datasets), estimated before anything is allocated (:mod:`lab.limits`).
"""
from __future__ import annotations

import math

import torch

from lab.config import ConfigError, label
from lab.device import pick_device, resolve_dtype
from lab.io.observations import read_observations
from lab.limits import Need, check_needs
from lab.models.lagrangian import check_lagrangian
from lab.training.inverse import check_guesses
from lab.training.tasks.lagrangian import loss_names as lagrangian_terms

#: model families and the problem kinds they train
FAMILY_KINDS = {"operator": {"operator"}, "ode": {"ode"}}
#: L-BFGS keeps this many pairs of parameter-sized vectors (``history_size`` in the Trainer)
LBFGS_HISTORY = 50


def loss_names(problem, family: str) -> tuple[str, ...]:
    """The loss terms a model of ``family`` minimises on ``problem``."""
    if family == "lagrangian":
        return lagrangian_terms(problem)
    return ("data",) if family == "ode" else problem.loss_names()


def check_compatible(problem, model_config) -> None:
    family = model_config.family
    kinds = FAMILY_KINDS.get(family)
    fits = problem.kind in kinds if kinds else problem.kind != "operator"
    if not fits:
        need = {"operator": "an operator problem", "ode": "an ODE problem"}.get(family, "a PDE or ODE problem")
        raise ConfigError("model", f"the {model_config.title or model_config.kind} model needs {need}; "
                                   f"{problem.title or problem.key} is not one. Pick another model.")
    if family == "lagrangian":
        check_lagrangian(problem)


def observes(config) -> bool:
    """Whether the run fits observations (drawn sensors or a file): the loss term ``data``."""
    return bool(config.sensors or config.observations)


def check_learning_from_data(problem, model_config, config) -> None:
    """Observations and inferred parameters: a PINN (or PIG) task, data to infer from, guesses
    that the problem's parameters take."""
    if not (observes(config) or config.infer):
        return
    if model_config.family != "pinn":
        raise ConfigError("infer" if config.infer else "sensors",
                          f"observations and inferred parameters are fitted by PINN and PIG models; "
                          f"the {model_config.title or model_config.kind} model does not take them.")
    if config.infer and not observes(config):
        raise ConfigError("infer", f"{label(config.param['infer'])}: recovering a parameter needs observations: "
                                   "set Sensors above 0 or give a file of observations.")
    check_guesses(problem, config.infer)
    if config.observations:  # a malformed file is refused before a run folder exists
        read_observations(config.observations, problem)
    elif config.sensors:
        nodes = math.prod(problem.grid_shape)
        if not problem.has_reference():
            raise ConfigError("sensors", f"{problem.title or problem.key} has no reference to draw sensors "
                                         "from; give a file of observations instead.")
        if config.sensors > nodes:
            raise ConfigError("sensors", f"{label(config.param['sensors'])} must be at most {nodes:,} (the nodes "
                                         f"of the reference grid), got {config.sensors:,}.")


def check_loss_weights(problem, model_config, config) -> None:
    names = loss_names(problem, model_config.family)
    if observes(config) and model_config.family == "pinn":
        names += ("data",)
    bad = sorted(set(config.loss_weights) - set(names))
    if bad:
        raise ConfigError("loss_weights", f"{label(config.param['loss_weights'])}: {', '.join(map(repr, bad))} "
                                          f"{'is not a loss term' if len(bad) == 1 else 'are not loss terms'} "
                                          f"of this problem and model; its terms are {', '.join(names)}.")


def _activations_per_point(model: torch.nn.Module) -> int:
    """Hidden values one input point creates (Linear outputs, a Gaussian field's Gaussians)."""
    n = 0
    for m in model.modules():
        n += getattr(m, "out_features", 0) if isinstance(getattr(m, "out_features", 0), int) else 0
        means = getattr(m, "means", None)
        n += means.shape[0] if isinstance(means, torch.Tensor) else 0
    return n


def training_needs(problem, model_config, config) -> list[Need]:
    """On the training device: the model with its gradients and optimiser state, and for a
    pointwise model the autograd tape of the collocation points (derivatives up to second
    order along every axis keep a few copies of every hidden value)."""
    itemsize = torch.finfo(resolve_dtype(config.dtype)).bits // 8
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        model = model_config.build(problem)
    n_params = sum(p.numel() for p in model.parameters())
    copies = 4 + (2 * LBFGS_HISTORY if config.lbfgs_steps else 0)  # weights, grads, Adam's m and v
    model_names = tuple(n for n, v in model_config.to_dict().items() if isinstance(v, int) and not isinstance(v, bool))
    needs = [
        Need(n_params * itemsize * copies, f"the model ({n_params:,} parameters, with its optimiser state)",
             model_config, model_names)]
    if model_config.family in ("pinn", "lagrangian"):
        points = config.n_pde * (config.rad_candidates if config.resampling == "rad" else 1)
        tape = config.n_pde * _activations_per_point(model) * itemsize * 4 * (1 + len(problem.axes))
        needs.append(Need(tape + points * len(problem.axes) * itemsize, "the collocation points' autograd tape",
                          config, ("n_pde",) + (("rad_candidates",) if config.resampling == "rad" else ())))
    return needs


def device_bytes(config) -> int | None:
    device = pick_device(config.device)
    return torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else None


def check_run(problem, model_config, config) -> None:
    """Raise :class:`lab.config.ConfigError` (a ``ValueError``) for a run that cannot start."""
    check_compatible(problem, model_config)
    check_loss_weights(problem, model_config, config)
    check_learning_from_data(problem, model_config, config)
    if config.causal and model_config.family == "pinn" and problem.time_axis is None:
        raise ConfigError("causal", f"{label(config.param['causal'])} weighs time chunks, and "
                                    f"{problem.title or problem.key} has no time axis. Turn it off.")
    check_needs(problem.memory_needs())  # reference grids and datasets: host memory
    check_needs(training_needs(problem, model_config, config), device_bytes(config))
