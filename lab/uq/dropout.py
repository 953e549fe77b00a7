"""Monte Carlo dropout (Gal & Ghahramani, ICML 2016): dropout kept on at prediction time.

Dropout is put on the hidden features entering the last ``layers`` weight layers of any
model (an MLP's last linear layers, an FNO's projection), through forward pre-hooks, so no
model family needs a dropout variant. The masks are drawn from an explicit generator. The
model is trained *with* the masks on; the predictive mean and spread are those of
``samples`` stochastic forward passes.
"""
from __future__ import annotations

import torch
from torch import nn


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """Leaf modules with a 2-D ``weight`` parameter (``nn.Linear``, point-wise channel maps), in order."""
    return [m for m in model.modules() if not list(m.children())
            and isinstance(getattr(m, "weight", None), nn.Parameter) and m.weight.ndim == 2]


class MCDropout:
    """Dropout of rate ``rate`` on the inputs of the last ``layers`` weight layers of ``model``."""

    def __init__(self, model: nn.Module, rate: float, *, layers: int = 2, generator: torch.Generator | None = None):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        found = weight_layers(model)
        if not 1 <= layers <= len(found) - 1:
            raise ValueError(f"dropout layers must be in [1, {max(len(found) - 1, 0)}] (the first weight "
                             f"layer sees the inputs, not features): {type(model).__name__} has "
                             f"{len(found)} weight layers, got {layers}")
        self.model, self.rate, self.active = model, float(rate), True
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.handles = [m.register_forward_pre_hook(self._drop) for m in found[-layers:]]

    def _drop(self, module, args):
        if not self.active or self.rate == 0.0:
            return None
        x = args[0]
        keep = torch.rand(x.shape, generator=self.generator, dtype=x.dtype).to(x.device) >= self.rate
        return (x * keep / (1 - self.rate),) + tuple(args[1:])

    @torch.no_grad()
    def predict(self, x: torch.Tensor, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of ``samples`` stochastic passes ``model(x)``."""
        if samples < 2:
            raise ValueError(f"MC dropout samples must be at least 2, got {samples}")
        self.active = True
        out = torch.stack([self.model(x) for _ in range(samples)])
        return out.mean(0), out.std(0)

    def remove(self) -> None:
        """Take the hooks off: ``model`` is deterministic again."""
        for h in self.handles:
            h.remove()
        self.handles = []
