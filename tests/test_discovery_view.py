"""The app's Discovery tab: a fit runs in the background and its terms reach the table and plots."""
from __future__ import annotations

import panel as pn
import pytest

from lab.problems import get_problem
from widgets.discovery_view import DiscoveryView


def test_a_discovery_fills_the_table_and_plots_and_a_wrong_problem_is_refused():
    view = DiscoveryView(lambda: get_problem("burgers", nu=0.1))
    view.config.param.update(sensors=100, collocation=50, steps=60, warmup=50, update_every=5, order=2)
    pn.panel(view).get_root()  # renders headless
    view.run()
    view.join()
    view.drain()
    assert [s.step for s in view.history] == [50, 55, 60]
    table = view.table.value
    assert {"u*u_x", "u_xx"} <= set(table["term"]) and set(table.columns) == {"term", "found", "true", "relative error"}
    assert table.set_index("term").loc["u_xx", "true"] == pytest.approx(0.1)
    assert not view.run_button.disabled and view.status.object.startswith("Found **u_t =")
    # a curve for every term active at some iteration (a term thresholded out later included)
    assert len(view.curves.object) == len({n for s in view.history for n in s.coefficients})

    other = DiscoveryView(lambda: get_problem("heat3d"))
    other.run()
    assert not other.running and "needs a scalar field u(x, t)" in other.alert.object
