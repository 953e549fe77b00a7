"""The contracts every catalogue entry fulfils.

:class:`BaseProblem` is what every problem shares: catalogue metadata and a :class:`Domain`
(axes, bounds, periodicity, grid; a ``geometry`` for shapes other than a box). It is a
``param.Parameterized``: its physical parameters are declared once with bounds and docs, which
gives validation with clear messages, widgets in the app and a JSON form for the CLI and run
records. It knows nothing of models or UIs. Two kinds build on it:

* :class:`PointwiseProblem` (also known as :class:`Problem`, the name catalogue modules and
  user code subclass) states the PDE residual, written against lazily computed derivatives
  (:class:`lab.autodiff.Fields`), initial / boundary conditions as loss terms, a collocation
  sampler, and a verified reference solution on any tensor-product grid (cached on disk), or
  none: a problem without one (:meth:`PointwiseProblem.has_reference` false) gives ``None``,
  and training, summaries and views then show what needs no reference (prediction, residual);
* :class:`lab.problems.operators.OperatorProblem` takes a dataset specification instead.
"""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import torch

from lab.autodiff import Fields
from lab.config import Config
from lab.limits import Need
from lab.problems import cache
from lab.problems.domain import Domain
from lab.sampling import sample_box
from lab.solvers import versions


class BaseProblem(Config):
    """What every problem declares: metadata, its domain and its parameters."""

    #: registry key, e.g. ``"burgers"``
    key: ClassVar[str] = ""
    #: ``"1d+t"``, ``"2d"``, ``"2d+t"``, ``"3d"``, ``"3d+t"``, ``"ode"``, ``"operator"`` — selects default views
    kind: ClassVar[str] = "1d+t"
    title: ClassVar[str] = ""
    latex: ClassVar[str] = ""
    description: ClassVar[str] = ""
    source: ClassVar[str] = ""
    #: names of the input coordinates, time last when there is one
    axes: ClassVar[tuple[str, ...]] = ("x", "t")
    #: names of the output fields
    outputs: ClassVar[tuple[str, ...]] = ("u",)
    #: two outputs of a coupled system that views draw side by side (e.g. temperature, vorticity)
    coupled: ClassVar[tuple[str, ...]] = ()
    #: axes on which the solution is periodic (models may embed them exactly)
    periodic: ClassVar[tuple[str, ...]] = ()
    #: default reference / evaluation grid size per axis
    grid_shape: ClassVar[tuple[int, ...]] = (128, 101)

    # ---- domain ---------------------------------------------------------------------------
    def bounds(self) -> dict[str, tuple[float, float]]:
        """Lower and upper bound of each axis, in ``axes`` order."""
        raise NotImplementedError

    def inside(self, grid: dict[str, np.ndarray]) -> np.ndarray | None:
        """Boolean mask of the grid's points in the domain; ``None``: the whole box. A domain
        that is not a box (:mod:`lab.problems.geometric`) has fields and references that are
        NaN outside it, which views leave blank and error norms skip."""
        return None

    def outside_nan(self, values: np.ndarray, grid: dict[str, np.ndarray]) -> np.ndarray:
        """``values`` on ``grid`` (shaped like the reference) with NaN outside the domain."""
        mask = self.inside(grid)
        if mask is None:
            return values
        mask = mask.reshape(mask.shape + (1,) * (values.ndim - mask.ndim))
        return np.where(mask, values, np.nan)

    def region(self):
        """The shape of the domain inside its bounding box :meth:`bounds`: ``None`` for the box
        itself, a :class:`lab.geometry.Geometry` for a problem on a real geometry."""
        return None

    @property
    def domain(self) -> Domain:
        """Axes, bounds (at the current parameter values), periodicity, geometry and grid size."""
        return Domain(tuple(self.axes), self.bounds(), tuple(self.periodic), self.region(),
                      tuple(self.grid_shape))

    @property
    def time_axis(self) -> int | None:
        """Column of the time axis in a point array (``None`` for a steady problem)."""
        return self.axes.index("t") if "t" in self.axes else None

    def grid(self, shape: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
        """Tensor-product evaluation grid (end points included; a periodic axis omits its end)."""
        return self.domain.grid(shape)

    def has_reference(self) -> bool:
        """Whether the problem gives a reference solution on a grid."""
        return False

    def loss_names(self) -> tuple[str, ...]:
        """Names of the loss terms: the keys ``TrainConfig.loss_weights`` takes."""
        raise NotImplementedError

    def memory_needs(self) -> list[Need]:
        """The largest allocations the reference and the evaluation make, estimated without
        making them (:func:`lab.limits.check_needs` refuses one that cannot fit): here the
        reference, prediction and error on the evaluation grid, in float64."""
        n = math.prod(self.grid_shape) * max(len(self.outputs), 1)
        return [Need(3 * 8 * n, "the evaluation grid", self, ())]

    def on_device(self, name: str, build: Callable[[], torch.Tensor], device: torch.device) -> torch.Tensor:
        """``build()`` — a tensor fixed by the parameters, made on the CPU — held on ``device``.

        Built once per device and parameter values (changing a parameter rebuilds it). Why: a
        loss that builds such data, or copies it to the device, on every call pays for it every
        step and cannot be captured as a CUDA graph (:mod:`lab.training.graphs`).
        """
        values = json.dumps(self.config(), sort_keys=True, default=repr)
        held = self.__dict__.setdefault("_on_device", {})
        key = (name, str(torch.device(device)))
        if key not in held or held[key][0] != values:
            held[key] = (values, build().to(device))
        return held[key][1]

    # ---- configuration --------------------------------------------------------------------
    def config(self) -> dict:
        """JSON-able parameter values: the problem's identity (cache key, run records)."""
        return self.to_dict()

    @classmethod
    def info(cls) -> dict:
        return {"key": cls.key, "title": cls.title, "kind": cls.kind, "latex": cls.latex,
                "description": cls.description, "source": cls.source, "axes": cls.axes,
                "outputs": cls.outputs}


class PointwiseProblem(BaseProblem):
    """A PDE (or ODE) solved pointwise: residual, conditions, sampler, optional reference."""

    #: whether :meth:`reference` keeps its results in the disk cache (a user's reference
    #: function may change under the same key and parameters: those are not cached)
    cache_reference: ClassVar[bool] = True

    # ---- physics --------------------------------------------------------------------------
    def residual(self, f: Fields) -> torch.Tensor:
        """PDE residual at ``f.X`` with shape ``(N,)`` or ``(N, k)`` for systems."""
        raise NotImplementedError

    def sample(self, n_pde: int, n_ic: int, n_bc: int, generator: torch.Generator,
               device=None, dtype=torch.float32) -> dict[str, torch.Tensor]:
        """Collocation points: ``{"pde": (n_pde, d), "ic": ..., "bc": ...}`` in ``axes`` order."""
        b = self.bounds()
        pts = {"pde": sample_box(b, n_pde, generator, device=device, dtype=dtype)}
        if self.time_axis is not None and n_ic:
            pts["ic"] = sample_box(b, n_ic, generator, device=device, dtype=dtype,
                                   fix={"t": b["t"][0]})
        if n_bc and self.boundary_axes():
            pts["bc"] = self.sample_boundary(n_bc, generator, device=device, dtype=dtype)
        return pts

    def boundary_axes(self) -> tuple[str, ...]:
        """Spatial axes with a boundary condition that needs sampled points."""
        return tuple(a for a in self.axes if a != "t" and a not in self.periodic)

    def sample_boundary(self, n: int, generator: torch.Generator, device=None,
                        dtype=torch.float32) -> torch.Tensor:
        """Points on the faces of the non-periodic spatial axes, split evenly."""
        b = self.bounds()
        axes = self.boundary_axes()
        chunks = []
        for i, ax in enumerate(axes):
            m = n // len(axes) + (1 if i < n % len(axes) else 0)
            pts = sample_box(b, m, generator, device=device, dtype=dtype)
            side = torch.randint(0, 2, (m,), generator=generator).to(device)
            lo, hi = b[ax]
            pts[:, self.axes.index(ax)] = torch.where(side == 0, lo, hi).to(dtype)
            chunks.append(pts)
        return torch.cat(chunks)

    def initial_condition(self, X: torch.Tensor) -> torch.Tensor:
        """u(x, t0) at the points ``X`` (time column ignored); shape ``(N, n_outputs)``."""
        raise NotImplementedError

    def boundary_value(self, X: torch.Tensor) -> torch.Tensor:
        """Dirichlet data at boundary points; zero by default."""
        return torch.zeros(X.shape[0], len(self.outputs), dtype=X.dtype, device=X.device)

    def losses(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
               engine: str = "auto") -> dict[str, torch.Tensor]:
        """Mean-square loss per term, the residual's derivatives from ``engine`` (see
        :meth:`Fields.for_problem`). Causal training uses :meth:`residual` directly."""
        return {k: r.pow(2).mean() for k, r in self.point_residuals(model, batch, engine).items()}

    def point_residuals(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                        engine: str = "auto") -> dict[str, torch.Tensor]:
        """The residual at every point of each term (``pde``, ``ic``, ``bc`` present in
        ``batch``): what :meth:`losses` averages, and what NTK diagnostics differentiate."""
        out = {}
        if "pde" in batch:
            out["pde"] = self.residual(Fields.for_problem(self, model, batch["pde"], engine))
        if "ic" in batch:
            out["ic"] = model(batch["ic"]) - self.initial_condition(batch["ic"])
        if "bc" in batch:
            out["bc"] = model(batch["bc"]) - self.boundary_value(batch["bc"])
        return out

    def loss_names(self) -> tuple[str, ...]:
        """Names of the terms :meth:`losses` returns: the keys ``TrainConfig.loss_weights`` takes."""
        return ("pde",) + (("ic",) if self.time_axis is not None else ()) \
            + (("bc",) if self.boundary_axes() else ())

    # ---- reference ------------------------------------------------------------------------
    def has_reference(self) -> bool:
        """Whether :meth:`reference` gives a solution: a problem that implements ``_reference``."""
        return type(self)._reference is not PointwiseProblem._reference

    def reference(self, grid: dict[str, np.ndarray] | None = None) -> np.ndarray | None:
        """Verified solution on a tensor-product grid: shape ``[len(g) for g in grid]`` (+ outputs);
        ``None`` for a problem without a reference (:meth:`has_reference`).

        Cached on disk keyed by problem, parameters, grid and :meth:`solver_versions`; see
        :mod:`lab.problems.cache`.
        """
        if not self.has_reference():
            return None
        grid = grid if grid is not None else self.grid()
        missing = [a for a in self.axes if a not in grid]
        if missing:
            raise ValueError(f"grid is missing axes {missing}; {self.key} needs {self.axes}")
        grid = {a: np.asarray(grid[a], dtype=np.float64) for a in self.axes}
        if not self.cache_reference:
            return self.outside_nan(self._reference(grid), grid)
        return self.outside_nan(cache.cached(self.key, self.config(), grid, lambda: self._reference(grid),
                                             self.solver_versions()), grid)

    def solver_versions(self) -> dict[str, str]:
        """``VERSION`` of each solver the reference may come from: those used by the modules
        that define this class and its bases (:func:`lab.solvers.versions`). Found, not
        declared, so a problem cannot forget one; a shared module may count a solver that
        only its neighbour uses, which costs a recomputation, never a stale reference."""
        return versions(*{sys.modules[c.__module__] for c in type(self).__mro__
                          if c.__module__.startswith("lab.problems.")})

    def _reference(self, grid: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


#: the name catalogue modules and user code subclass for a pointwise problem
Problem = PointwiseProblem
