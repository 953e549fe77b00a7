"""The method views draw exactly what the Trainer emits; the residual map is the PDE residual.

Two tiny real runs (a causal PINN and a PIG, a few steps each on convection) feed
:class:`widgets.method_views.MethodView`; the rendered Bokeh document is checked against the
events. ``residual_on_grid`` is checked against a closed-form residual.
"""
from __future__ import annotations

import math

import numpy as np
import panel as pn
import pytest
import torch
from bokeh.models import ColumnDataSource

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.sampling import coarse_grid
from lab.training.events import Snapshot, Step
from lab.training.tasks.pinn import residual_on_grid
from widgets.app import LabApp, models_for
from widgets.forms import settings_form
from widgets.method_views import MethodView, ellipse_paths
from widgets.training_view import plot_axes

TINY = dict(steps=12, n_pde=128, n_ic=32, n_bc=0, log_every=3, snapshot_every=6, lr_schedule="constant")


def _run(tmp, model, **train):
    problem = get_problem("convection", beta=5.0)
    events = []
    result = Trainer(problem, model, TrainConfig(**{**TINY, **train}), sinks=[events.append],
                     runs_dir=str(tmp)).run()
    assert result.status == "completed", result.message
    return problem, [e for e in events if isinstance(e, Step)], [e for e in events if isinstance(e, Snapshot)]


def _view(problem, steps, snapshots):
    view = MethodView()
    view.configure(problem.bounds(), plot_axes(problem.axes))
    root = pn.panel(view).get_root()
    view.update(steps[:2], None)      # two drains, as the periodic callback would deliver them
    view.update(steps[2:], snapshots[-1])
    return view, root


def _sources(root, column):
    return [s for s in root.select({"type": ColumnDataSource}) if column in s.data]


@pytest.fixture(scope="module")
def causal(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("causal"), get_model_config("mlp", width=8, depth=2),
                causal=True, causal_chunks=6, causal_eps=[0.1, 1.0])


@pytest.fixture(scope="module")
def pig(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("pig"),
                get_model_config("pig", n_gaussians=17, hidden=8, full_covariance=True))


def test_causal_heatmap_holds_the_emitted_weights_and_current_eps(causal):
    problem, steps, snaps = causal
    view, root = _view(problem, steps, snaps)
    emitted = np.array([s.extras["causal_weights"] for s in steps]).T     # (chunks, steps)
    s, chunks, W = view.causal_data()
    assert W.shape == (6, len(steps)) == emitted.shape
    np.testing.assert_array_equal(W, emitted)
    np.testing.assert_array_equal(s, [e.step for e in steps])
    assert np.all((W > 0) & (W <= 1)) and np.all(W[0] == 1.0)   # w_0 = exp(0): nothing precedes it
    # the rendered mesh carries the same numbers
    (src,) = _sources(root, "w")
    np.testing.assert_allclose(np.sort(np.asarray(src.data["w"])), np.sort(emitted.ravel()))
    assert view.eps == steps[-1].extras["causal_eps"] and f"{view.eps:g}" in view.eps_text.value
    # learning rate and applied loss weights, one point per step
    (lr_src,) = _sources(root, "lr")
    np.testing.assert_array_equal(lr_src.data["lr"], [e.lr for e in steps])


def test_residual_map_has_the_coarse_grid_shape_and_matches_the_snapshot(causal):
    problem, steps, snaps = causal
    view, root = _view(problem, steps, snaps)
    res = snaps[-1].extras["residual"]
    grid = problem.grid()
    assert set(res["grid"]) == {"x", "t"}
    np.testing.assert_array_equal(res["grid"]["x"], grid["x"][::2])
    np.testing.assert_array_equal(res["grid"]["t"], grid["t"][::2])
    assert view.residual_map().shape == (len(grid["x"][::2]), len(grid["t"][::2])) == (128, 51)
    assert view._sections["residual"].visible and not view._sections["gaussians"].visible
    # the heatmap shows log10 |r| with t across and x up: rows are x
    imgs = [s.data["image"][0] for s in _sources(root, "image")]
    assert any(np.allclose(i, np.log10(view.residual_map())) for i in imgs if i.shape == (128, 51))


def test_pig_ellipses_one_per_gaussian_over_the_prediction(pig):
    problem, steps, snaps = pig
    view, root = _view(problem, steps, snaps)
    g = snaps[-1].extras["gaussians"]
    assert g["means"].shape == (17, 2)
    outlines = view.ellipses()
    assert outlines.shape[0] == 17
    # plotted plane is (t, x): each outline spans mean ± σ along each plotted axis
    order = [problem.axes.index(a) for a in plot_axes(problem.axes)]
    half = (outlines.max(1) - outlines.min(1)) / 2
    np.testing.assert_allclose(half, g["scales"][:, order], rtol=2e-2)
    np.testing.assert_allclose(outlines.mean(1), g["means"][:, order], atol=1e-2 * g["scales"].max())
    (lines,) = [s for s in root.select({"type": ColumnDataSource}) if "xs" in s.data]
    assert len(lines.data["xs"]) == 17
    assert not view._sections["causal"].visible and view._sections["gaussians"].visible
    # the Gaussians move while they train: the first and last snapshots differ
    assert not np.allclose(snaps[0].extras["gaussians"]["means"], g["means"])


def test_ellipse_of_a_rotated_covariance_has_its_principal_axes():
    c, s = math.cos(0.3), math.sin(0.3)
    R = np.array([[c, -s], [s, c]])
    cov = R @ np.diag([4.0, 0.25]) @ R.T
    pts = ellipse_paths(np.array([[1.0, -2.0]]), cov[None], n=721)[0] - [1.0, -2.0]
    # every outline point x satisfies xᵀ Σ⁻¹ x = 1, and the longest radius is 2 along R e_1
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", pts, np.linalg.inv(cov), pts), 1.0, atol=1e-12)
    far = pts[np.argmax(np.linalg.norm(pts, axis=1))]
    np.testing.assert_allclose(abs(far @ R[:, 0]), 2.0, atol=1e-4)


class _Travelling(torch.nn.Module):
    """``u = sin(x − c t)``: the convection residual is ``(β − c) cos(x − c t)`` exactly."""

    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, X):
        return torch.sin(X[:, :1] - self.c * X[:, 1:2])


def test_residual_on_grid_equals_the_closed_form_residual():
    problem = get_problem("convection", beta=30.0)
    grid = {"x": np.linspace(0, 2 * np.pi, 7, endpoint=False), "t": np.array([0.0, 0.3, 1.0])}
    r = residual_on_grid(problem, _Travelling(12.0), grid, device="cpu", dtype=torch.float64, chunk=5)
    X, T = np.meshgrid(grid["x"], grid["t"], indexing="ij")
    np.testing.assert_allclose(r, (30.0 - 12.0) * np.cos(X - 12.0 * T), rtol=0, atol=1e-12)
    exact = residual_on_grid(problem, _Travelling(30.0), grid, device="cpu", dtype=torch.float64)
    assert np.abs(exact).max() < 1e-12


def test_coarse_grid_keeps_at_most_the_budget():
    grid = get_problem("heat3d").grid()
    coarse = coarse_grid(grid, max_points=2000)
    assert math.prod(len(g) for g in coarse.values()) <= 2000
    np.testing.assert_array_equal(coarse["z"], grid["z"][::3])   # 21⁴/2000 → stride 3


def test_causal_eps_list_is_editable_and_bad_lists_are_refused_and_reverted():
    config, errors = TrainConfig(), []
    form = settings_form(config, on_error=lambda name, err: errors.append((name, str(err))))
    widget = form._widgets["causal_eps"]
    widget.value = [0.5, 5.0]
    assert config.causal_eps == [0.5, 5.0] and not errors
    for bad in ([5.0, 0.5], [0.1, "a"]):
        widget.value = bad
        assert errors[-1][0] == "causal_eps"
        assert config.causal_eps == [0.5, 5.0] and widget.value == [0.5, 5.0]


def test_model_picker_follows_the_problem_kind(tmp_path):
    app = LabApp(runs_dir=str(tmp_path / "runs"))
    pinns = {"mlp", "fourier_mlp", "modified_mlp", "pirate", "pig"}
    assert set(app.model_picker.options.values()) == pinns | {"lagrangian"}  # a line in time: also Lagrangian
    assert pinns == set(models_for("2d").values())
    app.model_picker.value = "pig"
    assert set(app.model_editor[0]._widgets) >= {"n_gaussians", "full_covariance", "memory_budget_gb"}
    app.problem_view.picker.value = "lorenz63"
    assert set(app.model_picker.options.values()) == pinns | {"neural_ode"}
    assert app.model_picker.value == "pig"                      # still valid: kept
    app.problem_view.picker.value = "darcy_operator"
    assert set(app.model_picker.options.values()) == {"fno", "deeponet", "mgno"}
    assert app.model_config.kind == app.model_picker.value in {"fno", "deeponet"}
    pinn_only = {"causal", "causal_eps", "balancing", "resampling", "rad_k"}
    assert not pinn_only & set(app.train_editor._widgets)  # an operator's task reads none of them
    app.problem_view.picker.value = "burgers"
    assert pinn_only <= set(app.train_editor._widgets)


def test_the_residual_map_has_a_colour_bar_over_its_values(causal):
    """The map's first frame (before any snapshot) had no colour bar, and HoloViews keeps the
    first frame's decision: log10 |r| was drawn in colours that meant no number."""
    from bokeh.models import ColorBar, GlyphRenderer

    problem, steps, snaps = causal
    view, root = _view(problem, steps, snaps)
    shape = view.residual_map().shape
    (image,) = [r for r in root.select({"type": GlyphRenderer}) if "image" in r.data_source.data
                and np.shape(r.data_source.data["image"][0]) == shape]
    assert [b for b in root.select({"type": ColorBar}) if b.color_mapper is image.glyph.color_mapper]
