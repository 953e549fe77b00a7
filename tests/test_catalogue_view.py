"""Headless tests of the catalogue tab: the preview draws the reference, follows edits, reports errors.

The view is rendered into a Bokeh document (``get_root``) before anything is computed, so the
assertions read what a browser would receive: the image arrays of the heatmaps, the paths of
an ODE trajectory, the array of the volume pane. Each preview is computed on a tiny grid
(``max_points``) and compared with ``problem.reference`` on the same grid, computed again here.
"""
from __future__ import annotations

import numpy as np
import panel as pn
import pytest
from bokeh.models import ColumnDataSource

from lab.problems import get_problem, list_problems
from widgets.catalogue_view import CatalogueView, catalogue_frame
from widgets.problem_view import ProblemView


def _images(root):
    return [s.data["image"][0] for s in root.select({"type": ColumnDataSource}) if "image" in s.data]


def _paths(root):
    return [(s.data["xs"][0], s.data["ys"][0]) for s in root.select({"type": ColumnDataSource})
            if "xs" in s.data]


def _view(key, params=None, **kw):
    """A standalone catalogue on ``key`` (with ``params``), rendered, its first preview shown."""
    problems = ProblemView(key=key)
    problems.problem.param.update(**(params or {}))  # before the view exists: one computation
    view = CatalogueView(problems, debounce_ms=0, **{"max_points": 600, **kw})
    root = pn.panel(view).get_root()  # drawn first: the preview must reach a live document
    view.wait()  # no event loop here: wait() shows what the worker computed
    assert not view.alert.visible, view.alert.object
    assert view.result is not None and not view.computing and not view.preview.loading
    return view, root


def _fresh_reference(key, params, grid):
    return get_problem(key, **(params or {})).reference(grid)


@pytest.mark.parametrize("key,params", [("heat", {"kappa": 0.2}), ("poisson2d", {"k": 2})])
def test_1d_time_and_2d_images_hold_the_reference(key, params):
    view, root = _view(key, params)
    grid = view.result.grid
    assert 10 < np.prod([len(g) for g in grid.values()]) <= 600  # the thinned grid, not the default
    ref = _fresh_reference(key, params, grid)
    (img,) = _images(root)
    # 1d+t: rows x, columns t (t across); 2d: rows y, columns x
    np.testing.assert_array_equal(img, ref if key == "heat" else ref.T)


def test_2d_time_animation_frames_follow_the_player():
    view, root = _view("klein_gordon2d", {"k": 1.0, "t_end": 2.0})
    ref = _fresh_reference("klein_gordon2d", {"k": 1.0, "t_end": 2.0}, view.result.grid)
    assert ref.shape[2] > 3 and view.player.end == ref.shape[2] - 1
    np.testing.assert_array_equal(_images(root)[0], ref[:, :, 0].T)
    view.player.value = ref.shape[2] - 1
    np.testing.assert_array_equal(_images(root)[0], ref[:, :, -1].T)
    assert not np.array_equal(ref[:, :, 0], ref[:, :, -1])  # the frames differ: the check can fail


def test_3d_time_volume_shows_the_final_time_and_follows_slider_and_output():
    params = {"n": 16, "nu": 0.1, "t_end": 0.2}
    view, _root = _view("ns3d_taylor_green", params, max_points=2000)
    ref = _fresh_reference("ns3d_taylor_green", params, view.result.grid)  # (x, y, z, t, [u v w p])
    assert ref.shape[3] >= 2 and view.output.visible
    np.testing.assert_array_equal(view.volume.object, ref[:, :, :, -1, 0])
    view.time_slider.value = 0
    np.testing.assert_array_equal(view.volume.object, ref[:, :, :, 0, 0])
    view.output.value = "v"  # another output redraws from the same result, at the final time
    assert view.computed == 1
    np.testing.assert_array_equal(view.volume.object, ref[:, :, :, -1, 1])
    spacing = view.result.grid["x"][1] - view.result.grid["x"][0]
    assert view.volume.spacing == pytest.approx((spacing,) * 3)


def test_ode_trajectory_projections_hold_the_first_three_outputs():
    view, root = _view("lorenz63", {"t_end": 0.5})
    ref = _fresh_reference("lorenz63", {"t_end": 0.5}, view.result.grid)  # (T, 3)
    paths = _paths(root)
    assert len(paths) == 2 and len(ref) > 100
    for j in (1, 2):  # the document lists its sources in no particular order
        assert sum(np.array_equal(xs, ref[:, 0]) and np.array_equal(ys, ref[:, j]) for xs, ys in paths) == 1


def test_operator_preview_shows_dataset_inputs_and_outputs():
    params = {"n_train": 2, "n_val": 1, "batch_size": 2, "resolution": 8, "solve_resolution": 15}
    view, root = _view("darcy_operator", params, n_samples=2)
    arrays = get_problem("darcy_operator", **params).arrays()
    images = _images(root)
    assert len(images) == 4  # two samples, input and output each
    expected = [arrays[role][i, 0].T for i in range(2) for role in ("x", "y")]  # rows y, columns x
    for e in expected:  # the document lists its sources in no particular order
        assert sum(np.array_equal(img, e) for img in images) == 1
    assert set(np.unique(expected[0])) == {3.0, 12.0}  # the raw coefficient a, not a normalised one


def test_parameter_edits_are_debounced_into_one_recompute():
    view, root = _view("heat")
    assert view.computed == 1
    view.debounce_ms = 300
    for kappa in (0.1, 0.2, 0.3):  # three quick edits: one recomputation, of the last
        view.problem_view.problem.kappa = kappa
    assert view.computing and view.preview.loading
    assert "0.3" in view.parameters.object  # the parameter table follows at once
    view.wait()
    assert view.computed == 2 and not view.computing and not view.preview.loading
    np.testing.assert_array_equal(_images(root)[0], _fresh_reference("heat", {"kappa": 0.3}, view.result.grid))


def test_refused_parameters_show_an_alert_and_recover():
    # in range for param, refused by the solver: an explicit time step above its stability limit
    params = {"n": 64, "dt": 1.0, "t_end": 0.1}
    problems = ProblemView(key="ns2d_kolmogorov")
    problems.problem.param.update(**params)
    view = CatalogueView(problems, debounce_ms=0, max_points=600)
    view.wait()
    assert view.alert.visible and "dt" in view.alert.object
    assert view.result is None and len(view.preview) == 0 and not view.preview.loading
    view.problem_view.problem.dt = None  # automatic step: the preview comes back
    view.wait()
    assert not view.alert.visible and view.result is not None
    # out of range in the standalone view's editor: the alert names the parameter, no recompute
    view = CatalogueView(key="heat", debounce_ms=0, max_points=600)
    view.wait()
    computed = view.computed
    view.problem_view.editor[0]._widgets["kappa"].value = -1.0
    assert view.alert.visible and "kappa" in view.alert.object
    assert view.problem_view.problem.kappa == get_problem("heat").kappa and not view.computing
    assert view.computed == computed


def test_every_problem_is_listed_and_a_row_click_selects_it():
    keys = list(catalogue_frame()["key"])
    assert keys == list(list_problems())
    assert len(keys) >= 30
    view = CatalogueView(ProblemView(key="heat"), debounce_ms=0, max_points=600)
    assert view.table.selection == [keys.index("heat")]
    view.table.selection = [keys.index("poisson2d")]
    assert view.problem_view.picker.value == "poisson2d"
    assert view.problem_view.problem.key == "poisson2d"
    view.problem_view.picker.value = "wave"  # and the other way round
    assert view.table.selection == [keys.index("wave")]
    view.wait()
    assert view.result.problem.key == "wave"


def test_app_opens_on_the_catalogue_tab_and_shares_its_problem(tmp_path):
    from widgets.app import LabApp

    app = LabApp(runs_dir=str(tmp_path / "runs"))
    app.catalogue.max_points = 600
    assert app.tabs._names[0] == "Catalogue" and app.tabs.active == 0
    assert app.catalogue.problem_view is app.problem_view
    keys = list(app.catalogue.table.value["key"])
    app.catalogue.table.selection = [keys.index("lorenz63")]
    assert app.problem_view.problem.key == "lorenz63"
    assert app.training.fields.axes == ("t",)  # the app reacted to the same selection
    app.problem_view.problem.t_end = 0.5
    app.catalogue.wait()
    assert app.catalogue.result.problem.key == "lorenz63" and app.catalogue.result.problem.t_end == 0.5


def test_coupled_fields_are_drawn_side_by_side():
    """Joule heating's potential and temperature: the preview of the selected output, then the
    coupled pair next to each other, each the reference on the preview grid."""
    view, root = _view("joule_heating2d")
    ref = _fresh_reference("joule_heating2d", None, view.result.grid)
    images = _images(root)
    assert len(images) == 3  # the selected output, then phi and T side by side
    for i, copies in ((0, 2), (1, 1)):  # phi: selected and in the pair; T: in the pair
        assert sum(np.array_equal(img, ref[..., i].T) for img in images) == copies
