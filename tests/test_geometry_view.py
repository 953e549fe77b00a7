"""The catalogue previews a problem on a real geometry: the reference (blank outside the
domain) next to the domain with its boundary parts, normals and collocation points."""
from __future__ import annotations

import numpy as np
import panel as pn
import torch
from bokeh.models import ColumnDataSource

from lab.problems import get_problem
from widgets.catalogue_view import CatalogueView
from widgets.geometry_view import geometry_plot, scattered_field
from widgets.problem_view import ProblemView


def test_the_l_shape_preview_shows_the_blank_notch_and_the_boundary_parts(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    view = CatalogueView(ProblemView(key="lshape_laplace"), debounce_ms=0, max_points=900)
    root = pn.panel(view).get_root()
    view.wait()
    assert not view.alert.visible, view.alert.object
    sources = list(root.select({"type": ColumnDataSource}))
    (img,) = [s.data["image"][0] for s in sources if "image" in s.data]
    grid = view.result.grid
    X, Y = np.meshgrid(grid["x"], grid["y"])  # image rows follow y
    notch = (X > 0) & (Y < 0)
    assert np.isnan(img[notch]).all() and np.isfinite(img[~notch]).all()
    # the domain plot: grey collocation points inside, each boundary part on its own edges
    points = [s.data for s in sources if "x" in s.data and "y" in s.data and "image" not in s.data]
    assert len(points) >= 3  # collocation, outer, notch
    p = get_problem("lshape_laplace")
    for data in points:
        xy = torch.tensor(np.stack([data["x"], data["y"]], 1), dtype=torch.float64)
        assert (p.geometry().sdf(xy) <= 1e-9).all()


def test_geometry_plot_labels_every_part_and_draws_outward_normals():
    p = get_problem("plate_hole_heat")
    plot = geometry_plot(p, n_interior=50, n_boundary=200, n_normals=20)
    labels = [el.label for el in plot]
    assert labels == ["collocation", "boundary: edges", "boundary: hole", "outward normal"]
    seg = plot.get(3).dframe().to_numpy()
    tips = torch.tensor(seg[:, 2:4], dtype=torch.float64)
    assert (p.geometry().sdf(tips) > 0).all()  # every arrow points out of the domain


def test_a_scattered_field_keeps_its_values_and_equal_scales():
    pts = np.random.default_rng(0).uniform(-1, 1, (30, 2))
    el = scattered_field(pts, pts[:, 0] ** 2, name="u")
    np.testing.assert_array_equal(el.dimension_values("u"), pts[:, 0] ** 2)
