"""Diagnostics views, headless: each view on tiny data holds lab's numbers; bad requests alert."""
import math

import holoviews as hv
import numpy as np
import pytest
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.diagnostics.attractors import sample_attractor
from lab.diagnostics.spectra import energy_spectrum
from lab.training.events import Snapshot
from widgets.diagnostics import (AttractorView, DiagnosticsView, Fields3DView, LandscapeView, NTKView, Source,
                                 SpectraView)

N = 16


def _taylor_green_source(noise=0.0):
    x = np.linspace(0, 2 * np.pi, N, endpoint=False)
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    u = np.stack([np.sin(X) * np.cos(Y) * np.cos(Z), -np.cos(X) * np.sin(Y) * np.cos(Z),
                  np.zeros_like(X), np.zeros_like(X)], -1)
    ref = np.stack([u, 0.5 * u], 3)  # (x, y, z, t, 4)
    rng = np.random.default_rng(0)
    pred = ref + noise * rng.standard_normal(ref.shape)
    grid = {"x": x, "y": x, "z": x, "t": np.array([0.0, 0.5])}
    snap = Snapshot(7, grid, {"reference": ref, "prediction": pred, "error": pred - ref}, 0.1)
    return Source(get_problem("ns3d_taylor_green"), snap, label="test field")


@pytest.mark.parametrize("view", [Fields3DView, SpectraView, AttractorView, LandscapeView, DiagnosticsView])
def test_every_view_renders_before_it_has_data(view):
    """An empty tab must still build its Bokeh models (an empty HoloViews overlay does not)."""
    import panel as pn

    assert pn.panel(view()).get_root() is not None


def test_fields3d_view_shows_a_downsampled_vorticity_volume_and_isosurface():
    view = Fields3DView(max_points=8 ** 3, time_index=0)
    view.set_source(_taylor_green_source())
    assert view.refresh(background=False)
    assert view.error is None, view.error
    r = view.result
    assert r["factor"] == 2 and r["volume"].shape == (8, 8, 8)
    np.testing.assert_array_equal(view.volume.object, r["volume"])
    # curl of Taylor-Green: (-cos x sin y sin z, -sin x cos y sin z, 2 sin x sin y cos z)
    x = np.linspace(0, 2 * np.pi, N, endpoint=False)[::2]
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    exact = np.sqrt((np.cos(X) * np.sin(Y) * np.sin(Z)) ** 2 + (np.sin(X) * np.cos(Y) * np.sin(Z)) ** 2
                    + 4 * (np.sin(X) * np.sin(Y) * np.cos(Z)) ** 2)
    np.testing.assert_allclose(r["volume"], exact, atol=1e-12)
    assert r["surface"].n_points > 0 and view.scene.object is not None
    assert "down-sampled ×2" in view.caption.object


def test_fields3d_view_offers_a_scalar_problem_its_output_not_vorticity():
    p = get_problem("heat3d")
    x = np.linspace(0, 1, 4)
    field = np.random.default_rng(0).random((4, 4, 4, 4))
    source = Source(p, Snapshot(0, {"x": x, "y": x, "z": x, "t": x}, {"reference": field}, 0.0))
    view = Fields3DView()
    view.set_source(source)
    assert view.param.quantity.objects == ["u"] and view.quantity == "u"
    assert view.refresh(background=False) and view.error is None, view.error
    np.testing.assert_array_equal(view.result["volume"], field[..., -1])  # the last time slice
    # a live run hands its source over directly: a derived quantity is refused, options named
    fresh = Fields3DView()
    fresh.source = source
    fresh.refresh(background=False)
    assert fresh.alert.visible and "needs a velocity field" in fresh.alert.object
    assert "['u']" in fresh.alert.object


def test_spectra_view_curves_hold_lab_spectra_and_band_errors():
    view = SpectraView(time_index=0)
    src = _taylor_green_source(noise=1e-3)
    view.set_source(src)
    view.refresh(background=False)
    assert view.error is None, view.error
    ref = torch.as_tensor(np.moveaxis(src.snapshot.fields["reference"][:, :, :, 0, :3], -1, 0))
    k, E = energy_spectrum(ref, 3, 2 * math.pi, vector=True)
    kc, Ec = view.result["curves"]["reference"]
    np.testing.assert_allclose(kc, k.numpy())
    np.testing.assert_allclose(Ec, E.numpy(), rtol=1e-12, atol=1e-15)
    assert Ec.sum() == pytest.approx(0.125, rel=1e-12)  # 0.5 <|u|^2> of Taylor-Green
    curve = view.spectrum_pane.object.Curve.Reference
    keep = ((k > 0) & (E > 0)).numpy()
    np.testing.assert_array_equal(curve.dimension_values("E(k)"), Ec[keep])
    np.testing.assert_array_equal(curve.dimension_values("k"), kc[keep])
    # Taylor-Green is one shell: the others hold round-off (~1e-33), left below the axis
    lo, hi = hv.Store.lookup_options("bokeh", view.spectrum_pane.object, "plot").kwargs["ylim"]
    assert Ec[keep].min() < 1e-25 and hi == pytest.approx(2 * Ec.max(), rel=1e-2) and lo == pytest.approx(hi / 4e12)
    bands = view.result["bands"]
    # white noise puts most error energy at high k, where the reference has none
    assert bands["high"] > bands["low"] > 0
    assert list(view.bands_pane.object.dimension_values("relative error")) == list(bands.values())


def test_spectra_view_alerts_on_a_2d_spectrum_of_a_1d_field():
    p = get_problem("burgers")
    grid = p.grid((16, 5))
    snap = Snapshot(0, grid, {"reference": np.zeros((16, 5))}, 0.0)
    view = SpectraView(ndim=2)
    view.set_source(Source(p, snap))
    view.refresh(background=False)
    assert view.alert.visible and "a 2D spectrum needs 2 spatial axes" in view.alert.object


def test_attractor_view_portrait_and_invariants_of_lorenz():
    p = get_problem("lorenz63")
    f = p.field()
    x = sample_attractor(lambda y: f(0.0, y), p.initial_state(), 0.01, 3000)[:, 0].numpy()
    snap = Snapshot(0, {"t": 0.01 * np.arange(3000)}, {"reference": x}, math.nan)
    view = AttractorView(max_points=1000, lyapunov_time=0.5, transient=0.5, n_samples=800)
    view.set_source(Source(p, snap, label="lorenz"))
    view.refresh(background=False)
    assert view.error is None, view.error
    assert view.result["paths"]["reference"].shape == (1000, 3)
    np.testing.assert_array_equal(view.result["paths"]["reference"], x[::3][:1000])
    assert view.compute_invariants(background=False) and view.error is None, view.error
    row = view.table.object.iloc[0]
    # tr J = -(sigma + 1 + beta) everywhere on Lorenz-63: the exponents' sum, to RK4 accuracy
    assert row["λ1"] + row["λ2"] + row["λ3"] == pytest.approx(-(10 + 1 + 8 / 3), rel=1e-3)
    assert 1.5 < row["D_2"] < 2.5 and 1.0 < row["D_KY"] < 3.0
    assert row["± λ1 (95%)"] > 0  # the spread over the independent starts
    published = view.table.object.set_index("field").loc["published"]
    assert published["λ1"] == pytest.approx(0.9056) and published["λ3"] == pytest.approx(-14.5723)
    p.rho = 20.0  # no published spectrum there: no row that would mislead
    view.set_source(Source(p, snap, label="lorenz"))
    assert view.compute_invariants(background=False) and view.error is None, view.error
    assert "published" not in set(view.table.object["field"])


def test_attractor_view_refuses_a_pde():
    view = AttractorView()
    view.set_source(Source(get_problem("burgers"), None))
    view.refresh(background=False)
    assert view.alert.visible and "needs an ODE problem" in view.alert.object


def _tiny_pinn_run(tmp_path, **sinks):
    cfg = TrainConfig(steps=20, n_pde=64, n_ic=16, n_bc=16, log_every=5, snapshot_every=10,
                      checkpoint_every=10, dtype="float64")
    return Trainer(get_problem("burgers"), get_model_config("mlp", width=6, depth=1), cfg,
                   runs_dir=tmp_path, **sinks)


def test_landscape_view_on_a_saved_run_and_its_memory_budget(tmp_path):
    result = _tiny_pinn_run(tmp_path).run()
    src = Source.from_run(result.run_dir)
    view = LandscapeView(resolution=5, span=0.5, n_pde=64, n_ic=16, n_bc=16, hessian_k=2)
    view.set_source(src)
    view.refresh(background=False)
    assert view.error is None, view.error
    r = view.result
    assert r["values"].shape == (5, 5)
    assert r["values"][2, 2] == pytest.approx(r["center"], rel=1e-12)  # the centre is theta*
    eig = r["hessian"]["eigenvalues"]
    assert eig[0] >= eig[1] and np.isfinite(r["hessian"]["trace"])
    img = view.landscape_pane.object.Image.I
    np.testing.assert_allclose(np.sort(img.dimension_values(2)), np.sort(np.log10(r["values"]).ravel()))
    np.testing.assert_allclose(np.unique(img.dimension_values("α")), np.linspace(-0.5, 0.5, 5))

    view.param.update(resolution=4001, memory_budget_mb=1.0, hessian_k=0)
    view.refresh(background=False)
    assert view.alert.visible and "above the memory budget" in view.alert.object


def test_ntk_view_of_a_saved_run_shows_each_terms_block_and_its_memory_budget(tmp_path):
    """The view's spectra and traces are the kernel's own (J Jᵀ of the per-point residuals on the
    view's seeded batch), term by term; a kernel above the memory budget is refused."""
    import torch

    from lab.diagnostics.ntk import empirical_ntk

    result = _tiny_pinn_run(tmp_path).run()
    src = Source.from_run(result.run_dir)
    view = NTKView(n_pde=40, n_ic=12, n_bc=10)
    view.set_source(src)
    view.refresh(background=False)
    assert view.error is None, view.error
    r = view.result
    assert r["sizes"] == {"pde": 40, "ic": 12, "bc": 10}
    batch = src.problem.sample(40, 12, 10, torch.Generator().manual_seed(0), dtype=torch.float64)
    ntk = empirical_ntk(lambda: src.problem.point_residuals(src.model, batch, "autograd"), src.model)
    for term in ("pde", "ic", "bc"):
        np.testing.assert_allclose(r["eigenvalues"][term], ntk.eigenvalues(term), rtol=1e-9, atol=1e-12)
        assert r["traces"][term] == pytest.approx(np.trace(ntk.block(term)) / ntk.sizes[ntk.terms.index(term)])
    assert r["ratios"]["pde"] == 1.0
    assert list(view.table.object["term"]) == ["pde", "ic", "bc"]
    assert len(view.spectrum_pane.object) == 3  # one spectrum per term

    view.param.update(n_pde=20_000, memory_budget_mb=1.0)
    view.refresh(background=False)
    assert view.alert.visible and "above the" in view.alert.object and "GB allowed" in view.alert.object


def test_live_run_refreshes_a_panel_every_k_steps_from_its_thread(tmp_path):
    diag = DiagnosticsView(runs_dir=str(tmp_path))
    diag.picker.value = "live run"
    land = diag.panels["Loss landscape"]
    land.param.update(refresh_every=10, dims=1, resolution=3, hessian_k=0, n_pde=32, n_ic=8, n_bc=8)
    trainer = _tiny_pinn_run(tmp_path)
    trainer.subscribe(diag.sink_for(trainer))
    trainer.run()
    land.wait()
    assert len(diag._live_source.trajectory) == 2
    assert land.result is not None and land.result["values"].shape == (3,)
    assert land.source.step in (10, 20)


def test_offscreen_screenshot_of_an_isosurface_has_real_pixels():
    """A sphere |x| = 0.6 drawn offscreen: it covers a plausible share of the frame in its colour."""
    from widgets import render
    try:
        x = np.linspace(-1, 1, 24)
        X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
        grid = render.volume_grid(np.sqrt(X ** 2 + Y ** 2 + Z ** 2), [x[1] - x[0]] * 3, [-1.0] * 3)
        surface = render.isosurface(grid, [0.6])
        img = render.screenshot([(surface, dict(color="red"))], window_size=(160, 160))
    except RuntimeError as err:  # no offscreen OpenGL context (neither X nor OSMesa)
        pytest.skip(f"VTK cannot render offscreen here: {err}")
    assert img.shape == (160, 160, 3)
    background = (img == 255).all(-1)
    fraction = 1 - background.mean()
    assert 0.05 < fraction < 0.6, fraction  # a sphere of radius 0.6 in an iso view of a 2-box
    r, g, b = (img[..., i].astype(int) for i in range(3))
    red = (r > 80) & (r > g + 40) & (r > b + 40)
    assert red.sum() > 0.8 * (~background).sum()  # shaded red: the surface's colour, not noise


@pytest.mark.parametrize("view", [Fields3DView, SpectraView, AttractorView, LandscapeView, NTKView])
def test_a_diagnostic_with_nothing_to_show_says_what_to_do_and_draws_no_placeholder(view):
    """The loss landscape showed a blue square of zeros before anything was computed."""
    panel = view()
    assert "**Load**" in panel.caption.object and "**Refresh**" in panel.caption.object
    if isinstance(panel, LandscapeView):
        assert panel.landscape_pane.object is None
