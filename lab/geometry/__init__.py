"""Domains beyond boxes: signed distance functions, constructive geometry and sampling.

``LShape() ``, ``Rectangle((-1, -1), (1, 1)) - Disk(r=0.3)``, ``Annulus(r_inner=0.5)``; in 3D
``Box``, ``Ball``, ``Cylinder``. :mod:`lab.geometry.sampling` draws interior and boundary
points (with outward normals and named boundary parts). A leaf: torch and numpy only.
"""
from lab.geometry.sampling import (BoundaryPoints, classify, inside_grid, monte_carlo_measure,
                                   sample_boundary, sample_interior)
from lab.geometry.shapes import (Annulus, Ball, Box, Cylinder, Disk, Geometry, LShape, PlateWithHole,
                                 Polygon, Rectangle)

__all__ = ["Annulus", "Ball", "BoundaryPoints", "Box", "Cylinder", "Disk", "Geometry", "LShape",
           "PlateWithHole", "Polygon", "Rectangle", "classify", "inside_grid", "monte_carlo_measure",
           "sample_boundary", "sample_interior"]
