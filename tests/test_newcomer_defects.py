"""What a newcomer sees first, headless: views that hold no data yet look empty, decimals are
shown rounded, and the Diagnostics tabs keep their views when another tab is picked.

Each test renders the Panel objects into a Bokeh document and reads the models a browser would
draw, so it fails where the page would mislead.
"""
from __future__ import annotations

import numpy as np
import panel as pn
import param
import pytest
from bokeh.models import ColumnDataSource, CustomJSTickFormatter, NumericInput, Tabs

from lab import get_problem
from widgets.training_view import TrainingView


def _images(root):
    """The image arrays of every heatmap in the rendered document."""
    return [np.asarray(s.data["image"][0], dtype=float)
            for s in root.select({"type": ColumnDataSource}) if "image" in s.data]


@pytest.mark.parametrize("key", ["burgers", "poisson2d"])
def test_the_training_fields_are_blank_until_the_first_snapshot(key):
    """Before a run's first snapshot the prediction, reference and error maps were squares of
    zeros under a colour bar: they looked like a computed field."""
    view = TrainingView()
    problem = get_problem(key)
    view.configure(problem.bounds(), problem.outputs)
    images = _images(pn.panel(view.fields).get_root())
    assert len(images) == 3
    assert all(np.isnan(im).all() for im in images)


def test_the_operator_sample_maps_are_blank_until_the_first_snapshot():
    """The operator view's input, prediction, truth and error maps were zeros before the first
    snapshot (one colour under a colour bar: data that was never computed)."""
    from widgets.operator_view import sample_elements

    problem = get_problem("darcy_operator")
    elements = sample_elements(None, ("x", "y"), problem.bounds())
    assert len(elements) == 4
    for element in elements:
        assert np.isnan(element.dimension_values(2)).all(), element
    root = pn.panel(pn.Row(*[pn.pane.HoloViews(e) for e in elements])).get_root()
    images = _images(root)
    assert len(images) == 4 and all(np.isnan(im).all() for im in images)


#: Burgers' classic viscosity 0.01 / pi, a decimal with 16 significant digits
NU = 0.01 / np.pi


class _Settings(param.Parameterized):
    diffusivity = param.Number(NU, bounds=(0, 1), doc="a decimal")
    steps = param.Integer(2000, bounds=(0, None), doc="a whole number")


def test_decimals_are_shown_to_six_significant_digits_and_keep_their_exact_value():
    """A form showed 0.003183098861837907 (0.01 / pi) digit for digit."""
    from widgets.forms import settings_form

    settings = _Settings()
    form = settings_form(settings)
    decimal, whole = form._widgets["diffusivity"], form._widgets["steps"]
    assert decimal.value == settings.diffusivity == NU  # the value itself is exact
    shown = decimal.format
    assert isinstance(shown, CustomJSTickFormatter) and "toPrecision(6)" in shown.code
    assert whole.format is None  # whole numbers are shown as they are
    root = pn.panel(form).get_root()  # and the page's box gets the rounding display
    (box,) = [m for m in root.select({"type": NumericInput}) if m.title == "Diffusivity"]
    assert isinstance(box.format, CustomJSTickFormatter) and "toPrecision(6)" in box.format.code


def test_diagnostics_tabs_keep_every_view_in_the_page_when_another_tab_is_picked():
    """A Tabs that built only the shown tab removed the 3D view's vtk.js scene on each switch;
    vtk.js threw on the second removal and the other tabs then drew no controls."""
    from widgets.diagnostics import DiagnosticsView

    view = DiagnosticsView()
    root = pn.panel(view).get_root()
    (tabs,) = root.select({"type": Tabs})
    shown = [panel.child for panel in tabs.tabs]
    assert all(type(child).__name__ != "Spacer" for child in shown)  # every view built at once
    for active in (1, 0, 2, 0):  # to Spectra, back to 3D fields, and so on
        view.tabs.active = active
        assert [panel.child for panel in tabs.tabs] == shown  # the same models, never rebuilt


def _closed_page():
    """A served page's document after its tab closed (``Document.destroy`` clears both)."""
    from bokeh.document import Document

    doc = Document()
    doc._session_context = None
    doc.callbacks.destroy()
    return doc


@pytest.mark.fault("server")
def test_a_diagnostic_finished_after_its_page_closed_is_dropped_without_an_error():
    """A diagnostic computed on its thread drew on the destroyed document of a closed page and
    left an AttributeError traceback in the server's log."""
    from widgets.diagnostics import SpectraView

    view = SpectraView()
    view._doc, view._served = _closed_page(), True  # as a served page set them at Refresh
    view._deliver(None, "a 2D spectrum needs 2 spatial axes")  # the worker's hand-back
    assert view.result is None and not view.alert.visible  # nothing drawn, nothing raised


@pytest.mark.fault("server")
def test_a_catalogue_preview_finished_after_its_page_closed_is_dropped_without_an_error(monkeypatch):
    """Likewise for the catalogue's preview of a picked problem (the preview itself is not what
    is tested here: a stand-in result is handed back)."""
    from widgets import catalogue_view

    monkeypatch.setattr(catalogue_view, "compute_preview", lambda *_args: "a preview")
    view = catalogue_view.CatalogueView(key="lorenz63")  # no page, no loop: nothing drawn yet
    shown = list(view.preview.objects)
    view._work(view._generation, view.problem_view.problem, _closed_page())  # the worker's hand-back
    assert view.preview.objects == shown  # nothing drawn, nothing raised
