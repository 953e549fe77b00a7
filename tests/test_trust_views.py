"""The Uncertainty and Neural SDE diagnostics, headless: what they draw is the backend's result,
and a request they cannot serve is shown in their alert."""
import numpy as np

from lab.problems import get_problem
from widgets.diagnostics import DiagnosticsView, NeuralSDEView, Source, UncertaintyView


def test_uncertainty_view_draws_spread_beside_error_and_a_coverage_curve():
    view = UncertaintyView(method="laplace", steps=3, width=8)
    view.set_source(Source.reference(get_problem("burgers")))
    view.refresh(background=False)
    assert view.error is None, view.error
    r = view.result
    assert r["std"].shape == r["error"].shape == (256, 101) and (r["std"] > 0).all()
    assert len(view.maps.object) == 2  # spread and error side by side
    np.testing.assert_allclose(r["nominal"], np.round(np.arange(0.05, 0.951, 0.05), 2))
    assert ((0 <= r["observed"]) & (r["observed"] <= 1)).all() and np.all(np.diff(r["observed"]) >= 0)
    assert list(view.table.object.columns[:5]) == ["method", "problem", "cov50", "cov90", "cov95"]
    assert "laplace" in view.caption.object and "networks trained here" in view.caption.object


def test_uncertainty_view_refuses_a_problem_with_several_outputs_in_its_alert():
    view = UncertaintyView(method="ensemble", steps=1)
    view.set_source(Source(get_problem("lorenz63")))  # refused before any reference or training
    view.refresh(background=False)
    assert view.alert.visible and "one output field" in view.alert.object


def test_neural_sde_view_scores_ode_and_sde_and_draws_the_sample_paths():
    problem = get_problem("lorenz63", t_end=2.0)
    problem.grid_shape = (201,)
    view = NeuralSDEView(sde_class="geometric", missing=0.3, steps=3, paths=3)
    view.set_source(Source.reference(problem))
    view.refresh(background=False)
    assert view.error is None, view.error
    rows = view.result["rows"]
    assert [r["model"] for r in rows] == ["neural_ode", "geometric"] and all(r["missing"] == 0.3 for r in rows)
    drawn = view.result["paths"]["paths"]
    assert {"reference", "prediction"} <= set(drawn)
    assert sum(k.startswith("sample ") for k in drawn) == 3 or not np.isfinite(rows[1]["forecast_rmse"])
    assert list(view.table.object["model"]) == ["neural_ode", "geometric"]


def test_the_diagnostics_tab_lists_the_new_views():
    assert {"Uncertainty", "Neural SDE"} <= set(DiagnosticsView().panels)
