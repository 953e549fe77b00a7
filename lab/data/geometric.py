"""Operator-learning data on a family of domains: a plate whose hole moves and changes size.

=============  ========================================  =========================================
spec           arrays                                    setting
=============  ========================================  =========================================
plate_hole     ``x`` = (sdf, mask) (N, 2, s, s),         ``-Δu = q`` in ``[-1, 1]^2`` minus the disk
               ``y`` = u (N, 1, s, s),                   ``|x - c| < r``, ``u = T`` on the hole's
               ``hole`` = (cx, cy, r) (N, 3)             wall, 0 on the edges; ``c``, ``r`` uniform
                                                         per sample; P1 finite elements
                                                         (:func:`lab.solvers.fem.plate_with_hole_heat`)
                                                         interpolated at the grid's nodes
=============  ========================================  =========================================

The grid is the ``s x s`` tensor grid of ``[-1, 1]^2``, end points included. ``sdf`` is the
domain's signed distance (negative inside, :class:`lab.geometry.PlateWithHole`), ``mask`` is 1
at the nodes of the closed domain (``sdf <= 0``, :func:`lab.geometry.inside_grid`) and 0 in
the hole, where ``u`` is stored as 0: a model on this grid is scored inside the domain only
(:meth:`lab.problems.operators.OperatorProblem.output_mask`).
"""
from __future__ import annotations

import numpy as np
import param
import torch

from lab.config import ConfigError, label
from lab.data.datasets import DatasetSpec, register_dataset
from lab.geometry import PlateWithHole, inside_grid
from lab.solvers.fem import plate_with_hole_heat, probe


def check_hole_range(p) -> None:
    """Refuse hole settings under which a drawn hole could leave the plate or the range is empty
    (``p``: the spec or a problem carrying its parameters)."""
    if p.radius_min > p.radius_max:
        lo, hi = label(p.param["radius_min"]), label(p.param["radius_max"])
        raise ConfigError("radius_min", f"{lo} = {p.radius_min:g} exceeds {hi} = {p.radius_max:g}; "
                                        f"lower {lo} or raise {hi}.")
    reach = p.center_max + p.radius_max + p.min_gap
    if reach > 1:
        hi, c, g = (label(p.param[n]) for n in ("radius_max", "center_max", "min_gap"))
        raise ConfigError("radius_max", f"{hi} = {p.radius_max:g} does not fit the plate [-1, 1]^2: "
                                        f"{c} + {hi} + {g} = {reach:g} exceeds 1; lower {hi} to at most "
                                        f"{1 - p.center_max - p.min_gap:g} or lower {c}.")


@register_dataset
class PlateHoleData(DatasetSpec):
    """Hole (centre, radius) -> steady temperature of the plate, on an ``s x s`` masked grid."""

    key = "plate_hole"
    fields = ("x", "y", "hole")

    resolution = param.Integer(32, bounds=(8, 512), doc="Grid nodes per axis on [-1, 1]^2")
    mesh_layers = param.Integer(12, bounds=(2, 256),
                                doc="Finite-element layers n between hole and edges (8n x n cells, x2 triangles)")
    radius_min = param.Number(0.15, bounds=(0.02, 0.9), doc="Smallest hole radius r")
    radius_max = param.Number(0.4, bounds=(0.02, 0.9), doc="Largest hole radius r")
    center_max = param.Number(0.3, bounds=(0.0, 0.9), doc="Largest |cx|, |cy| of the hole's centre")
    min_gap = param.Number(0.1, bounds=(0.01, 0.9), doc="Narrowest wall left between the hole and an edge")
    t_hole = param.Number(1.0, bounds=(-10.0, 10.0), doc="Temperature T of the hole's wall")
    q = param.Number(0.0, bounds=(-50.0, 50.0), doc="Heat source q")

    @param.depends("radius_min", "radius_max", "center_max", "min_gap", watch=True, on_init=True)
    def _check_hole(self):
        check_hole_range(self)

    def shapes(self):
        s = self.resolution
        return {"x": (self.n_samples, 2, s, s), "y": (self.n_samples, 1, s, s), "hole": (self.n_samples, 3)}

    def solver_bytes(self):
        # one sample at a time: the sparse system (~7 nonzeros of 16 bytes per node) and its LU
        nodes = 8 * self.mesh_layers * (self.mesh_layers + 1)
        return 16 * 60 * nodes * int(np.log2(max(nodes, 2))) + 8 * 4 * self.resolution**2

    def grid(self) -> dict[str, np.ndarray]:
        g = np.linspace(-1.0, 1.0, self.resolution)
        return {"x": g, "y": g}

    def _generate(self, batch, generator, device):
        draws = torch.rand(batch, 3, generator=generator, dtype=torch.float64).numpy()
        radius = self.radius_min + (self.radius_max - self.radius_min) * draws[:, 0]
        centre = self.center_max * (2 * draws[:, 1:] - 1)
        grid = self.grid()
        X, Y = np.meshgrid(grid["x"], grid["y"], indexing="ij")
        pts = torch.as_tensor(np.stack([X.ravel(), Y.ravel()], 1))
        x = np.zeros((batch, 2, *X.shape))
        y = np.zeros((batch, 1, *X.shape))
        for b, (c, r) in enumerate(zip(centre, radius)):
            geometry = PlateWithHole(tuple(c), float(r))
            mask = inside_grid(geometry, grid)
            basis, u = plate_with_hole_heat(float(r), self.mesh_layers, self.t_hole, self.q, center=tuple(c))
            x[b, 0] = geometry.sdf(pts).numpy().reshape(X.shape)
            x[b, 1] = mask
            y[b, 0][mask] = probe(basis, u, np.stack([X[mask], Y[mask]]))
        hole = np.concatenate([centre, radius[:, None]], axis=1)
        return {k: torch.as_tensor(v, device=device) for k, v in {"x": x, "y": y, "hole": hole}.items()}
