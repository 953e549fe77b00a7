"""What a live update costs the server: a served lab's event loop drains every training session,
so an update that walks the whole document, or redraws at every poll, starves the other pages
(clicks waited a minute and more with two sessions on two cores)."""
from __future__ import annotations

import panel as pn
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div, Paragraph, Plot
from bokeh.plotting import figure
from panel.io.state import set_curdoc

from lab import TrainConfig, Trainer, get_model_config, get_problem
from widgets.pages import batched_changes
from widgets.training_view import TrainingView

#: a hang guard for the polling loops below (iterations of 50 ms), never a timing assertion
POLLS = 2400


class _Walks:
    """Counts the document's walks over all its models (``DocumentModelManager.recompute``)."""

    def __init__(self, doc, monkeypatch):
        self.n, recompute = 0, doc.models.recompute

        def counted():
            self.n += 1
            recompute()

        monkeypatch.setattr(doc.models, "recompute", counted)


class _Callback:
    def __init__(self, fn):
        self.fn = fn

    def stop(self):
        pass


def test_a_batch_that_only_streams_rows_walks_no_models_and_one_that_adds_a_model_walks_once(monkeypatch):
    doc = Document()
    source = ColumnDataSource({"x": [0.0], "y": [1.0]})
    fig = figure()
    fig.line("x", "y", source=source)
    doc.add_root(fig)
    walks = _Walks(doc, monkeypatch)
    with batched_changes(doc):
        for i in range(1, 5):
            source.stream({"x": [float(i)], "y": [1.0 / i]})
    assert walks.n == 0 and len(source.data["x"]) == 5
    with batched_changes(doc):
        renderer = fig.scatter("x", "y", source=source)
        fig.title.text = "changed"
    assert walks.n == 1 and doc.get_model_by_id(renderer.id) is renderer  # joined the document at the block's end
    with batched_changes(doc), doc.models.freeze():  # Bokeh's own freezes nest inside
        fig.line("y", "x", source=source)
    assert walks.n == 2
    with batched_changes(doc):
        doc.add_root(figure())
    assert walks.n == 3 and len(doc.roots) == 2
    with batched_changes(None):  # no served page: nothing to batch
        source.stream({"x": [9.0], "y": [9.0]})


def _drain_until(view, condition) -> None:
    import time

    for _ in range(POLLS):
        view.drain()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the run never got there")


def test_a_training_sessions_updates_walk_no_models_and_redraw_at_most_every_plot_every_s(tmp_path, monkeypatch):
    """After the drain that creates the loss plot, updates stream rows only: no walk over the
    document (HoloViews moved a legend placed outside the frame at every update, and Bokeh's
    freeze walked the document at every drain). Between redraws rows wait, and the run's end
    shows them all at once."""
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda fn, period: _Callback(fn))
    doc = Document()
    view = TrainingView(plot_every_s=0.0)
    trainer = Trainer(get_problem("burgers"), get_model_config("mlp", width=8, depth=2),
                      TrainConfig(steps=1_000_000, log_every=1, snapshot_every=1_000_000, n_pde=64, n_ic=16,
                                  n_bc=16, device="cpu"), runs_dir=tmp_path)
    with set_curdoc(doc):
        doc.add_root(pn.Column(view).get_root(doc))
        view.start(trainer)
        try:
            _drain_until(view, lambda: view.loss_history is not None and len(view.loss_history) >= 2)
            view.method_every_s = 60.0  # method plots are rebuilt (new models) at their own pace
            walks = _Walks(doc, monkeypatch)
            changed = []
            doc.on_change(lambda event: changed.append(getattr(event, "model", None)))
            shown = len(view.loss_history)
            _drain_until(view, lambda: len(view.loss_history) >= shown + 20)
            assert walks.n == 0
            # the page lays out nothing: a Bokeh Div's text change recomputes the layout of the
            # whole page (Panel's HTML replaces its own content), and plots draw on a 2D canvas,
            # not WebGL, which a browser without a GPU emulates on the CPU
            assert view.counter.value.startswith(f"{view.step} /")
            assert not [m for m in changed if isinstance(m, (Div, Paragraph))]
            assert {p.output_backend for p in doc.select({"type": Plot})} == {"canvas"}
            view.plot_every_s = 60.0  # from now on, only the run's end redraws
            view.drain()
            held = len(view.loss_history)
            _drain_until(view, lambda: trainer.step >= held + 20)
            assert len(view.loss_history) == held
        finally:
            trainer.stop()
            trainer.join()
        _drain_until(view, lambda: not view.running)
    assert view.loss_history.data["step"].tolist() == list(range(1, trainer.step + 1))
