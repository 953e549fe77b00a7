"""Lazy, cached partial derivatives of a network's output, for writing PDE residuals.

A residual is written as maths — ``f.d("t") + f() * f.d("x") - nu * f.d("x", "x")`` — and
only the derivatives it asks for are computed, each once. The engine here is reverse-mode
autograd with ``create_graph=True`` so the loss can be differentiated again for training.
"""
from __future__ import annotations

import torch


class Fields:
    """Network output ``u = model(X)`` and its partial derivatives at the points ``X``."""

    def __init__(self, model, X: torch.Tensor, axes: tuple[str, ...]):
        self.X = X if X.requires_grad else X.detach().requires_grad_(True)
        self.axes = tuple(axes)
        self.u = model(self.X)
        if self.u.ndim == 1:
            self.u = self.u[:, None]
        self._cache: dict[tuple, torch.Tensor] = {}

    def coord(self, axis: str) -> torch.Tensor:
        """The coordinate column ``axis`` of ``X`` (for coefficients and forcing terms)."""
        return self.X[:, self.axes.index(axis)]

    def __call__(self, out: int = 0) -> torch.Tensor:
        return self.u[:, out]

    def d(self, *axes: str, out: int = 0) -> torch.Tensor:
        """Mixed partial derivative of output ``out``, e.g. ``d("x", "x")`` = u_xx."""
        if not axes:
            return self(out)
        key = (out,) + axes
        if key not in self._cache:
            lower = self.d(*axes[:-1], out=out)
            grad = torch.autograd.grad(lower.sum(), self.X, create_graph=True)[0]
            # cache every first partial of ``lower`` at once: one backward pass serves them all
            for i, ax in enumerate(self.axes):
                self._cache.setdefault((out,) + axes[:-1] + (ax,), grad[:, i])
        return self._cache[key]
