"""Domains from signed distance functions: measures, normals, distance properties, refusals."""
from __future__ import annotations

import math

import pytest
import torch

from lab.geometry import (Annulus, Ball, Box, Cylinder, Disk, LShape, Polygon, Rectangle, classify,
                          inside_grid, monte_carlo_measure, sample_boundary, sample_interior)

PLATE = Rectangle((-1.0, -1.0), (1.0, 1.0)) - Disk((0.0, 0.0), 0.3, part="hole")
LENS = Disk((0.0, 0.0), 1.0) & Disk((1.0, 0.0), 1.0)
SHAPES = {
    "lshape": (LShape(), 3.0),
    "annulus": (Annulus(r_inner=0.4, r_outer=1.0), math.pi * (1 - 0.16)),
    "plate": (PLATE, 4 - math.pi * 0.09),
    "lens": (LENS, 2 * math.pi / 3 - math.sqrt(3) / 2),
    "union": (Disk((0.0, 0.0), 1.0) | Rectangle((0.0, -0.5), (3.0, 0.5)), math.pi + 3.0 - (
        math.asin(0.5) + 0.5 * math.sqrt(0.75))),
    "box": (Box((0, 0, 0), (1, 2, 0.5)), 1.0),
    "ball": (Ball((0, 0, 0), 1.0), 4 / 3 * math.pi),
    "cylinder": (Cylinder((0.0, 0.0), 0.5, 0.0, 2.0), math.pi * 0.25 * 2),
    "box-ball": (Box((-1, -1, -1), (1, 1, 1)) - Ball((0, 0, 0), 0.5), 8 - 4 / 3 * math.pi / 8),
}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", SHAPES)
def test_monte_carlo_measure_matches_the_exact_area_or_volume(name):
    shape, exact = SHAPES[name]
    n = 200_000
    lo, hi = shape.bbox()
    box = math.prod(h - l for l, h in zip(lo, hi))
    p = exact / box
    sigma = box * math.sqrt(p * (1 - p) / n)  # binomial standard deviation of the estimate
    assert abs(monte_carlo_measure(shape, n, gen()) - exact) <= 4 * sigma + 1e-12


@pytest.mark.parametrize("name", SHAPES)
def test_boundary_normals_are_unit_and_point_outward(name):
    shape, _ = SHAPES[name]
    b = sample_boundary(shape, 2000, gen(1), dtype=torch.float64)
    X, n = b.points, b.normals
    assert torch.allclose(n.norm(dim=1), torch.ones(len(n), dtype=torch.float64), atol=1e-12)
    assert shape.sdf(X).abs().max() < 1e-9  # on the boundary
    eps = 1e-4
    # away from corners, a step along the normal leaves the domain and one against it enters
    ok = (shape.sdf(X + eps * n) > 0) & (shape.sdf(X - eps * n) < 0)
    assert ok.double().mean() > 0.99
    # the normal and part recovered from the point alone are the sampled ones
    n2, parts = classify(shape, X)
    assert (n2 - n).abs().max() < 1e-9
    assert torch.equal(parts, b.parts)


@pytest.mark.parametrize("name", SHAPES)
def test_sdf_is_one_lipschitz_negative_inside_and_phi_vanishes_on_the_boundary(name):
    shape, _ = SHAPES[name]
    lo, hi = (torch.tensor(c, dtype=torch.float64) for c in shape.bbox())
    g = gen(2)
    X = lo - 0.2 + (hi - lo + 0.4) * torch.rand(4000, shape.dim, generator=g, dtype=torch.float64)
    Y = X + 0.05 * torch.randn(X.shape, generator=g, dtype=torch.float64)
    assert ((shape.sdf(X) - shape.sdf(Y)).abs() <= (X - Y).norm(dim=1) * (1 + 1e-12)).all()
    inside = sample_interior(shape, 2000, gen(3), dtype=torch.float64)
    assert (shape.sdf(inside) < 0).all() and (shape.phi(inside) > 0).all()
    on = sample_boundary(shape, 500, gen(4), dtype=torch.float64).points
    assert shape.phi(on).abs().max() < 1e-6


def test_the_sdf_of_primitives_is_the_exact_distance():
    X = torch.tensor([[2.0, 0.0], [0.0, 0.5], [3.0, 4.0]], dtype=torch.float64)
    assert torch.allclose(Disk((0.0, 0.0), 1.0).sdf(X), torch.tensor([1.0, -0.5, 4.0], dtype=torch.float64))
    # in the L-shape's notch the nearest boundary point of (0.5, -0.2) is on the notch's top edge
    d = LShape().sdf(torch.tensor([[0.5, -0.2], [-0.5, 0.5], [0.5, 0.6]], dtype=torch.float64))
    assert torch.allclose(d, torch.tensor([0.2, -0.5, -0.4], dtype=torch.float64))


def test_boundary_points_are_uniform_by_arc_length():
    b = sample_boundary(PLATE, 20_000, gen(5))
    hole = PLATE.parts.index("hole")
    p = 2 * math.pi * 0.3 / (8 + 2 * math.pi * 0.3)
    frac = float((b.parts == hole).double().mean())
    assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / 20_000)
    # along the hole, angles are uniform: each quadrant gets a quarter
    X = b.points[b.parts == hole]
    q = ((X[:, 0] > 0) & (X[:, 1] > 0)).double().mean()
    assert abs(float(q) - 0.25) < 4 * math.sqrt(0.25 * 0.75 / len(X))


def test_parts_keep_their_names_through_orientation_and_renaming():
    cw = Polygon([(0, 0), (0, 1), (1, 1), (1, 0)], parts=("left", "top", "right", "bottom"))
    b = sample_boundary(cw, 400, gen(6), dtype=torch.float64)
    for name, axis, value in (("left", 0, 0.0), ("top", 1, 1.0), ("right", 0, 1.0), ("bottom", 1, 0.0)):
        sel = b.parts == cw.parts.index(name)
        assert torch.allclose(b.points[sel, axis], torch.tensor(value, dtype=torch.float64))
    assert Annulus().renamed({"inner": "wall"}).parts == ("outer", "wall")


def test_inside_grid_marks_the_closed_domain():
    grid = {"x": torch.linspace(-1, 1, 5).numpy(), "y": torch.linspace(-1, 1, 5).numpy()}
    mask = inside_grid(LShape(), grid)
    assert mask.sum() == 25 - 4  # the open lower-right quadrant's 2 x 2 points are out
    assert mask[2, 2] and mask[4, 2] and not mask[4, 0]


@pytest.mark.parametrize("build, message", [
    (lambda: Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), "self-intersecting"),
    (lambda: Polygon([(0, 0), (1, 0), (2, 0)]), "fold back"),
    (lambda: Polygon([(0, 0), (1, 0), (1, 0), (0, 1)]), "zero-length edge"),
    (lambda: Polygon([(0, 0), (2, 0), (1, 0), (1, 1)]), "fold back"),
    (lambda: Polygon([(0, 0), (1, 0)]), "at least 3 points"),
    (lambda: Disk((0.0, 0.0), -1.0), "r must be a finite number > 0"),
    (lambda: Annulus(r_inner=1.0, r_outer=0.5), "r_inner < r_outer"),
    (lambda: Rectangle((0.0, 0.0), (0.0, 1.0)), "lo < hi"),
    (lambda: Disk((0.0, 0.0), 1.0) & Disk((3.0, 0.0), 1.0), "empty"),
    (lambda: Disk((0.0, 0.0), 1.0) & Disk((2.0 - 1e-6, 0.0), 1.0), "thinner than the sampling resolution"),
    (lambda: Disk((0.0, 0.0), 1.0) - Disk((0.0, 0.0), 2.0), "empty"),
    (lambda: Disk((0.0, 0.0), 1.0) | Ball(), "one dimension"),
    (lambda: Cylinder(z0=1.0, z1=0.0), "z0 < z1"),
])
def test_degenerate_geometry_is_refused_with_a_clear_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_domain_too_small_for_its_box_is_refused_at_sampling():
    sliver = Polygon([(0.0, 0.0), (1.0, 1.0), (1.0 - 1e-7, 1.0)])  # fills 5e-8 of its box
    with pytest.raises(ValueError, match="smaller than the sampling resolution"):
        sample_interior(sliver, 100, gen())
