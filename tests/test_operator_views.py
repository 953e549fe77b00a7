"""Headless tests of the operator views, fed by real events of tiny FNO trainings.

The views are rendered into a Bokeh document (``get_root``) and the tests read back what the
plots hold: the sample fields, the shared colour scale of prediction and truth, the training
and validation curves, the error per rollout step, the spectra, and the zero-shot
super-resolution error, which must equal the backend's own ``super_resolution``.
"""
from __future__ import annotations

import asyncio

import numpy as np
import panel as pn
import pytest
from bokeh.models import ColumnDataSource, LinearColorMapper

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.training.events import Preparing, Snapshot, Step
from lab.training.tasks.operator import super_resolution
from widgets.operator_view import OperatorView, finer_resolutions, operator_layout

FNO = dict(modes=4, width=8, n_layers=2, projection_channels=8)
TRAIN = dict(steps=8, log_every=2, snapshot_every=4, lr=3e-3, device="cpu")
DARCY = dict(n_train=8, n_val=4, batch_size=4, resolution=9, solve_resolution=17)
KS = dict(n_train=4, n_val=2, batch_size=2, resolution=16, time_steps=6, eval_steps=4)


def _train(tmp, key, params, **fno):
    events = []
    problem = get_problem(key, **params)
    trainer = Trainer(problem, get_model_config("fno", **{**FNO, **fno}), TrainConfig(**TRAIN), runs_dir=tmp,
                      sinks=[events.append])
    assert trainer.run().status == "completed"
    return problem, trainer, events


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("darcy"), "darcy_operator", DARCY)


@pytest.fixture(scope="module")
def ks(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("ks"), "ks_operator", KS)


def _view(problem, **kw):
    view = OperatorView(**kw)
    view.configure(problem)
    return view, pn.panel(view).get_root()


def _sources(root, *columns):
    return [s.data for s in root.select({"type": ColumnDataSource}) if all(c in s.data for c in columns)]


def test_darcy_sample_images_share_one_scale_and_error_is_centred(darcy):
    problem, _, events = darcy
    view, root = _view(problem)
    assert view.visible and len(view.samples) == 4  # input, prediction, truth, error
    view.show(events)
    snap = [e for e in events if isinstance(e, Snapshot)][-1]
    assert view.snapshot is snap and view.step == snap.step == TRAIN["steps"]
    images = [d["image"][0] for d in _sources(root, "image")]
    for name in ("input", "prediction", "reference", "error"):  # arrays [x, y] drawn as [y, x]
        assert any(np.array_equal(img, snap.fields[name].T) for img in images), name
    f = snap.fields
    lo = min(f["prediction"].min(), f["reference"].min())
    hi = max(f["prediction"].max(), f["reference"].max())
    e = np.abs(f["error"]).max()
    ranges = [(m.low, m.high) for m in root.select({"type": LinearColorMapper})]
    assert sum(np.allclose(r, (lo, hi)) for r in ranges) == 2  # prediction and truth: one scale
    assert sum(np.allclose(r, (-e, e)) for r in ranges) == 1   # error: symmetric diverging map


def test_training_and_validation_curves_hold_every_event(darcy):
    problem, _, events = darcy
    view, root = _view(problem)
    view.show(events)
    steps = [e for e in events if isinstance(e, Step)]
    snaps = [e for e in events if isinstance(e, Snapshot)]
    assert len(steps) == 4 and len(snaps) == 2
    curves = {len(d["step"]): d for d in _sources(root, "step", "rel_l2")}
    train = curves[len(steps)]
    np.testing.assert_allclose(train["rel_l2"], [s.losses["data"] for s in steps])
    assert [s for s, *_ in view.scores.values()] == [4, 8]
    np.testing.assert_allclose([r for _, r, _ in view.scores.values()], [s.rel_l2 for s in snaps])
    trivial = snaps[-1].extras["trivial_rel_l2"]
    level = [d for d in _sources(root, "step", "rel_l2") if np.allclose(d["rel_l2"], trivial)]
    assert level and len(level[0]["step"]) == 2
    # a map problem on a bounded box: no rollout and no spectrum, said in the titles
    assert "no rollout" in view.diagnostics[1].object[()].opts.get().kwargs["title"]
    assert "periodic" in view.diagnostics[2].object[()].opts.get().kwargs["title"]


def test_rollout_error_spectra_and_1d_curves(ks):
    problem, _, events = ks
    view, root = _view(problem)
    view.show(events)
    snap = view.snapshot
    rollout = _sources(root, "rollout step")
    assert rollout and all(len(d["rollout step"]) == KS["eval_steps"] for d in rollout)
    np.testing.assert_allclose(rollout[0]["relative L2"], snap.extras["rollout_error"])
    spectra = _sources(root, "k")
    spec = snap.extras["spectrum"]
    n_pos = int(np.sum(np.asarray(spec["k"]) > 0))
    assert len(spectra) == 2 and all(len(d["k"]) == n_pos for d in spectra)
    assert any(np.allclose(d["E(k)"], np.asarray(spec["reference"])[np.asarray(spec["k"]) > 0])
               for d in spectra)
    x = snap.grid["x"]
    for name in ("input", "error"):
        assert any(np.allclose(d[name], snap.fields[name]) and np.allclose(d["x"], x)
                   for d in _sources(root, name))
    pair = _sources(root, "u")
    assert len(pair) == 2 and {tuple(d["u"]) for d in pair} == {tuple(snap.fields["prediction"]),
                                                               tuple(snap.fields["reference"])}
    assert finer_resolutions(problem) == []  # chaotic data change with the grid
    assert view.sr_button.disabled
    layout = operator_layout(snap, problem, [e for e in events if isinstance(e, Step)],
                             [e for e in events if isinstance(e, Snapshot)])
    assert len(layout) == 6


def test_spacetime_map_draws_its_last_frame_and_the_error_per_frame(tmp_path):
    """The FNO-3D setting (x, y, t): images over (x, y) of the last frame, one error per frame."""
    problem, _, events = _train(tmp_path, "ns2d_spacetime_operator",
                                dict(n_train=4, n_val=2, batch_size=2, resolution=16, solve_resolution=32,
                                     time_steps=6, history=2, frames=4), modes=3)  # 4 frames: |f| < 3
    view, root = _view(problem)
    assert len(view.samples) == 4
    view.show(events)
    snap = view.snapshot
    assert snap is not None and not view.alert.object
    rollout = _sources(root, "rollout step")
    assert rollout and len(rollout[0]["rollout step"]) == 4
    np.testing.assert_allclose(rollout[0]["relative L2"], snap.extras["rollout_error"])


def test_attach_follows_a_run_and_super_resolution_matches_the_backend(tmp_path):
    problem = get_problem("darcy_operator", **DARCY)
    trainer = Trainer(problem, get_model_config("fno", **FNO), TrainConfig(**TRAIN), runs_dir=tmp_path)
    view, root = _view(problem)
    view.attach(trainer)
    assert view.sr_button.disabled  # nothing trained yet
    trainer.run()  # in this thread; a served app drains on a periodic callback
    view.drain()
    assert list(view.scores) == [4, 8]  # the mailbox coalesced snapshot 4, the score tap kept it
    assert view._callback is None and not view.sr_button.disabled
    assert view.sr_select.options == [17]
    expected = super_resolution(trainer.model, problem, 17)
    assert view.super_resolve() == pytest.approx(expected, rel=1e-6)
    asyncio.run(view._on_sr_click(None))  # the button: same number, computed in a worker thread
    assert view.sr_results[17] == pytest.approx(expected, rel=1e-6) and not view.sr_button.loading
    points = _sources(root, "resolution")[0]
    np.testing.assert_allclose(points["resolution"], [9, 17])
    np.testing.assert_allclose(points["relative L2"], [view.rel_l2, expected], rtol=1e-6)
    assert "17" in view.sr_text.object and not view.alert.visible


def test_data_generation_shows_in_the_caption_while_it_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path / "cache"))  # a fresh dataset
    problem = get_problem("darcy_operator", **{**DARCY, "solver_batch": 5})  # 12 samples: 5, 10, 12
    trainer = Trainer(problem, get_model_config("fno", **FNO), TrainConfig(**TRAIN), runs_dir=tmp_path)
    view, _ = _view(problem)
    view.attach(trainer)
    captions = []

    def poll(ev):  # what a periodic drain would show while the data are generated
        if isinstance(ev, Preparing):
            view.drain()
            captions.append(view.caption.object)
    trainer.subscribe(poll)
    assert trainer.run().status == "completed"
    assert [c.split(" · ")[-1] for c in captions] == [f"Generating data: {n} / 12 samples" for n in (5, 10, 12)]
    view.drain()
    assert "validation relative L2" in view.caption.object  # the snapshots take over


def test_finer_resolutions_are_sub_grids_of_the_solver_grid():
    assert finer_resolutions(get_problem("darcy_operator")) == [43, 85]          # (85-1) % (r-1) == 0
    assert finer_resolutions(get_problem("burgers_operator")) == [512, 1024]     # 1024 % r == 0
    assert finer_resolutions(get_problem("ns2d_operator")) == [64]
    assert finer_resolutions(get_problem("burgers_spacetime_operator")) == [128, 256]


def test_bad_input_is_reported_and_leaves_the_view_as_it_was(darcy, ks):
    problem, trainer, events = darcy
    errors = []
    view, root = _view(problem, on_error=errors.append)
    view.show(events)
    before = view.snapshot
    ks_snap = [e for e in ks[2] if isinstance(e, Snapshot)][-1]
    assert not view.show_snapshot(ks_snap)  # a 1D rollout snapshot in a 2D Darcy view
    assert view.alert.visible and "axes" in view.alert.object and view.snapshot is before
    partial = Snapshot(9, before.grid, {"prediction": before.fields["prediction"]}, 0.5)
    assert not view.show_snapshot(partial)
    assert "lacks the operator fields" in errors[-1] and "'input'" in errors[-1]
    assert view.super_resolve(17) is None and "needs a trained model" in errors[-1]
    view.use_model(trainer.model)
    assert view.super_resolve(10) is None and "not possible" in errors[-1] and "[17]" in errors[-1]
    assert len(errors) == 4
    view.configure(get_problem("burgers"))  # not an operator problem: the view hides itself
    assert not view.visible
