"""Model catalogue: each model family declares a ``ModelConfig`` that builds its network.

A config is the model's identity: checkpoints store ``kind`` + ``to_dict()`` so a saved run
rebuilds the exact network. Initial weights are drawn from the ``generator`` given to
:meth:`ModelConfig.build` (the Trainer passes one seeded by the run's seed), never from torch's
global generator, so runs built at once in several threads each get the weights of their seed. ``family`` tells the Trainer which task drives it
(``"pinn"``: pointwise networks trained on a residual; ``"operator"``: function-to-function
maps trained on datasets; ``"ode"``: vector-field models trained on trajectories).

Your own model family: subclass :class:`ModelConfig`, declare its settings as ``param``
parameters, return any ``nn.Module`` mapping points ``(N, len(problem.axes))`` to
``(N, len(problem.outputs))`` from :meth:`ModelConfig.build`, and decorate it with
:func:`register_model`::

    @register_model
    class SineNet(ModelConfig):
        kind, title = "sine_net", "Sine network"
        width = param.Integer(32, bounds=(2, 512), doc="Neurons per layer")

        def build(self, problem, generator=None):
            d, k = len(problem.axes), len(problem.outputs)
            layers = [nn.Linear(d, self.width), Sine(), nn.Linear(self.width, k)]
            ...

Other packages register models through the entry-point group ``sciml_lab.models`` (a module
that registers them, or a ``ModelConfig`` class), loaded on the first :func:`list_models`.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import ClassVar

import torch

from lab.config import Config
from lab.entry_points import load_entry_points

#: the entry-point group other packages register model families under
ENTRY_POINTS = "sciml_lab.models"


class ModelConfig(Config):
    """Base of every model config; subclasses declare parameters and :meth:`build`."""

    kind: ClassVar[str] = ""
    family: ClassVar[str] = "pinn"
    title: ClassVar[str] = ""

    def build(self, problem, generator: torch.Generator | None = None) -> torch.nn.Module:
        """The network for ``problem`` (input/output sizes, domain bounds, periodic axes), its
        random initial values drawn from ``generator`` (``None``: torch's global generator)."""
        raise NotImplementedError


_REGISTRY: dict[str, type[ModelConfig]] = {}


def register_model(cls: type[ModelConfig]) -> type[ModelConfig]:
    if not cls.kind:
        raise ValueError(f"{cls.__name__} needs a non-empty 'kind'")
    _REGISTRY[cls.kind] = cls
    return cls


def _register_loaded(obj) -> None:
    """An entry point's object: a module (it registered its models) or a ModelConfig class."""
    if isinstance(obj, type) and issubclass(obj, ModelConfig) and _REGISTRY.get(obj.kind) is not obj:
        register_model(obj)


def list_models(family: str | None = None) -> dict[str, type[ModelConfig]]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    load_entry_points(ENTRY_POINTS, _register_loaded)
    return {k: v for k, v in _REGISTRY.items() if family is None or v.family == family}


def get_model_config(kind: str, **params) -> ModelConfig:
    models = list_models()
    if kind not in models:
        raise ValueError(f"unknown model {kind!r}; choose one of {sorted(models)}")
    return models[kind](**params)


__all__ = ["ModelConfig", "get_model_config", "list_models", "register_model"]
