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
    assert app.training.loss_buffer.data["step"].tolist() == [2, 4, 6, 8]
    # the operator view saw the same batch: the last snapshot, every score, the trained model
    op = app.operator
    assert op.snapshot is not None and op.snapshot.step == 8 and list(op.scores) == [4, 8]
    assert not op.sr_button.disabled and op._mailbox is None and op._callback is None


def test_a_view_with_no_run_attached_ignores_a_batch():
    view = OperatorView()
    view.configure(get_problem("burgers"))  # not an operator problem: nothing attached
    view.read([], None, [])
    assert view.snapshot is None and view.scores == {}
