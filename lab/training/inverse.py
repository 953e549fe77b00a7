"""Inverse problems: declared problem parameters recovered jointly with the field.

``TrainConfig.infer = {"nu": 0.05}`` marks the problem's parameter ``nu`` trainable, starting
from 0.05. Any real-valued parameter the problem declares can be marked (Burgers ν, heat κ,
Allen–Cahn ε, ...); it becomes a trainable parameter of the network (:func:`attach`, read
through :class:`InferredParameters`), so the optimiser trains it with the weights, the
checkpoint saves it with them and a continued run resumes it exactly. A parameter whose declared lower bound is >= 0
is trained as its logarithm (it stays positive, and steps are relative: ν = 1e-3 and ν = 0.3
move alike); any estimate is clamped to the declared bounds, and a guess outside them is
refused with the parameter's own message.

While the loss is evaluated the problem sees the estimate as a tensor in place of its value
(:meth:`InferredParameters.substituted`), so its residual — written once, for the forward
problem — carries the gradient to the parameter. A parameter that does not reach the loss
that way (it only shapes the domain, or the problem turns it into a float) is refused by
:func:`check_differentiable` before training.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import param
import torch

from lab.config import ConfigError, check_value, label

#: prefix of the parameters :func:`attach` adds to the network (checkpoint keys start with it)
PREFIX = "inferred_"


def inferable(problem) -> dict[str, param.Number]:
    """The problem's real-valued parameters (whole numbers such as a mode count are not)."""
    return {n: p for n, p in problem.param.objects("existing").items()
            if isinstance(p, param.Number) and not isinstance(p, param.Integer) and n != "name"}


def check_guesses(problem, guesses: dict) -> None:
    """Refuse an unknown name or a guess outside the parameter's declared bounds."""
    allowed = inferable(problem)
    for name, guess in guesses.items():
        if name not in allowed:
            raise ConfigError("infer", f"Infer: {name!r} is not a real-valued parameter of "
                                       f"{problem.title or problem.key}; those are {', '.join(allowed) or 'none'}.")
        try:
            check_value(allowed[name], guess)
        except ConfigError as err:
            raise ConfigError("infer", f"Infer: the initial guess of {err}") from None


def attach(model: torch.nn.Module, problem, config) -> torch.nn.Module:
    """``model`` with a trainable parameter ``inferred_<name>`` per entry of ``config.infer``
    (the raw value: a logarithm where the estimate stays positive). Call it right after
    building the network, before loading a checkpoint into it, wherever a network of the run
    is built. Parameters, not a submodule: a network that is an ``nn.Sequential`` would call a
    submodule in its forward pass."""
    if config.infer:
        inferred = InferredParameters(problem, config.infer)
        p = next(model.parameters(), None)
        for n in inferred.names:
            guess = config.infer[n]
            raw = torch.tensor(math.log(guess) if inferred.log[n] else float(guess), dtype=torch.float64)
            if p is not None:
                raw = raw.to(device=p.device, dtype=p.dtype)
            model.register_parameter(PREFIX + n, torch.nn.Parameter(raw))
    return model


class InferredParameters:
    """The estimates of some problem parameters, each within its declared bounds; with a
    network given, read from its ``inferred_<name>`` parameters (see :func:`attach`)."""

    def __init__(self, problem, guesses: dict[str, float], model: torch.nn.Module | None = None):
        check_guesses(problem, guesses)
        declared = inferable(problem)
        self.names = tuple(guesses)
        self.labels = {n: label(declared[n]) for n in self.names}
        self.bounds = {n: tuple(declared[n].bounds or (None, None)) for n in self.names}
        self.log = {n: self.bounds[n][0] is not None and self.bounds[n][0] >= 0 for n in self.names}
        for n, guess in guesses.items():
            if self.log[n] and guess <= 0:
                raise ConfigError("infer", f"Infer: the initial guess of {self.labels[n]} must be above 0 "
                                           f"(it is trained as its logarithm), got {guess}.")
        self.raw = {n: getattr(model, PREFIX + n) for n in self.names} if model is not None else {}

    def value(self, name: str) -> torch.Tensor:
        """The estimate of ``name`` as a 0-d tensor in the graph, clamped to its bounds."""
        raw = self.raw[name]
        v = raw.exp() if self.log[name] else raw
        lo, hi = self.bounds[name]
        return v.clamp(min=lo, max=hi)

    def estimates(self) -> dict[str, float]:
        with torch.no_grad():
            return {n: float(self.value(n)) for n in self.names}

    @contextmanager
    def substituted(self, problem):
        """``problem``'s parameters read as the current estimates inside the block.

        ``param`` validates every assignment and would refuse a tensor, so the value is placed
        where ``param`` keeps instance values and put back afterwards.
        """
        values = problem._param__private.values
        kept = {n: values.get(n, problem.param[n].default) for n in self.names}
        try:
            for n in self.names:
                values[n] = self.value(n)
            yield problem
        finally:
            values.update(kept)


def check_differentiable(inferred: InferredParameters, problem, terms: dict[str, torch.Tensor]) -> None:
    """Refuse a parameter whose estimate gets no gradient from the loss ``terms``."""
    total = sum(terms.values())
    params = [inferred.raw[n] for n in inferred.names]
    grads = torch.autograd.grad(total, params, allow_unused=True, retain_graph=False)
    dead = [n for n, g in zip(inferred.names, grads) if g is None or not torch.isfinite(g) or g == 0]
    if dead:
        names = ", ".join(inferred.labels[n] for n in dead)
        raise ConfigError("infer", f"Infer: {names} of {problem.title or problem.key} cannot be recovered: "
                                   "the loss does not depend on it through the PDE residual. "
                                   "Pick a parameter that appears in the equation.")
