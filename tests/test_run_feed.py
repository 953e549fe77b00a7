"""One run, one feed: the app drains a run's events once and hands them to every view."""
from __future__ import annotations

import panel as pn

from lab import TrainConfig, Trainer, get_model_config, get_problem
from widgets.app import LabApp
from widgets.operator_view import OperatorView

FNO = dict(modes=4, width=8, n_layers=2, projection_channels=8)
TRAIN = dict(steps=8, log_every=2, snapshot_every=4, lr=3e-3, device="cpu")
DARCY = dict(n_train=8, n_val=4, batch_size=4, resolution=9, solve_resolution=17)


class _Callback:
    """What ``pn.state.add_periodic_callback`` returns, without a server to run it."""

    def __init__(self, fn):
        self.fn, self.stopped = fn, False

    def stop(self):
        self.stopped = True


def test_an_operator_run_in_the_app_is_polled_once_and_both_views_show_it(tmp_path, monkeypatch):
    polls: list[_Callback] = []
    monkeypatch.setattr(pn.state, "add_periodic_callback",
                        lambda fn, period: polls.append(_Callback(fn)) or polls[-1])
    app = LabApp(runs_dir=str(tmp_path / "runs"))
    problem = get_problem("darcy_operator", **DARCY)
    trainer = Trainer(problem, get_model_config("fno", **FNO), TrainConfig(**TRAIN),
                      runs_dir=tmp_path / "runs")
    app.start(trainer)
    (poll,) = polls  # one periodic callback for the run, not one per view
    assert poll.fn == app.training.drain
    trainer.join()
    poll.fn()  # what the server does every poll_ms
    assert poll.stopped and not app.training.running
    assert app.training.loss_history.data["step"].tolist() == [2, 4, 6, 8]
    # the operator view saw the same batch: the last snapshot, every score, the trained model
    op = app.operator
    assert op.snapshot is not None and op.snapshot.step == 8 and list(op.scores) == [4, 8]
    assert not op.sr_button.disabled and op._mailbox is None and op._callback is None


def test_a_view_with_no_run_attached_ignores_a_batch():
    view = OperatorView()
    view.configure(get_problem("burgers"))  # not an operator problem: nothing attached
    view.read([], None, [])
    assert view.snapshot is None and view.scores == {}


def test_a_run_that_ends_within_one_poll_reaches_the_page_whole(tmp_path, monkeypatch):
    """Steps, snapshot and Done in one drain: the loss plot is created and filled in the same
    callback. A Bokeh server serialises each change as it happens; a plot created under the
    document's freeze reached the page as first drawn (no points), and its data never did."""
    from bokeh.document import Document
    from bokeh.models import ColumnDataSource
    from page_support import page_rows, record_patches
    from panel.io.state import set_curdoc

    from widgets.training_view import TrainingView

    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda fn, period: _Callback(fn))
    doc, sent = Document(), []
    view = TrainingView()
    trainer = Trainer(get_problem("burgers"), get_model_config("mlp", width=8, depth=2),
                      TrainConfig(steps=6, log_every=2, snapshot_every=3, n_pde=64, n_ic=16, n_bc=16,
                                  device="cpu"), runs_dir=tmp_path)
    with set_curdoc(doc):
        doc.add_root(pn.Column(view).get_root(doc))
        record_patches(doc, sent)
        view.start(trainer)
        trainer.join()
        view.drain()  # everything the run posted, in one poll
    assert len(view.loss_history) == 3
    sources = {m.id: m for m in doc.select({"type": ColumnDataSource})
               if "step" in m.data and "total" in m.data}
    assert sources
    page = page_rows(sent, set(sources))
    assert page == {k: len(s.data["step"]) for k, s in sources.items()} == {k: 3 for k in sources}
