"""NumPy-style right-hand sides evaluated on torch tensors, so they can be differentiated.

Third-party vector fields (the ``dysts`` flows) are written for numpy: ``np.sin(x)``,
``np.dot(W, X)``, ``Xdot = np.zeros_like(X); Xdot[0] = ...``. :func:`on_torch` rebuilds such a
class with its functions reading ``np`` from a namespace of torch functions (:class:`TorchNumpy`),
and :func:`vector_field` evaluates one state ``(d,)`` as the code expects and many with
``torch.func.vmap``: the same values as numpy, with autograd (PINN residuals, Jacobians for
Lyapunov exponents). A numpy name without a counterpart here raises ``AttributeError``
naming it, so a caller can refuse the flow saying why.
"""
from __future__ import annotations

import sys
import types
from collections.abc import Callable

import numpy as np
import torch


class TorchNumpy:
    """The part of the numpy namespace the right-hand sides use, on tensors of one dtype/device."""

    pi, e = np.pi, np.e

    def __init__(self, dtype: torch.dtype, device: torch.device):
        self.dtype, self.device = dtype, device

    def __getattr__(self, name):
        raise AttributeError(f"numpy.{name} has no torch counterpart in the lab's bridge")

    def tensor(self, x) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            return x
        if isinstance(x, (list, tuple)):
            return self.array(x)
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=self.dtype, device=self.device)

    # elementwise
    def _unary(fn):  # noqa: N805 - a decorator factory used in the class body
        return lambda self, x: fn(self.tensor(x))

    abs, absolute, sign = _unary(torch.abs), _unary(torch.abs), _unary(torch.sign)
    sin, cos, tan, arctan = _unary(torch.sin), _unary(torch.cos), _unary(torch.tan), _unary(torch.atan)
    sinh, cosh, tanh = _unary(torch.sinh), _unary(torch.cosh), _unary(torch.tanh)
    exp, log, sqrt = _unary(torch.exp), _unary(torch.log), _unary(torch.sqrt)
    del _unary

    def heaviside(self, x, h0):
        """A step with derivative zero (torch's own ``heaviside`` has none for autograd)."""
        x = self.tensor(x)
        one, h0 = torch.ones_like(x), self.tensor(h0).to(x.dtype)
        return torch.where(x > 0, one, torch.where(x == 0, h0 * one, 0 * one))

    # arrays
    def array(self, items, dtype=None) -> torch.Tensor:
        if isinstance(items, torch.Tensor):
            return items
        if isinstance(items, (list, tuple)) and any(isinstance(v, (torch.Tensor, list, tuple)) for v in items):
            return torch.stack(torch.broadcast_tensors(*(self.tensor(v) for v in items)))
        return self.tensor(items)

    def copy(self, x):
        return self.tensor(x).clone()

    def zeros_like(self, x):
        return torch.zeros_like(self.tensor(x))

    def arange(self, *args):
        return torch.arange(*args, dtype=self.dtype, device=self.device)

    def hstack(self, items):
        return torch.cat([torch.atleast_1d(self.tensor(v)) for v in items])

    def dot(self, a, b):
        a, b = self.tensor(a), self.tensor(b)
        return a * b if a.ndim == 0 or b.ndim == 0 else torch.matmul(a, b)

    def matmul(self, a, b):
        return torch.matmul(self.tensor(a), self.tensor(b))

    def sum(self, x, axis=None):
        x = self.tensor(x)
        return x.sum() if axis is None else x.sum(dim=axis)

    def min(self, x, axis=None):
        x = self.tensor(x)
        return x.amin() if axis is None else x.amin(dim=axis)


def _elementwise(builtin: Callable, torch_fn: Callable) -> Callable:
    """Python's ``max``/``min`` of two values, elementwise where one is a tensor."""
    def pick(*args):
        if len(args) == 2 and any(isinstance(a, torch.Tensor) for a in args):
            a, b = (torch.as_tensor(v) for v in args)
            return torch_fn(a, b.to(a.dtype)) if a.is_floating_point() else torch_fn(a.to(b.dtype), b)
        return builtin(*args)
    return pick


def _rebuilt(fn: Callable, globs: dict) -> Callable:
    while isinstance(fn, staticmethod):  # a static method declared twice
        fn = fn.__func__
    fn = getattr(fn, "py_func", fn)  # numba's compiled functions keep the Python one
    new = types.FunctionType(fn.__code__, globs, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    return new


def on_torch(cls: type, dtype: torch.dtype, device: torch.device) -> type:
    """A subclass of ``cls`` whose methods and static methods defined in its module (its own and
    inherited ones) see ``np`` as :class:`TorchNumpy`, and ``max``/``min`` act elementwise."""
    globs = {**vars(sys.modules[cls.__module__]), "np": TorchNumpy(dtype, device),
             "max": _elementwise(max, torch.maximum), "min": _elementwise(min, torch.minimum)}
    own = [c for c in reversed(cls.__mro__) if c.__module__ == cls.__module__]
    attrs = {}
    for name, attr in ((n, a) for c in own for n, a in vars(c).items()):
        if isinstance(attr, staticmethod):
            attrs[name] = staticmethod(_rebuilt(attr.__func__, globs))
        elif isinstance(attr, types.FunctionType) and not name.startswith("__"):
            attrs[name] = _rebuilt(attr, globs)
    return type(cls.__name__, (cls,), attrs)


def as_vector(out, like: torch.Tensor) -> torch.Tensor:
    """A right-hand side's result (a tensor, or a sequence of tensors and numbers) as ``(d,)``."""
    if isinstance(out, torch.Tensor):
        return out.to(like.dtype).reshape(-1)
    parts = [o if isinstance(o, torch.Tensor) else torch.as_tensor(o, dtype=like.dtype, device=like.device)
             for o in out]
    return torch.stack([p.to(like.dtype).reshape(()) for p in parts])


def vector_field(rhs: Callable[[torch.Tensor, torch.Tensor], object]) -> Callable:
    """``(t, state (..., d)) -> (..., d)`` from ``rhs(X (d,), t)``; ``t`` a number or one per state."""
    def one(x, t):
        return as_vector(rhs(x, t), x)

    def f(t, state: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=state.dtype, device=state.device)
        if state.ndim == 1:
            return one(state, t.reshape(()))
        flat = state.reshape(-1, state.shape[-1])
        times = t.expand(state.shape[:-1]).reshape(-1)
        return torch.func.vmap(one)(flat, times).reshape(state.shape)
    return f
