"""A run's specification, typed: the problem, the model and the training that ``config.json`` names.

``config.json`` in a run folder is ``{"problem": {"key", "params"}, "model": {"kind",
"params"}, "train": {...}}`` (plus bookkeeping: when it was created, the study it belongs
to). :class:`RunSpec` is that dict checked field by field — a wrong one is refused with a
:class:`SpecError` naming it (``train.lr``, ``problem.params.nu``, ``model.kind``) — and
:meth:`RunSpec.build` turns it into the problem, model config and training config that the
Trainer takes. Every reader of a saved run's config goes through it (the Trainer's resume,
:mod:`lab.session`, the studies), so the dict is walked in one place.

It lives in the training layer because :meth:`lab.training.Trainer.resume` needs it and
training may not import the layer above; users import it from :mod:`lab.session`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from lab.config import ConfigError
from lab.training.config import TrainConfig
from lab.training.runs import RunRecord, find_run

#: the parts of ``config.json`` the spec holds
PARTS = ("problem", "model", "train")
#: bookkeeping a run folder's ``config.json`` may hold besides them (not part of the spec)
BOOKKEEPING = ("created", "study")


class SpecError(ValueError):
    """A refused field of a run spec; ``field`` is its dotted path (``train.lr``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _checked(field: str, build):
    """``build()``, with a refusal reworded to name ``field`` (and the setting inside it)."""
    try:
        return build()
    except SpecError:
        raise
    except ConfigError as err:
        raise SpecError(f"{field}.{err.parameter}" if err.parameter else field, str(err)) from None
    except (ValueError, TypeError) as err:
        raise SpecError(field, str(err)) from None


@dataclass(frozen=True, eq=False)
class RunSpec:
    """What a run trains: ``problem`` (a catalogue key) with ``problem_params``, ``model`` (a
    model kind) with ``model_params``, and ``train``. Checked when made; :meth:`build` returns
    fresh objects every time, so what one caller changes (a resumed run's steps) stays its own."""

    problem: str
    problem_params: dict
    model: str
    model_params: dict
    train: TrainConfig

    def __post_init__(self):
        for field, value, what in (("problem.key", self.problem, "a problem key"),
                                   ("model.kind", self.model, "a model kind")):
            if not isinstance(value, str) or not value:
                raise SpecError(field, f"must be {what} (a non-empty string), not {value!r}")
        for field, value in (("problem.params", self.problem_params), ("model.params", self.model_params)):
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise SpecError(field, f"must be an object of named values, not {value!r}")
        if not isinstance(self.train, TrainConfig):
            raise SpecError("train", f"must be a TrainConfig, not {type(self.train).__name__}")
        # private copies: the caller's dicts may change later, the spec may not
        object.__setattr__(self, "problem_params", copy.deepcopy(self.problem_params))
        object.__setattr__(self, "model_params", copy.deepcopy(self.model_params))
        object.__setattr__(self, "train", TrainConfig.from_dict(self.train.to_dict()))
        self.build()  # unknown keys and out-of-range parameters are refused here, by name

    # ---- to and from config.json ----------------------------------------------------------
    @classmethod
    def from_dict(cls, config: dict) -> "RunSpec":
        """The spec of a ``config.json`` dict; its bookkeeping keys are ignored."""
        if not isinstance(config, dict):
            raise SpecError("spec", f"must be an object with {', '.join(PARTS)}, not {config!r}")
        unknown = sorted(set(config) - set(PARTS) - set(BOOKKEEPING))
        if unknown:
            raise SpecError(unknown[0], f"unknown part of a run spec; the parts are {', '.join(PARTS)}")
        for part in PARTS:
            if not isinstance(config.get(part), dict):
                raise SpecError(part, f"must be an object, not {config.get(part)!r}")
        problem, model = config["problem"], config["model"]
        return cls(problem.get("key"), problem.get("params", {}), model.get("kind"),
                   model.get("params", {}), _checked("train", lambda: TrainConfig.from_dict(config["train"])))

    @classmethod
    def from_run(cls, run: RunRecord | str | Path, runs_dir=None) -> "RunSpec":
        """The spec of a saved run (a record, or a name or path as :func:`find_run` takes)."""
        record = run if isinstance(run, RunRecord) else find_run(str(run), runs_dir)
        return cls.from_dict(record.config())

    def to_dict(self) -> dict:
        """The ``config.json`` form (without bookkeeping): ``from_dict(spec.to_dict()) == spec``."""
        return {"problem": {"key": self.problem, "params": copy.deepcopy(self.problem_params)},
                "model": {"kind": self.model, "params": copy.deepcopy(self.model_params)},
                "train": self.train.to_dict()}

    def __eq__(self, other) -> bool:
        return isinstance(other, RunSpec) and self.to_dict() == other.to_dict()

    __hash__ = None

    # ---- the objects the Trainer takes ----------------------------------------------------
    def build(self) -> tuple:
        """``(problem, model_config, train_config)``, made afresh."""
        from lab.models import get_model_config
        from lab.problems import get_problem

        problem = _checked("problem.params", lambda: _named("problem.key", "problem", get_problem, self.problem,
                                                            self.problem_params))
        model = _checked("model.params", lambda: _named("model.kind", "model", get_model_config, self.model,
                                                        self.model_params))
        return problem, model, TrainConfig.from_dict(self.train.to_dict())


def _named(field: str, what: str, make, name: str, params: dict):
    """``make(name, **params)``; an unknown ``name`` is refused as ``field``, not as a parameter."""
    try:
        return make(name, **params)
    except ConfigError:
        raise
    except ValueError as err:
        if str(err).startswith(f"unknown {what} {name!r}"):  # get_problem / get_model_config's refusal
            raise SpecError(field, str(err)) from None
        raise
