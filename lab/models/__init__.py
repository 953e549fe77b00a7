"""Model catalogue: each model family declares a ``ModelConfig`` that builds its network.

A config is the model's identity: checkpoints store ``kind`` + ``to_dict()`` so a saved run
rebuilds the exact network. Initial weights are drawn from the ``generator`` given to
:meth:`ModelConfig.build` (the Trainer passes one seeded by the run's seed), never from torch's
global generator, so runs built at once in several threads each get the weights of their seed. ``family`` tells the Trainer which task drives it
(``"pinn"``: pointwise networks trained on a residual; ``"operator"``: function-to-function
maps trained on datasets; ``"ode"``: vector-field models trained on trajectories).
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import ClassVar

import torch

from lab.config import Config


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


def list_models(family: str | None = None) -> dict[str, type[ModelConfig]]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return {k: v for k, v in _REGISTRY.items() if family is None or v.family == family}


def get_model_config(kind: str, **params) -> ModelConfig:
    models = list_models()
    if kind not in models:
        raise ValueError(f"unknown model {kind!r}; choose one of {sorted(models)}")
    return models[kind](**params)


__all__ = ["ModelConfig", "get_model_config", "list_models", "register_model"]
