"""A search space over declared parameters, checked against the declarations.

Keys are those of the CLI's ``--set``: ``problem.<p>``, ``model.<p>`` or a training parameter.
A dimension is written as one of

* a list of values — ``[16, 32, 64]`` (a grid axis; a categorical choice for samplers);
* a range — ``{"low": 1e-4, "high": 1e-2, "log": true}``, optionally ``"num": 4`` to give
  a grid axis of 4 points (log- or linearly spaced);
* ``"bounds"`` or ``{}`` — the declared bounds of a number (``{"log": true, "num": 3}`` too),
  every choice of a selector, both values of a switch.

Every value is validated by building the config it belongs to, so a search space accepts
exactly what ``--set`` accepts and refuses anything outside the declared bounds with the
declaration's own message.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import param

from lab.config import describe_bounds

_RANGE_KEYS = {"low", "high", "log", "num"}


@dataclass(frozen=True)
class Dimension:
    """One axis: either ``values`` (a finite list) or a ``low``/``high`` range."""
    key: str
    values: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    def grid(self) -> tuple:
        if self.values is None:
            raise ValueError(f"search space {self.key}: a grid needs a list of values or a "
                             "range with 'num' points, got a continuous range")
        return self.values

    def suggest(self, trial) -> Any:
        """The value an Optuna trial draws for this axis."""
        if self.values is not None:
            return trial.suggest_categorical(self.key, list(self.values))
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)


def split_key(key: str) -> tuple[str, str]:
    """``problem.nu`` -> ("problem", "nu"), ``model.width`` -> ("model", "width"),
    ``steps`` -> ("train", "steps")."""
    for part in ("problem", "model"):
        if key.startswith(part + "."):
            return part, key[len(part) + 1:]
    return "train", key


def _declared(classes: dict, key: str) -> param.Parameter:
    part, name = split_key(key)
    cls = classes[part]
    names = sorted(n for n in cls.param if n != "name")
    if name not in names:
        prefix = "" if part == "train" else part + "."
        raise ValueError(f"search space: unknown parameter {key!r}; {part} parameters are "
                         f"{[prefix + n for n in names]}")
    return cls.param[name]


def _range_from(key: str, p: param.Parameter, spec: dict) -> Dimension:
    extra = set(spec) - _RANGE_KEYS
    if extra:
        raise ValueError(f"search space {key}: unknown range key(s) {sorted(extra)}; "
                         f"allowed: {sorted(_RANGE_KEYS)}")
    if isinstance(p, param.Selector):
        return Dimension(key, values=tuple(p.objects))
    if isinstance(p, param.Boolean):
        return Dimension(key, values=(False, True))
    if not isinstance(p, param.Number):
        raise ValueError(f"search space {key}: a range needs a number parameter; give a list of values")
    lo, hi = p.bounds or (None, None)
    low, high = spec.get("low", lo), spec.get("high", hi)
    if low is None or high is None:
        raise ValueError(f"search space {key}: the parameter declares no bound on that side "
                         f"({describe_bounds(p) or 'unbounded'}); give 'low' and 'high'")
    if not low < high:
        raise ValueError(f"search space {key}: low must be below high, got low={low}, high={high}")
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise ValueError(f"search space {key}: a log range needs low > 0, got low={low}")
    integer = isinstance(p, param.Integer)
    num = spec.get("num")
    if num is None:
        return Dimension(key, low=low, high=high, log=log, integer=integer)
    if isinstance(num, bool) or not isinstance(num, int) or num < 2:
        raise ValueError(f"search space {key}: 'num' (grid points) must be an integer >= 2, got {num!r}")
    if log:
        pts = [math.exp(math.log(low) + i * (math.log(high) - math.log(low)) / (num - 1)) for i in range(num)]
    else:
        pts = [low + i * (high - low) / (num - 1) for i in range(num)]
    pts[0], pts[-1] = low, high  # exactly the bounds, not a rounding past them
    values = tuple(dict.fromkeys(round(v) for v in pts)) if integer else tuple(pts)
    return Dimension(key, values=values)


def parse_space(space: dict, problem: str, model: str) -> list[Dimension]:
    """Dimensions of ``space`` over ``problem`` and ``model``, every value checked against
    the declared parameters; ``ValueError`` names the first bad key."""
    from lab.models import list_models
    from lab.problems import list_problems
    from lab.training.config import TrainConfig

    problems, models = list_problems(), list_models()
    if problem not in problems:
        raise ValueError(f"unknown problem {problem!r}; choose one of {sorted(problems)}")
    if model not in models:
        raise ValueError(f"unknown model {model!r}; choose one of {sorted(models)}")
    if not isinstance(space, dict) or not space:
        raise ValueError("the search space is empty: give at least one parameter to vary, "
                         "e.g. model.width=[16,32] or lr={\"low\":1e-4,\"high\":1e-2,\"log\":true}")
    classes = {"problem": problems[problem], "model": models[model], "train": TrainConfig}
    dims = []
    for key, spec in space.items():
        if key == "seed":
            raise ValueError("search space: 'seed' is not searched; give the number of seeds per point instead")
        p = _declared(classes, key)
        if spec == "bounds":
            spec = {}
        if isinstance(spec, dict):
            dim = _range_from(key, p, spec)
        elif isinstance(spec, list):
            if not spec:
                raise ValueError(f"search space {key}: the list of values is empty")
            dim = Dimension(key, values=tuple(spec))
        else:
            raise ValueError(f"search space {key}: expected a list of values, a range "
                             f"{{'low', 'high', 'log', 'num'}} or 'bounds', got {spec!r}")
        for value in (dim.values if dim.values is not None else (dim.low, dim.high)):
            check_value(classes, problem, model, key, value)
        dims.append(dim)
    return dims


def check_value(classes: dict, problem: str, model: str, key: str, value) -> None:
    """Build the config ``key`` belongs to with ``value``: its declaration decides."""
    from lab.models import get_model_config
    from lab.problems import get_problem

    part, name = split_key(key)
    build = {"problem": lambda **kw: get_problem(problem, **kw),
             "model": lambda **kw: get_model_config(model, **kw),
             "train": classes["train"]}[part]
    try:
        build(**{name: value})
    except (ValueError, TypeError) as err:
        declared = describe_bounds(classes[part].param[name])
        raise ValueError(f"search space {key}: value {value!r} is not allowed "
                         f"(declared {declared or 'type'}): {err}") from None
