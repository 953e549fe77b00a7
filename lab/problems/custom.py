"""Your own pointwise PDE in about ten lines: :func:`define_problem` builds and registers a
:class:`CustomProblem` from declarations::

    import math, torch
    from lab.problems.custom import define_problem, Dirichlet

    heat = define_problem(
        "my_heat", title="My heat equation", latex=r"u_t = \\kappa u_{xx}",
        bounds={"x": (0.0, 1.0), "t": (0.0, 0.5)},
        params={"kappa": (0.1, 0.01, 1.0)},                      # default, low, high
        residual=lambda f, p: f.d("t") - p.kappa * f.d("x", "x"),
        initial=lambda x: torch.sin(math.pi * x),
        boundary={"x": Dirichlet(0.0)},
        reference=lambda x, t, p: np.exp(-p.kappa * math.pi**2 * t) * np.sin(math.pi * x))

``get_problem("my_heat", kappa=0.2)`` then gives it, the Trainer trains it, and
``sciml-lab problems`` lists it (when a ``--module`` file or an entry point defines it).

The callables name what they use, and get exactly that: the residual ``f`` (a
:class:`lab.autodiff.Fields`: ``f()`` is u, ``f.d("x", "x")`` is u_xx) and ``p`` (the problem,
its parameters as attributes); initial, boundary and reference functions the coordinates by axis
name (``x``, ``t``, ...: torch columns for conditions, numpy arrays broadcast over the grid for
references), ``p``, and for a reference ``grid`` too (the 1D axes of the evaluation grid).

Boundary conditions per spatial axis, one for both ends or a ``(low, high)`` pair:
:class:`Dirichlet` (u = g), :class:`Neumann` (∂u/∂n = g, n the outward normal), :class:`Robin`
(a u + b ∂u/∂n = g) and :class:`Periodic` (u and u_x equal at both ends; models with an exact
periodic embedding meet it by construction). A problem need not have a reference: training
then reports no relative L2 and the views show prediction and residual. A reference is a
function, or ``(grid, values)`` — an array on a grid the user computed (interpolated onto the
evaluation grid), valid for the parameter values it was made with (:meth:`CustomProblem.set_reference`).
"""
from __future__ import annotations

import inspect
import math
import numbers
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import param
import torch

from lab.autodiff import Fields
from lab.problems import _REGISTRY, register
from lab.problems.base import Problem
from lab.sampling import sample_box

#: the axes a problem may have, by kind (the views draw these)
KINDS = {("x", "t"): "1d+t", ("x", "y"): "2d", ("x", "y", "t"): "2d+t", ("x", "y", "z", "t"): "3d+t"}


# ---- boundary conditions ---------------------------------------------------------------------
Value = float | Callable[..., Any]


@dataclass(frozen=True)
class Dirichlet:
    """``u = value`` on the boundary."""
    value: Value = 0.0


@dataclass(frozen=True)
class Neumann:
    """``∂u/∂n = value`` on the boundary (``n`` the outward normal: ``-u_x`` at the low end)."""
    value: Value = 0.0


@dataclass(frozen=True)
class Robin:
    """``a u + b ∂u/∂n = value`` on the boundary (outward normal derivative)."""
    a: float = 1.0
    b: float = 1.0
    value: Value = 0.0


@dataclass(frozen=True)
class Periodic:
    """The solution repeats along the axis: ``u`` and ``u_x`` agree at both ends."""


CONDITIONS = (Dirichlet, Neumann, Robin, Periodic)


def _names(fn: Callable) -> tuple[str, ...]:
    return tuple(inspect.signature(fn).parameters)


def _check_callable(argument: str, fn, allowed: tuple[str, ...]) -> None:
    if not callable(fn):
        raise ValueError(f"{argument} must be a function of {', '.join(allowed)}, got {fn!r}")
    try:
        names = _names(fn)
    except (TypeError, ValueError):
        raise ValueError(f"{argument}: cannot read the argument names of {fn!r}; "
                         f"use a def or lambda naming some of {', '.join(allowed)}") from None
    bad = [n for n in names if n not in allowed]
    if bad:
        raise ValueError(f"{argument} takes arguments named from {', '.join(allowed)}; "
                         f"{', '.join(map(repr, bad))} is not one of them")


def _call(fn: Callable, available: dict) -> Any:
    return fn(**{n: available[n] for n in _names(fn)})


# ---- the problem class -----------------------------------------------------------------------
class CustomProblem(Problem):
    """A pointwise problem declared by its functions: what :func:`define_problem` builds.

    Subclassing it directly works too, with methods instead of functions::

        @register
        class Cooling(CustomProblem):
            key, title, axes = "cooling", "Rod with a cooled end", ("x", "t")
            domain = {"x": (0.0, 1.0), "t": (0.0, 1.0)}
            boundary = {"x": (Dirichlet(1.0), Robin(a=2.0, b=1.0))}   # low end, high end
            kappa = param.Number(0.1, bounds=(0.01, 1.0), doc="Diffusivity")

            def residual(self, f):
                return f.d("t") - self.kappa * f.d("x", "x")

            def initial_condition(self, X):
                return torch.ones(len(X), 1)

    ``boundary`` is checked and completed when the class is made (one condition for both ends
    becomes a pair; ``Periodic`` axes join ``periodic``); ``_reference(grid)`` may give a reference.
    """

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if isinstance(cls.__dict__.get("domain"), dict):  # the box, declared as axis -> bounds
            cls.box = {a: tuple(b) for a, b in cls.__dict__["domain"].items()}
            delattr(cls, "domain")  # ``domain`` is then the problem's Domain, as for any problem
        if "boundary" in cls.__dict__:
            cls.boundary, periodic = _conditions(cls.boundary, cls.axes)
            cls.periodic = tuple(dict.fromkeys(cls.periodic + periodic))

    #: axis -> (low, high): what a subclass declares as ``domain = {...}``
    box: ClassVar[dict[str, tuple[float, float]]] = {}
    pde: ClassVar[Callable | None] = None
    initial: ClassVar[Callable | float | None] = None
    #: axis -> (condition at the low end, condition at the high end)
    boundary: ClassVar[dict[str, tuple]] = {}
    reference_function: ClassVar[Callable | None] = None
    #: ``(config, grid, values)``: a reference array for the parameter values ``config``
    reference_data: ClassVar[tuple | None] = None
    #: the module that defined the problem (``"__main__"``: a notebook or script, which a
    #: training process cannot import again)
    defined_in: ClassVar[str] = ""
    cache_reference = False  # the user's function or array is the reference, as it is now

    # -- domain and conditions --
    def bounds(self):
        return {a: tuple(self.box[a]) for a in self.axes}

    def _coords(self, X: torch.Tensor) -> dict:
        return {"p": self, **{a: X[:, i:i + 1] for i, a in enumerate(self.axes)}}

    def _as_outputs(self, value, X: torch.Tensor) -> torch.Tensor:
        out = torch.as_tensor(value, dtype=X.dtype, device=X.device)
        out = out.reshape(1, 1) if out.ndim == 0 else out.reshape(X.shape[0], -1)
        return out.expand(X.shape[0], len(self.outputs))

    def _value(self, v, X: torch.Tensor) -> torch.Tensor:
        return self._as_outputs(_call(v, self._coords(X)) if callable(v) else v, X)

    def has_reference(self) -> bool:
        if type(self)._reference is not CustomProblem._reference:  # a subclass's own
            return True
        data = self.__dict__.get("_reference_data", type(self).reference_data)
        return type(self).reference_function is not None or (
            data is not None and data[0] == self.config())

    def residual(self, f):
        return _call(type(self).pde, {"f": f, "p": self,
                                      **{a: f.coord(a) for a in self.axes}})

    def initial_condition(self, X):
        return self._value(type(self).initial, X)

    def boundary_axes(self):
        return tuple(a for a in self.boundary if a not in self.periodic)

    def loss_names(self):
        return super().loss_names() + (("periodic",) if self.periodic else ())

    def sample(self, n_pde, n_ic, n_bc, generator, device=None, dtype=torch.float32):
        pts = super().sample(n_pde, n_ic, n_bc, generator, device=device, dtype=dtype)
        if self.periodic and n_bc:  # points on the low faces; their partners are on the high ones
            chunks = []
            for i, ax in enumerate(self.periodic):
                m = n_bc // len(self.periodic) + (1 if i < n_bc % len(self.periodic) else 0)
                if m:
                        chunks.append(sample_box(self.bounds(), m, generator, device=device, dtype=dtype,
                                             fix={ax: self.bounds()[ax][0]}))
            pts["periodic"] = torch.cat(chunks)
        return pts

    def point_residuals(self, model, batch, engine="auto"):
        out = super().point_residuals(model, {k: v for k, v in batch.items() if k != "periodic"}, engine)
        if "bc" in batch:
            out["bc"] = self._boundary_residual(model, batch["bc"])
        if "periodic" in batch:
            out["periodic"] = self._periodic_residual(model, batch["periodic"])
        return out

    def _boundary_residual(self, model, X: torch.Tensor) -> torch.Tensor:
        needs_d = any(not isinstance(c, Dirichlet) for pair in self.boundary.values() for c in pair)
        f = Fields(model, X, self.axes) if needs_d else None
        u = f.u if f is not None else model(X).reshape(X.shape[0], -1)
        r = torch.zeros_like(u)
        done = torch.zeros(X.shape[0], dtype=torch.bool, device=X.device)
        for ax in self.boundary_axes():
            i = self.axes.index(ax)
            for side, (end, cond) in enumerate(zip(self.bounds()[ax], self.boundary[ax])):
                on = (X[:, i] == end) & ~done
                if not bool(on.any()):
                    continue
                done |= on
                g = self._value(cond.value, X)
                if isinstance(cond, Dirichlet):
                    ri = u - g
                else:
                    sign = 1.0 if side else -1.0  # the outward normal
                    dn = torch.stack([f.d(ax, out=k) for k in range(u.shape[1])], 1) * sign
                    ri = dn - g if isinstance(cond, Neumann) else cond.a * u + cond.b * dn - g
                r = torch.where(on[:, None], ri, r)
        return r

    def _periodic_residual(self, model, X: torch.Tensor) -> torch.Tensor:
        """``u`` and its normal derivative at each low-face point minus at its high partner."""
        parts = []
        for ax in self.periodic:
            i = self.axes.index(ax)
            lo, hi = self.bounds()[ax]
            X0 = X[X[:, i] == lo]
            X1 = X0.clone()
            X1[:, i] = hi
            f0, f1 = Fields(model, X0, self.axes), Fields(model, X1, self.axes)
            k = range(f0.u.shape[1])
            parts.append(torch.cat([f0.u - f1.u, torch.stack([f0.d(ax, out=j) - f1.d(ax, out=j)
                                                              for j in k], 1)], 1))
        return torch.cat(parts)

    # -- reference --
    def set_reference(self, values, grid: dict[str, np.ndarray] | None = None) -> None:
        """Use ``values`` (an array on ``grid``, by default the evaluation grid) as the
        reference for the current parameter values; changing a parameter drops it."""
        grid = self.grid() if grid is None else grid
        self.__dict__["_reference_data"] = _check_reference_array(self, grid, values, "values")

    def _reference(self, grid):
        shape = tuple(len(grid[a]) for a in self.axes) + ((len(self.outputs),) if len(self.outputs) > 1 else ())
        mesh = np.meshgrid(*grid.values(), indexing="ij")
        fn = type(self).reference_function
        if fn is not None:
            values = _call(fn, {"p": self, "grid": grid, **dict(zip(self.axes, mesh))})
            return np.broadcast_to(np.asarray(values, dtype=np.float64), shape).copy()
        from scipy.interpolate import RegularGridInterpolator

        _, known, values = self.__dict__.get("_reference_data", type(self).reference_data)
        if all(np.array_equal(known[a], grid[a]) for a in self.axes):
            return values.copy()
        interp = RegularGridInterpolator([known[a] for a in self.axes], values)
        try:
            return interp(np.stack([m.ravel() for m in mesh], 1)).reshape(shape)
        except ValueError as err:
            raise ValueError(f"the reference of {self.key} was given on a smaller grid than "
                             f"the one asked for: {err}") from None


def _check_reference_array(problem, grid, values, argument: str) -> tuple:
    grid = {a: np.asarray(grid[a], dtype=np.float64) for a in problem.axes if a in grid}
    missing = [a for a in problem.axes if a not in grid]
    if missing:
        raise ValueError(f"{argument}: the grid needs the axes {list(problem.axes)}; "
                         f"{missing} missing")
    values = np.asarray(values, dtype=np.float64)
    shape = tuple(len(grid[a]) for a in problem.axes) + ((len(problem.outputs),) if len(problem.outputs) > 1 else ())
    if values.shape != shape:
        raise ValueError(f"{argument} must have shape {shape} (one value per grid point), got {values.shape}")
    return problem.config(), grid, values


# ---- the ten-line path -----------------------------------------------------------------------
def _parameter(name: str, spec) -> param.Parameter:
    if isinstance(spec, param.Parameter):
        return spec
    if not (isinstance(spec, tuple) and len(spec) in (3, 4)
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in spec[:3])):
        raise ValueError(f"params[{name!r}] must be (default, low, high) or (default, low, high, doc) "
                         f"with numbers, or a param.Parameter; got {spec!r}")
    default, lo, hi = spec[:3]
    if not lo <= default <= hi:
        raise ValueError(f"params[{name!r}]: the default {default} must lie in [{lo}, {hi}]")
    doc = spec[3] if len(spec) == 4 else name
    kind = param.Integer if all(isinstance(v, numbers.Integral) for v in spec[:3]) else param.Number
    return kind(default, bounds=(lo, hi), doc=doc, label=name)


def _conditions(boundary: dict, axes: tuple[str, ...]) -> tuple[dict, tuple[str, ...]]:
    spatial = [a for a in axes if a != "t"]
    if not isinstance(boundary, dict):
        raise ValueError(f"boundary must be a mapping from spatial axes {spatial} to conditions, got {boundary!r}")
    out, periodic = {}, []
    for ax, cond in boundary.items():
        if ax not in spatial:
            raise ValueError(f"boundary: {ax!r} is not a spatial axis; choose from {spatial}")
        pair = tuple(cond) if isinstance(cond, (tuple, list)) else (cond, cond)
        names = ", ".join(c.__name__ for c in CONDITIONS)
        if len(pair) != 2 or not all(isinstance(c, CONDITIONS) for c in pair):
            raise ValueError(f"boundary[{ax!r}] must be one of {names}, or a (low end, high end) "
                             f"pair of them; got {cond!r}")
        if any(isinstance(c, Periodic) for c in pair):
            if not all(isinstance(c, Periodic) for c in pair):
                raise ValueError(f"boundary[{ax!r}]: Periodic holds at both ends or neither")
            periodic.append(ax)
        for c in pair:
            if not isinstance(c, Periodic) and callable(c.value):
                _check_callable(f"boundary[{ax!r}] value", c.value, (*axes, "p"))
        out[ax] = pair
    return out, tuple(a for a in axes if a in periodic)


def define_problem(key: str, *, residual: Callable, bounds: dict[str, tuple[float, float]],
                   initial: Callable | float | None = None, boundary: dict | None = None,
                   params: dict | None = None, reference=None, outputs: tuple[str, ...] = ("u",),
                   title: str = "", latex: str = "", description: str = "", source: str = "",
                   grid_shape: tuple[int, ...] | None = None) -> type[CustomProblem]:
    """Build a :class:`CustomProblem` subclass from declarations and register it under ``key``.

    ``bounds``: axis -> (low, high), the axes one of ``(x, t)``, ``(x, y)``, ``(x, y, t)``,
    ``(x, y, z, t)``. ``residual(f, p, <axes>)``: the PDE residual (zero where the PDE holds).
    ``initial(<axes>, p)``: u at the first time (needed when there is a ``t`` axis; a number
    for a constant). ``boundary``: spatial axis -> condition or ``(low, high)`` pair (axes left
    out get no condition). ``params``: name -> ``(default, low, high[, doc])`` or a
    ``param.Parameter``. ``reference``: ``None``, a function of the axes (numpy, broadcast over
    the grid), ``p`` and ``grid``, or ``(grid, values)`` for the default parameter values.
    Defining the same key again (a notebook cell run twice) replaces the earlier definition;
    a catalogue key is refused. Returns the class; ``cls()`` or ``get_problem(key)`` gives a problem.
    """
    if not isinstance(key, str) or not key.isidentifier():
        raise ValueError(f"key must be a name of letters, digits and underscores, got {key!r}")
    old = _REGISTRY.get(key)
    if old is not None and not issubclass(old, CustomProblem):
        raise ValueError(f"key {key!r} is a catalogue problem; choose another key")
    if not isinstance(bounds, dict) or tuple(bounds) not in KINDS:
        raise ValueError(f"bounds must map the axes of one of {[list(a) for a in KINDS]} (in that "
                         f"order) to (low, high); got {bounds!r}")
    for ax, b in bounds.items():
        if not (isinstance(b, (tuple, list)) and len(b) == 2 and all(isinstance(v, numbers.Real) for v in b)
                and math.isfinite(b[0]) and math.isfinite(b[1]) and b[0] < b[1]):
            raise ValueError(f"bounds[{ax!r}] must be (low, high) with finite low < high, got {b!r}")
    axes = tuple(bounds)
    if not (isinstance(outputs, tuple) and outputs and all(isinstance(o, str) for o in outputs)):
        raise ValueError(f"outputs must be a non-empty tuple of names such as ('u',), got {outputs!r}")
    _check_callable("residual", residual, ("f", "p", *axes))
    timed = "t" in axes
    if timed and initial is None:
        raise ValueError(f"initial is needed: the axes {list(axes)} include time t")
    if not timed and initial is not None:
        raise ValueError("initial is for problems with a time axis t; leave it out here")
    if callable(initial):
        _check_callable("initial", initial, (*axes, "p"))
    elif initial is not None and not isinstance(initial, numbers.Real):
        raise ValueError(f"initial must be a function of {list(axes)} and p, or a number, got {initial!r}")
    conditions, periodic = _conditions(boundary or {}, axes)
    params = params or {}
    if not isinstance(params, dict):
        raise ValueError(f"params must be a mapping name -> (default, low, high), got {params!r}")
    clash = [n for n in params if not n.isidentifier() or n in Problem.param or hasattr(CustomProblem, n)]
    if clash:
        raise ValueError(f"params: {clash[0]!r} cannot be a parameter name (it is taken or not a name)")
    attrs = {n: _parameter(n, s) for n, s in params.items()}
    fn, data = None, None
    if callable(reference):
        _check_callable("reference", reference, (*axes, "p", "grid"))
        fn = reference
    elif reference is not None and not (isinstance(reference, tuple) and len(reference) == 2):
        raise ValueError("reference must be None, a function of the axes, p and grid, or "
                         f"(grid, values); got {type(reference).__name__}")
    attrs.update(key=key, kind=KINDS[axes], axes=axes, outputs=outputs, periodic=periodic,
                 title=title or key, latex=latex, description=description, source=source,
                 grid_shape=tuple(grid_shape) if grid_shape else (128, 101) if timed else (101,) * len(axes),
                 box={a: (float(lo), float(hi)) for a, (lo, hi) in bounds.items()},
                 pde=staticmethod(residual), initial=staticmethod(initial) if callable(initial) else initial,
                 boundary=conditions, reference_function=staticmethod(fn) if fn else None,
                 __module__=__name__, __doc__=description or title or key)
    attrs["defined_in"] = sys._getframe(1).f_globals.get("__name__", "")  # the caller's module
    cls = type(f"Custom_{key}", (CustomProblem,), attrs)
    globals()[cls.__name__] = cls  # pickled by reference: a worker that defines it again finds it
    if reference is not None and fn is None:
        cls.reference_data = _check_reference_array(cls(), reference[0], reference[1], "reference")
    _REGISTRY.pop(key, None)
    return register(cls)


__all__ = ["CustomProblem", "Dirichlet", "Neumann", "Periodic", "Robin", "define_problem"]
