"""Headless tests of the Panel app: render into a Bokeh document, edit, train, reopen.

No server and no browser: the app is rendered with ``get_root()`` and driven by calling its
callbacks; training runs in the Trainer's thread and the test drains the mailbox itself (what
the periodic callback does in a served app).
"""
from __future__ import annotations

import math

import numpy as np
import panel as pn
import pytest
from bokeh.models import ColumnDataSource, LinearColorMapper

from lab import get_problem
from lab.training import Failed, Mailbox, Preparing
from widgets.app import APP_TRAIN_DEFAULTS, LabApp
from widgets.training_view import TrainingView, plot_axes

TINY = dict(steps=30, n_pde=200, n_ic=64, n_bc=64, log_every=5, snapshot_every=10)


def _app(tmp_path):
    app = LabApp(runs_dir=str(tmp_path / "runs"))
    root = pn.panel(app).get_root()
    return app, root


def _images(root):
    """The image arrays of every heatmap in the rendered document."""
    return [s.data["image"][0] for s in root.select({"type": ColumnDataSource}) if "image" in s.data]


def _field_root(app):
    """The field view rendered on its own (other tabs hold heatmaps of their own)."""
    return pn.panel(app.training.fields).get_root()


def _train(app, **overrides):
    app.train_config.param.update(**{**TINY, **overrides})
    app.train()
    app.training.trainer.join()
    app.training.drain()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny Burgers run shared by the tests that inspect a finished run."""
    tmp = tmp_path_factory.mktemp("trained")
    app = LabApp(runs_dir=str(tmp / "runs"))
    root = pn.panel(app).get_root()
    _train(app)
    return app, root


def test_opens_on_burgers_with_laptop_defaults_and_params_reach_widgets(tmp_path):
    app, root = _app(tmp_path)
    assert app.problem_view.problem.key == "burgers" and app.model_config.kind == "mlp"
    assert r"u_t + u\,u_x" in app.problem_view.equation.object
    train_widgets = app.train_editor._widgets
    for name, value in APP_TRAIN_DEFAULTS.items():
        assert train_widgets[name].value == value
    # parameter -> widget and widget -> parameter, both through the rendered Bokeh model
    nu_widget = app.problem_view.editor[0]._widgets["nu"]
    app.problem_view.problem.nu = 0.02
    assert nu_widget.value == 0.02
    bokeh_nu = [m for m in root.select({"title": "Nu"})]
    assert bokeh_nu and bokeh_nu[0].value == 0.02
    nu_widget.value = 0.05
    assert app.problem_view.problem.nu == 0.05
    # picking another problem rebuilds the parameter widgets and the field layout
    app.problem_view.picker.value = "lorenz63"
    assert set(app.problem_view.editor[0]._widgets) == set(get_problem("lorenz63").param) - {"name"}
    assert app.training.fields.axes == ("t",) and len(app.training.fields.plots) == 2
    app.problem_view.picker.value = "heat3d"
    assert len(app.training.fields.sliders) == 0  # sliders for z and t come with the first snapshot
    assert app.training.fields.axes == ("x", "y", "z", "t")


def test_plot_axes_follow_the_problem_kind():
    assert plot_axes(("x", "t")) == ("t", "x")           # PINN convention: t across, x up
    assert plot_axes(("x", "y")) == ("x", "y")
    assert plot_axes(("x", "y", "t")) == ("x", "y")      # t gets a slider
    assert plot_axes(("x", "y", "z", "t")) == ("x", "y")  # z and t get sliders
    assert plot_axes(("t",)) is None                     # time series


def _figures(root):
    from bokeh.models import Plot

    return [f for f in root.select({"type": Plot}) if any("image" in r.data_source.data
                                                          for r in f.renderers if hasattr(r, "data_source"))]


@pytest.mark.parametrize("key,equal", [("helmholtz2d", True), ("burgers", False)])
def test_spatial_heatmaps_keep_equal_scales_and_space_time_maps_fill_the_width(tmp_path, key, equal):
    """Over x–y a unit of x is as long as a unit of y (a round vortex stays round); over t–x
    there is no common unit and the map takes the width it is given."""
    view = TrainingView()
    problem = get_problem(key)
    view.configure(problem.bounds(), problem.outputs)
    figures = _figures(pn.panel(view.fields).get_root())
    assert figures
    for fig in figures:
        assert (fig.match_aspect, fig.aspect_scale) == ((True, 1) if equal else (False, 1))
        assert (fig.frame_height is not None) == equal  # its drawing area sized for equal scales


def _under(form, p_name: str) -> bool:
    """Whether the form's message is shown right under the field of ``p_name``."""
    objects = form.layout.objects
    return form.message.visible and objects.index(form.message) == objects.index(
        form._widgets[p_name]) + 1


@pytest.mark.bad_input("validation")
def test_out_of_range_value_is_named_under_its_field_and_app_keeps_working(tmp_path):
    app, _ = _app(tmp_path)
    form = app.problem_view.editor[0]
    nu_widget = form._widgets["nu"]
    nu_before = app.problem_view.problem.nu
    nu_widget._process_events({"value": 5.0})  # as if typed in the browser
    assert _under(form, "nu") and form.message.alert_type == "danger"
    assert "Nu must be from 0.0001 to 1" in form.message.object  # the field's label and its range
    assert app.problem_view.problem.nu == nu_before and nu_widget.value == nu_before
    assert not app.alert.visible  # said once, where the user is typing
    steps = app.train_editor
    steps._widgets["steps"]._process_events({"value": -3})
    assert _under(steps, "steps") and "Steps must be from 0 to 10,000,000" in steps.message.object
    assert app.train_config.steps == APP_TRAIN_DEFAULTS["steps"]
    # a valid edit clears the message and is applied; the app still renders
    nu_widget._process_events({"value": 0.01})
    assert not form.message.visible and form.message not in form.layout.objects
    assert app.problem_view.problem.nu == 0.01
    assert pn.panel(app).get_root() is not None


@pytest.mark.bad_input("validation")
def test_a_fraction_typed_into_a_whole_number_field_is_refused_with_a_message(tmp_path):
    """Bokeh's integer box dropped a typed 2.5 without a word and snapped back, under whatever
    message was shown before."""
    app, _ = _app(tmp_path)
    form = app.train_editor
    form._widgets["steps"]._process_events({"value": 2.5})
    assert _under(form, "steps") and "Steps must be a whole number, not 2.5" in form.message.object
    assert app.train_config.steps == APP_TRAIN_DEFAULTS["steps"]
    form._widgets["steps"]._process_events({"value": 60.0})  # a whole number, however typed
    assert app.train_config.steps == 60 and isinstance(app.train_config.steps, int)
    assert not form.message.visible


def test_training_streams_losses_and_fields(trained):
    app, root = trained
    view = app.training
    assert not view.running and view._callback is None  # polling stopped with the run
    rows = view.loss_history.data
    assert list(rows.columns) == ["step", "total", "pde", "ic", "bc"]
    assert rows["step"].tolist() == [5, 10, 15, 20, 25, 30]
    assert np.all(np.isfinite(rows[["total", "pde", "ic", "bc"]].to_numpy()))
    assert view.progress.value == 30 and view.counter.value == "30 / 30"
    assert 0 < view.rel_l2 < 2
    # three heatmaps over (t across, x up): Burgers' grid is 256 x 101 in (x, t)
    fields = _field_root(app)
    images = _images(fields)
    assert len(images) == 3 and all(im.shape == (256, 101) for im in images)
    snap = view.fields.snapshot
    for which in ("prediction", "reference", "error"):  # rows x, columns t: as the fields
        assert sum(np.allclose(im, snap.fields[which], rtol=1e-6) for im in images) == 1
    mappers = [m for m in fields.select({"type": LinearColorMapper})]
    ref = snap.fields["reference"]
    shared = [(m.low, m.high) for m in mappers if math.isclose(m.high, ref.max())]
    assert len(shared) == 2 and shared[0] == shared[1]  # prediction & reference: one scale
    err = np.abs(snap.fields["error"]).max()
    assert any(math.isclose(m.low, -err) and math.isclose(m.high, err) for m in mappers)
    assert app.train_button.disabled is False and app.stop_button.disabled is True
    table = app.runs.table.value
    assert len(table) == 1 and table.iloc[0]["status"] == "completed" and table.iloc[0]["step"] == 30


def test_reopen_and_continue_a_saved_run(trained):
    app, root = trained
    rel_before = app.training.rel_l2
    app.runs.table.selection = [0]
    app.runs.open_selected()
    view = app.training
    assert view.fields.snapshot.step == 30
    assert math.isclose(view.rel_l2, rel_before, rel_tol=1e-6)  # same weights, same error
    assert view.loss_history.data["step"].tolist() == [5, 10, 15, 20, 25, 30]
    assert len(_images(_field_root(app))) == 3
    app.runs.more_steps.value = 10
    app.runs.continue_selected()
    view.trainer.join()
    view.drain()
    assert view.step == 40 and view.fields.snapshot.step == 40
    assert app.runs.table.value.iloc[0]["step"] == 40


def test_session_alerts_go_once_they_are_no_longer_true(trained):
    app, _ = trained
    app.runs.table.selection = []
    app.runs.open_selected()  # nothing selected
    assert app.alert.visible and "Select a run" in app.alert.object
    assert app.alert.styles["position"] == "fixed"  # in sight however far the sidebar scrolls
    app.runs.table.selection = [0]
    app.runs.open_selected()
    assert not app.alert.visible  # the run opened: the request to select one is answered
    app.report_error("Training failed at step 7: loss became non-finite")
    app.problem_view.picker.value = "poisson2d"
    assert not app.alert.visible  # the failure concerned the problem left
    app.problem_view.picker.value = "burgers"


def test_failures_reach_the_alert(tmp_path):
    app, _ = _app(tmp_path)
    app.runs.open_selected()  # nothing selected
    assert app.alert.visible and "Select a run" in app.alert.object
    app.clear_error()
    # a Failed event from the trainer shows its message
    view = app.training
    view._mailbox = Mailbox()
    view.running = True

    class _Gone:  # a trainer whose thread has finished
        is_running, step = False, 7
    view.trainer = _Gone()
    view._mailbox(Failed(7, "loss became non-finite at step 7", "", 5))
    view.drain()
    assert app.alert.visible and "non-finite at step 7" in app.alert.object
    assert "step 5" in view.status.object and not view.running and not app.train_button.disabled


def test_data_generation_shows_in_the_training_status():
    view = TrainingView()
    view._mailbox = Mailbox()

    class _Generating:  # a trainer still preparing its data
        is_running, step = True, 0
    view.trainer = _Generating()
    view._mailbox(Preparing("data", 2400, 10200, 61.0))
    view._mailbox(Preparing("data", 4800, 10200, 122.0))  # the mailbox keeps the newest
    view.drain()
    assert view.status.object == "Generating data: 4800 / 10200 samples · 122 s"


def test_inline_loader_indent_splits_at_newlines_only():
    """Panel's inline notebook loader indents every script with Jinja's ``indent``; ours is the
    same filter except that a U+0085 / U+2028 inside a script's string stays on its line (Jinja
    split there and broke vtk.js, and with it the whole loader)."""
    from jinja2.filters import do_indent
    from markupsafe import Markup

    from widgets.offline import _indent

    for text in ["a", "a\nb", "a\nb\n", "\na\n\nb", "", Markup("<p>\n</p>")]:
        for kw in ({}, {"width": 6}, {"first": True}, {"blank": True}, {"width": "--", "blank": True}):
            assert _indent(text, **kw) == do_indent(text, **kw) and type(_indent(text, **kw)) is type(text)
    script = 'var s = "a\u0085b\u2028c";\nf(s);'
    assert _indent(script, 6) == 'var s = "a\u0085b\u2028c";\n      f(s);'
    assert do_indent(script, 6).count("\n") == 3  # what went wrong


def test_views_changed_after_display_keep_panels_stylesheets_inline(monkeypatch):
    """Displayed inline in a notebook, a view's later changes (new Markdown text, a changed
    parameter, a pane added to a layout) must not point a model at Panel's CDN: offline the
    browser's request fails, and it is one fetch per change."""
    from bokeh.models import ImportedStyleSheet, UIElement
    from panel.io.resources import CDN_DIST

    from widgets.offline import inline_stylesheets_on_update

    monkeypatch.setattr(pn.config, "inline", True)
    monkeypatch.setattr(pn.extension, "_loaded", True)  # as after widgets.extension()
    inline_stylesheets_on_update()
    text, formula = pn.pane.Markdown("first"), pn.pane.LaTeX("$a$", renderer="katex")
    column = pn.Column(text, formula)
    column._repr_mimebundle_()  # as a notebook displays it (Panel inlines its sheets here)
    root = column._models[next(iter(column._models))][0]

    def off_host():
        return [(type(m).__name__, s.url) for m in root.select({"type": UIElement})
                for s in m.stylesheets if isinstance(s, ImportedStyleSheet) and s.url.startswith(CDN_DIST)]

    assert off_host() == []
    text.object = "second"  # the pane's model gets all its properties anew
    assert off_host() == []
    formula.param.trigger("stylesheets")  # a changed parameter's message
    assert off_host() == []
    column.append(pn.pane.Markdown("third"))  # the design's hooks on a new model
    assert off_host() == []
    sheets = [s for m in root.select({"type": UIElement}) for s in m.stylesheets]
    assert len({id(s) for s in sheets}) < len(sheets)  # one sheet object per file, shared by the models


def test_a_session_built_without_its_page_links_no_stylesheet_off_host(tmp_path):
    """A page whose scripts arrive after the unused-session timeout connects to a session Bokeh
    builds for the websocket alone, whose HTML Panel never writes: its stylesheets named
    cdn.holoviz.org, and offline the page rendered unstyled."""
    from bokeh.document import Document
    from bokeh.models import ImportedStyleSheet
    from panel.io.state import set_curdoc

    from widgets.app import session_page

    doc = Document()
    with set_curdoc(doc):
        session_page(str(tmp_path / "runs")).server_doc(doc)
    urls = {str(s.url) for m in doc.models for s in getattr(m, "stylesheets", ())
            if isinstance(s, ImportedStyleSheet)}
    assert urls  # Panel's own sheets are linked, not inlined, in a served page
    assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls


def test_opening_a_saved_run_of_another_problem_sets_sidebar_header_and_model(tmp_path):
    """The sidebar stayed on the problem shown before, so Train then trained the wrong one; the
    Diagnostics list filled only at page load."""
    app, _ = _app(tmp_path)
    app.problem_view.problem.nu = 0.02
    app.model_config.width = 12
    _train(app)
    def runs():  # the saved runs the Diagnostics picker lists (the zoo's entries follow them)
        return [r for r in app.diagnostics.picker.options if r not in ("reference", "live run")
                and not r.startswith("zoo: ")]

    (name,) = runs()
    app.problem_view.picker.value = "poisson2d"
    app.model_picker.value = "pig"
    app.runs.table.selection = [0]
    app.runs.open_selected()
    assert app.problem_view.picker.value == "burgers" and app.problem_view.problem.nu == 0.02
    assert "Burgers" in app.problem_view.title.object  # the header
    assert app.model_picker.value == "mlp" and app.model_config.width == 12
    assert app.model_editor.objects[0].object is app.model_config  # the form shows it
    assert app.training.fields.snapshot.step == TINY["steps"]
    app.train_config.steps = 10
    _train(app, steps=10)  # Train now trains what is shown
    assert app.training.trainer.problem.key == "burgers"
    assert app.training.trainer.model_config.width == 12
    assert len(runs()) == 2  # the new run is listed at once


def test_continuing_a_stopped_run_with_more_steps_keeps_its_plan(tmp_path):
    """Continue with more steps gave a stopped run a fresh plan of those steps and marked it
    completed: the rest of its planned steps and its schedule were lost."""
    from lab.models import get_model_config
    from lab.training import Step, TrainConfig, Trainer, find_run

    app, _ = _app(tmp_path)
    tr = Trainer(get_problem("burgers"), get_model_config("mlp"),
                 TrainConfig(**{**TINY, "steps": 40}), runs_dir=app.runs_dir)
    tr.subscribe(lambda e: tr.stop() if isinstance(e, Step) and e.step == 10 else None)
    run = find_run(tr.run().run_dir)
    app.runs.refresh()
    app.runs.table.selection = [0]
    app.runs.more_steps.value = 10
    app.runs.continue_selected()
    app.training.trainer.join()
    app.training.drain()
    assert run.summary()["status"] == "stopped" and run.summary()["step"] == 20
    assert tuple(run.load_checkpoint()[1]["plan"]) == (0, 40)
    app.runs.more_steps.value = 0  # finish the plan
    app.runs.continue_selected()
    app.training.trainer.join()
    app.training.drain()
    assert run.summary()["status"] == "completed" and run.summary()["step"] == 40


def test_training_settings_fit_the_model_family_and_the_machine(tmp_path):
    """An FNO was offered collocation points and causal weighting it never reads; a CPU
    machine was offered CUDA."""
    import torch

    app, _ = _app(tmp_path)
    form = app.train_editor
    assert {"n_pde", "causal", "balancing"} <= set(form._widgets)  # a PINN reads them
    app.problem_view.picker.value = "burgers_operator"
    assert app.model_config.family == "operator"
    assert not {"n_pde", "n_ic", "causal", "balancing", "resampling"} & set(form._widgets)
    assert {"steps", "lr", "seed", "snapshot_every"} <= set(form._widgets)
    devices = form._widgets["device"].options
    assert ("cuda" in devices) == torch.cuda.is_available() and devices[:2] == ["auto", "cpu"]
    assert ("cuda_graphs" in form._widgets) == torch.cuda.is_available()


def test_the_step_counter_says_how_long_the_run_has_left():
    from lab.training import Step
    from widgets.training_view import duration, time_left

    def step(n, t):
        return Step(n, "adam", {"pde": 1.0}, 1.0, 1e-3, {}, t)

    assert time_left(step(10, 2.0), step(110, 12.0), 2000) == pytest.approx(189.0)  # 10 steps/s
    assert time_left(step(10, 2.0), step(10, 2.0), 2000) is None  # no pace yet
    assert [duration(s) for s in (40.4, 200, 3900)] == ["40 s", "3 min 20 s", "1 h 05 min"]
    view = TrainingView()
    view.configure({"x": (0, 1), "t": (0, 1)}, ["u"])
    view.total_steps = view.progress.max = 2000
    view._on_steps([step(10, 2.0), step(110, 12.0)])
    assert view.counter.value == "110 / 2000 · about 3 min 09 s left"


def _served():
    """Stands for the session context a served document holds while its page is open."""
    return type("Session", (), {"id": "s", "request": type("Request", (), {"arguments": {}})()})()


@pytest.mark.fault("server")
def test_work_finished_after_its_page_closed_is_dropped_without_an_error():
    """A preview finishing after its page closed called the destroyed document and left an
    AttributeError traceback in the server's log."""
    from bokeh.document import Document
    from bokeh.io import curdoc

    from widgets.pages import call_on_page

    doc = Document()
    session = _served()
    doc._session_context = lambda: session
    assert call_on_page(doc, lambda: None)  # the page is open: queued for its next tick
    doc._session_context = None  # the page closed: Document.destroy() clears both
    doc.callbacks.destroy()
    assert call_on_page(doc, lambda: None) is False
    doc._session_context = lambda: session  # destroyed between the check and the call
    assert call_on_page(doc, lambda: None) is False
    # and the closed page's document is not left as curdoc() for the rest of the server process
    assert curdoc() is not doc


def test_a_problem_picked_in_a_served_page_shows_the_header_busy_until_it_is_built():
    """Building a problem and its forms takes 1.5-7 s on a small CPU, with nothing shown."""
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    from widgets.problem_view import ProblemView

    view = ProblemView(key="burgers")
    doc = Document()
    served = _served()
    doc._session_context = lambda: served
    with set_curdoc(doc):
        view.picker.value = "poisson2d"
    assert view.header.loading and view.problem.key == "burgers"  # the page shows busy first
    (tick,) = doc.callbacks.session_callbacks
    tick.callback()
    assert not view.header.loading and view.problem.key == "poisson2d"


def test_two_sessions_get_decimal_boxes_of_their_own():
    """One display formatter shared by every form belonged to the first page's document: the
    second page showed "undefined" in every decimal box."""
    a, b = LabApp(), LabApp()
    fa = a.problem_view.editor[0]._widgets["nu"].format
    fb = b.problem_view.editor[0]._widgets["nu"].format
    assert fa is not None and fb is not None and fa is not fb
