"""Problems on domains that are not boxes: the domain is a :class:`lab.geometry.Geometry`.

A :class:`GeometryProblem` samples its collocation points from the geometry (interior by
rejection, boundary by arc length) and states one condition per named boundary part, with
the condition classes of :mod:`lab.problems.custom` (:class:`Dirichlet`, :class:`Neumann`,
:class:`Robin`; a value is a number or a function of the coordinates by name and ``p``). The
normal derivative uses the outward normal of the boundary piece nearest each point
(:func:`lab.geometry.classify`). Fields and references are NaN outside the domain
(:meth:`Problem.inside`); all-Dirichlet problems take hard constraints through the geometry's
smooth distance ``phi`` (:mod:`lab.models.hard`). A reference computed on a finite-element mesh
is also given at the mesh's nodes (:meth:`GeometryProblem.reference_nodes`): training measures
its error there, and views draw it on the triangles rather than on a grid.
"""
from __future__ import annotations

import json

import numpy as np
import torch

from lab.autodiff import Fields
from lab.geometry import Geometry, classify, inside_grid, sample_boundary, sample_interior
from lab.problems import cache
from lab.problems.base import Problem
from lab.problems.custom import Dirichlet, Neumann, Robin, _call


class GeometryProblem(Problem):
    """Base class: subclasses implement :meth:`geometry` and :meth:`conditions`."""

    kind = "2d"
    axes = ("x", "y")
    grid_shape = (101, 101)

    def geometry(self) -> Geometry:
        raise NotImplementedError

    def region(self) -> Geometry:
        """:meth:`geometry`, built once per parameter values (a composite checks itself when
        built, which a training step should not repeat)."""
        values = json.dumps(self.config(), sort_keys=True, default=repr)
        held = self.__dict__.get("_region")
        if held is None or held[0] != values:
            held = self.__dict__["_region"] = (values, self.geometry())
        return held[1]

    def conditions(self) -> dict[str, Dirichlet | Neumann | Robin]:
        """Boundary part -> condition; every part of the geometry needs one."""
        raise NotImplementedError

    def _checked_conditions(self) -> dict:
        conds, parts = self.conditions(), self.region().parts
        missing = [p for p in parts if p not in conds]
        if missing:
            raise ValueError(f"{self.key}: boundary parts {missing} have no condition; parts: {list(parts)}")
        bad = [p for p, c in conds.items() if not isinstance(c, (Dirichlet, Neumann, Robin))]
        if bad:
            raise ValueError(f"{self.key}: the condition of {bad} must be Dirichlet, Neumann or Robin")
        return conds

    def bounds(self):
        lo, hi = self.region().bbox()
        return {a: (float(l), float(h)) for a, l, h in zip(self.axes, lo, hi)}

    def inside(self, grid):
        return inside_grid(self.region(), grid)

    def sample(self, n_pde, n_ic, n_bc, generator, device=None, dtype=torch.float32):
        pts = {"pde": sample_interior(self.region(), n_pde, generator, device=device, dtype=dtype)}
        if n_bc:
            pts["bc"] = self.sample_boundary(n_bc, generator, device=device, dtype=dtype)
        return pts

    def sample_boundary(self, n, generator, device=None, dtype=torch.float32):
        return sample_boundary(self.region(), n, generator, device=device, dtype=dtype).points

    def _value(self, v, X: torch.Tensor) -> torch.Tensor:
        coords = {"p": self, **{a: X[:, i:i + 1] for i, a in enumerate(self.axes)}}
        out = torch.as_tensor(_call(v, coords) if callable(v) else v, dtype=X.dtype, device=X.device)
        return out.reshape(-1, 1).expand(X.shape[0], 1) if out.numel() == 1 else out.reshape(X.shape[0], 1)

    def point_residuals(self, model, batch, engine="auto"):
        out = super().point_residuals(model, {k: v for k, v in batch.items() if k != "bc"}, engine)
        if "bc" in batch:
            out["bc"] = self._boundary_residual(model, batch["bc"])
        return out

    def _boundary_residual(self, model, X: torch.Tensor) -> torch.Tensor:
        geometry, conds = self.region(), self._checked_conditions()
        normals, parts = classify(geometry, X)
        needs_d = any(not isinstance(c, Dirichlet) for c in conds.values())
        f = Fields(model, X, self.axes) if needs_d else None
        u = f.u if f is not None else model(X).reshape(X.shape[0], -1)
        dn = sum(f.d(a)[:, None] * normals[:, i:i + 1] for i, a in enumerate(self.axes)) if needs_d else None
        r = torch.zeros_like(u)
        for k, name in enumerate(geometry.parts):
            on = (parts == k)[:, None]
            c = conds[name]
            g = self._value(c.value, X)
            ri = u - g if isinstance(c, Dirichlet) else dn - g if isinstance(c, Neumann) \
                else c.a * u + c.b * dn - g
            r = torch.where(on, ri, r)
        return r

    def _dirichlet_value(self):
        """The one value all Dirichlet parts share (a function is its own extension inside)."""
        values = {c.value for c in self._checked_conditions().values() if isinstance(c, Dirichlet)}
        if len(values) != 1:
            raise ValueError(f"{self.title or self.key}: hard='bc' needs one Dirichlet value on every "
                             "boundary part (a function extends it inside); use hard='none'")
        return values.pop()

    def hard_distance(self):
        """The geometry's smooth distance, for hard Dirichlet constraints on every part."""
        soft = [p for p, c in self._checked_conditions().items() if not isinstance(c, Dirichlet)]
        if soft:
            raise ValueError(f"hard='bc' needs a Dirichlet condition on every boundary part; "
                             f"{self.title or self.key} has other conditions on {soft}. Use hard='none'.")
        self._dirichlet_value()
        geometry = self.region()
        return lambda X: geometry.phi(X)[:, None]

    def hard_covers_boundary(self) -> bool:
        """Whether :meth:`hard_distance` imposes every boundary condition (then the boundary
        term leaves the loss); a problem imposing only some parts or outputs says no."""
        return True

    def boundary_value(self, X):
        """The Dirichlet data, extended inside (what a hard constraint adds to ``phi N``)."""
        return self._value(self._dirichlet_value(), X)

    def reference_nodes(self) -> dict[str, np.ndarray] | None:
        """The reference where it was computed, on an unstructured mesh: ``{"points": (N, d),
        "triangles": (M, 3), "values": (N, k)}`` (``k`` outputs), or ``None`` for a reference
        that lives on grids only (an exact formula). A problem with a mesh returns
        :meth:`_nodes` of its mesh and a solve."""
        return None

    def _nodes(self, points: np.ndarray, triangles: np.ndarray, solve) -> dict[str, np.ndarray]:
        """``solve()`` — the values ``(N, k)`` at the ``(N, d)`` points — cached on disk like
        :meth:`reference`, keyed by the parameters and the points themselves."""
        values = cache.cached(self.key, self.config(), {"nodes": np.asarray(points, np.float64).ravel()},
                              lambda: np.asarray(solve(), np.float64).reshape(len(points), -1),
                              self.solver_versions())
        return {"points": np.asarray(points, np.float64), "triangles": np.asarray(triangles, np.int64),
                "values": values}

    @staticmethod
    def polar(x, y):
        """``r`` and the angle ``θ`` in ``[0, 2π)`` (numpy or torch)."""
        lib = torch if isinstance(x, torch.Tensor) else np
        return lib.sqrt(x * x + y * y), lib.remainder(lib.arctan2(y, x), 2 * np.pi)
