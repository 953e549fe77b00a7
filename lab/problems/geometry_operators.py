"""Operator learning on a family of domains: one FNO for every plate-with-a-hole.

A Fourier neural operator needs a tensor grid; a domain that is not a box is embedded in one
(the "masked grid" of Li et al.'s Geo-FNO discussion, and of the airfoil/elasticity benchmarks
before their learned deformation): the input carries the domain as its signed distance and its
mask, the output is 0 outside, and the loss and the error count the domain's grid points only
(:meth:`OperatorProblem.output_mask`).
"""
from __future__ import annotations

import param

from lab.data.geometric import PlateHoleData, check_hole_range
from lab.problems import register
from lab.problems.operators import OperatorProblem, from_dataset


@register
class PlateHoleOperator(OperatorProblem):
    """``(c, r) -> u``: steady heat ``-Δu = q`` in ``[-1, 1]^2`` minus the disk ``|x - c| < r``,
    ``u = T`` on the hole's wall and 0 on the edges, for holes of random centre and radius.

    Data: :class:`lab.data.geometric.PlateHoleData` — each sample a P1 finite-element solve on
    its own mesh, interpolated at the nodes of the ``s x s`` grid inside the domain (0 in the
    hole). Input channels: the domain's signed distance and its mask (1 on the closed domain).
    The loss and the reported error are the relative L2 over the domain's grid points only:
    prediction and truth are both multiplied by the mask first, so whatever the model says in
    the hole costs nothing.
    """

    key = "plate_hole_operator"
    title = "Plate with a moving hole (FNO on a masked grid)"
    latex = (r"\mathcal{G}: (c, r) \mapsto u,\quad -\Delta u = q \text{ in } [-1,1]^2\setminus\{|x-c|<r\},"
             r"\ u = T \text{ on } |x-c|=r,\ u = 0 \text{ on the edges}")
    description = ("One neural operator for a family of domains: the hole of a heated plate moves "
                   "and changes size from sample to sample; the model reads the domain as a signed "
                   "distance on a grid and is scored inside the domain only (finite-element data).")
    source = ("Li et al., Fourier Neural Operator with Learned Deformations for PDEs on General "
              "Geometries, JMLR 24 (2023); scikit-fem (Gustafsson & McBain, JOSS 5, 2020)")
    axes = ("x", "y")
    outputs = ("u",)
    periodic = ()
    channels = (2, 1)

    dataset_spec = PlateHoleData
    resolution = from_dataset(PlateHoleData, "resolution")
    mesh_layers = from_dataset(PlateHoleData, "mesh_layers")
    radius_min = from_dataset(PlateHoleData, "radius_min")
    radius_max = from_dataset(PlateHoleData, "radius_max")
    center_max = from_dataset(PlateHoleData, "center_max")
    min_gap = from_dataset(PlateHoleData, "min_gap")
    t_hole = from_dataset(PlateHoleData, "t_hole")
    q = from_dataset(PlateHoleData, "q")

    @param.depends("radius_min", "radius_max", "center_max", "min_gap", watch=True, on_init=True)
    def _check_hole(self):
        check_hole_range(self)

    def bounds(self):
        return {"x": (-1.0, 1.0), "y": (-1.0, 1.0)}

    @property
    def shape(self):
        return (self.resolution, self.resolution)

    def _tensors(self, arrays):
        return {"x": arrays["x"], "y": arrays["y"]}

    def output_mask(self, x):
        """The mask channel of the inputs (exactly 0 or 1)."""
        return x[:, 1:2]
