"""The catalogue previews a problem on a real geometry: the reference (blank outside the
domain) next to the domain with its boundary parts, normals and collocation points."""
from __future__ import annotations

import numpy as np
import panel as pn
import torch
from bokeh.models import ColumnDataSource

from lab.problems import get_problem
from widgets.catalogue_view import CatalogueView
from widgets.geometry_view import geometry_meshes, geometry_plot, scattered_field
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


def _mesh_snapshot(p, scale=0.9):
    from lab.training.events import Snapshot

    nodes = p.reference_nodes()
    ref = nodes["values"]
    pred = scale * ref
    grid = p.grid((12, 6))
    grid_ref = p.reference(grid)
    fields = {"prediction": 0 * grid_ref, "reference": grid_ref, "error": -grid_ref}
    extras = {"nodes": {"axes": p.axes, "points": nodes["points"], "triangles": nodes["triangles"],
                        "prediction": pred, "reference": ref, "error": pred - ref}}
    return Snapshot(5, grid, fields, 0.1, extras)


def test_fields_at_mesh_nodes_are_drawn_on_the_triangles_with_one_colour_scale(tmp_path, monkeypatch):
    import holoviews as hv

    from widgets.training_view import FieldView

    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    p = get_problem("stokes_cylinder", n=2)
    view = FieldView()
    view.configure(p.bounds(), p.outputs)
    root = pn.panel(view).get_root()
    snap = _mesh_snapshot(p)
    view.update(snap)
    view.output.value = "v"
    nodes, k = snap.extras["nodes"], 1
    plots = [pane.object[()] for pane in view.plots.objects]  # the DynamicMaps' current elements
    assert [type(el) for el in plots] == [hv.TriMesh] * 3
    pred, ref, err = plots
    tri = nodes["triangles"]
    np.testing.assert_allclose(ref.dimension_values("v"), nodes["reference"][tri, k].mean(1))
    np.testing.assert_allclose(err.dimension_values("error"), nodes["error"][tri, k].mean(1))
    lo, hi = nodes["reference"][:, k].min(), nodes["reference"][:, k].max()
    assert pred.get_dimension("v").range == ref.get_dimension("v").range == (lo, hi)
    bound = np.abs(nodes["error"][:, k]).max()
    assert err.get_dimension("error").range == (-bound, bound)
    assert root is not None and any("xs" in s.data for s in root.select({"type": ColumnDataSource}))


def test_each_triangle_of_a_mesh_field_is_one_closed_patch_filled_by_its_nodes_mean():
    """The patches the page receives, built from the simplices (widgets.geometry_view draws
    them at once, past HoloViews' per-triangle paths): triangle ``i`` closed at its first node."""
    import holoviews as hv
    from bokeh.models import GlyphRenderer, Patches

    from widgets.geometry_view import mesh_field

    pts = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]])
    tri = np.array([[0, 1, 2], [1, 3, 2], [1, 4, 3]])
    fig = hv.render(mesh_field(pts, tri, np.array([0.0, 1.0, 2.0, 3.0, 4.0]), name="u"), backend="bokeh")
    (patches,) = [r.data_source.data for r in fig.select(GlyphRenderer) if isinstance(r.glyph, Patches)]
    closed = pts[tri[:, [0, 1, 2, 0]]]
    np.testing.assert_array_equal(np.array(patches["xs"]), closed[..., 0])
    np.testing.assert_array_equal(np.array(patches["ys"]), closed[..., 1])
    np.testing.assert_allclose(patches["edge_color"], [1.0, 2.0, 8 / 3])


def test_a_mesh_field_past_its_triangle_budget_is_drawn_as_coloured_nodes():
    import holoviews as hv

    from widgets.geometry_view import MAX_TRIANGLES, mesh_field

    pts = np.random.default_rng(1).uniform(0, 1, (50, 2))
    few = mesh_field(pts, np.array([[0, 1, 2]]), pts[:, 1], name="u")
    many = mesh_field(pts, np.zeros((MAX_TRIANGLES + 1, 3), int), pts[:, 1], name="u")
    assert isinstance(few, hv.TriMesh) and isinstance(many, hv.Points)
    np.testing.assert_array_equal(many.dimension_values("u"), pts[:, 1])


def _previewed(key: str, max_points: int) -> CatalogueView:
    """A catalogue on ``key``, rendered into a document, its first preview shown without an alert."""
    view = CatalogueView(ProblemView(key=key), debounce_ms=0, max_points=max_points)
    pn.panel(view).get_root()
    view.wait()
    assert not view.alert.visible, view.alert.object
    return view


def test_the_cylinder_preview_shows_its_four_boundary_parts(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    _previewed("stokes_cylinder", 900)
    labels = [el.label for el in geometry_plot(get_problem("stokes_cylinder"), n_interior=50, n_boundary=200)]
    assert labels == ["collocation", "boundary: walls", "boundary: outlet", "boundary: inlet",
                      "boundary: cylinder", "outward normal"]


def test_the_3d_shell_preview_shows_the_volume_and_a_scene_of_the_boundary_parts(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    view = _previewed("shell_poisson", 3000)
    p, grid = view.result.problem, view.result.grid
    ref = p.reference(grid)
    assert ref.ndim == 3 and np.isnan(ref).any()
    # the volume: the reference inside, its lowest value outside (no NaN reaches vtk.js)
    vol = view.volume.object
    inside = np.isfinite(ref)
    np.testing.assert_array_equal(vol[inside], ref[inside])
    assert np.all(vol[~inside] == np.nanmin(ref))
    assert view.volume_slot.visible and view.scene is not None and view.scene in view.volume_slot.objects
    # the scene's meshes: each part's points on its own sphere, normals, the box's outline
    meshes = geometry_meshes(p, n_boundary=500)
    assert [kw.get("label") for _, kw in meshes[:2]] == ["outer", "inner"]
    for (cloud, _), radius in zip(meshes[:2], (p.r_outer, p.r_inner)):
        assert cloud.n_points > 0 and np.allclose(np.linalg.norm(cloud.points, axis=1), radius)
    # back to 2D, then another shell: the 3D views are hidden, then updated, never taken off the
    # page (vtk.js throws when a 3D view leaves a page whose tab was hidden)
    volume, scene = view.volume, view.scene
    view.problem_view.picker.value = "lshape_laplace"
    view.wait()
    assert not view.volume_slot.visible and view.volume_slot.objects[1] is volume
    view.problem_view.picker.value = "shell_poisson"
    view.problem_view.problem.param.update(r_inner=0.3)
    view.wait()
    assert view.volume_slot.visible and view.volume is volume and view.scene is scene and scene.visible
    assert view.result.problem.r_inner == 0.3
    assert not np.array_equal(view.volume.object, vol)  # the new shell's field, in the same pane
