"""Trainer behaviour: events, run records, stop, divergence, resume, checkpoints, configs."""
import json
import math

import numpy as np
import pytest
import torch

from lab import Mailbox, TrainConfig, Trainer, get_model_config, get_problem
from lab.training.checkpoint import load_checkpoint
from lab.training.events import Done, Failed, Snapshot, Started, Step
from lab.training.runs import find_run, list_runs

TINY = dict(steps=40, n_pde=128, n_ic=32, n_bc=32, log_every=5, snapshot_every=20,
            checkpoint_every=20, lr=1e-3)


def _trainer(**overrides):
    events = []
    cfg = TrainConfig(**{**TINY, **overrides})
    tr = Trainer(get_problem("burgers"), get_model_config("mlp", width=8, depth=2), cfg,
                 sinks=[events.append])
    return tr, events


def test_events_arrive_in_order_and_the_run_is_recorded():
    tr, events = _trainer()
    result = tr.run()
    assert result.status == "completed" and result.step == 40
    assert isinstance(events[0], Started) and isinstance(events[-1], Done)
    steps = [e for e in events if isinstance(e, Step)]
    assert [e.step for e in steps] == list(range(5, 41, 5))
    assert set(steps[0].losses) == {"pde", "ic", "bc"}
    assert all(math.isfinite(v) for e in steps for v in e.losses.values())
    snaps = [e for e in events if isinstance(e, Snapshot)]
    assert [s.step for s in snaps] == [20, 40]
    ref = snaps[-1].fields["reference"]
    assert snaps[-1].fields["prediction"].shape == ref.shape == (256, 101)
    assert np.allclose(snaps[-1].fields["error"], snaps[-1].fields["prediction"] - ref)
    rel = np.linalg.norm(snaps[-1].fields["error"]) / np.linalg.norm(ref)
    assert snaps[-1].rel_l2 == pytest.approx(rel)

    rec = find_run(result.run_dir)
    assert rec.summary()["status"] == "completed"
    cfg = rec.config()
    assert cfg["problem"]["key"] == "burgers" and cfg["model"]["params"]["width"] == 8
    assert any("loss_pde" in row for row in rec.metrics())
    [listed] = list_runs()
    assert listed["name"] == rec.name and listed["rel_l2"] == pytest.approx(result.rel_l2)


def test_same_seed_same_losses():
    a, ea = _trainer(steps=10)
    b, eb = _trainer(steps=10)
    a.run(), b.run()
    la = [e.losses for e in ea if isinstance(e, Step)]
    lb = [e.losses for e in eb if isinstance(e, Step)]
    assert la == lb


def test_stop_keeps_the_current_state():
    tr, events = _trainer(steps=10_000)
    tr.subscribe(lambda e: tr.stop() if isinstance(e, Step) and e.step >= 15 else None)
    tr.start()
    result = tr.join(timeout=120)
    assert result.status == "stopped" and 15 <= result.step < 10_000
    state, meta = load_checkpoint(f"{result.run_dir}/checkpoint.safetensors")
    assert meta["step"] == result.step
    for k, v in tr.model.state_dict().items():
        assert torch.equal(state[k], v.cpu())


def test_divergence_stops_with_a_message_and_keeps_the_last_good_checkpoint():
    tr, events = _trainer(steps=100)

    def poison(e):  # a NaN weight after the step-20 checkpoint forces divergence
        if isinstance(e, Step) and e.step == 25:
            with torch.no_grad():
                next(tr.model.parameters()).fill_(float("nan"))
    tr.subscribe(poison)
    result = tr.run()
    assert result.status == "failed"
    failed = events[-1]
    assert isinstance(failed, Failed) and "non-finite" in failed.message
    assert failed.checkpoint_step == 20
    state, meta = load_checkpoint(f"{result.run_dir}/checkpoint.safetensors")
    assert meta["step"] == 20 and all(torch.isfinite(v).all() for v in state.values())
    assert find_run(result.run_dir).summary()["status"] == "failed"


def test_resume_continues_from_the_checkpoint():
    tr, _ = _trainer(steps=20)
    first = tr.run()
    events = []
    again = Trainer.resume(first.run_dir, steps=10, sinks=[events.append])
    result = again.run()
    assert isinstance(events[0], Started) and events[0].start_step == 20
    assert result.step == 30 and result.run_dir == first.run_dir


def _stopped_at(step, **overrides):
    """A run stopped by its own sink right after ``step``."""
    tr, events = _trainer(**overrides)
    tr.subscribe(lambda e: tr.stop() if isinstance(e, Step) and e.step == step else None)
    return tr.run()


@pytest.mark.parametrize("schedule", ["exponential", "cosine"])
def test_a_stopped_run_continued_to_its_plan_equals_the_uninterrupted_run(schedule):
    """Stop at step 20 of 40, continue with ``steps=None``: the Adam moments and the schedule's
    position come back from the checkpoint, so the weights equal those of one 40-step run
    (float64, fixed collocation points). Restarting Adam from zero moments does not."""
    cfg = dict(dtype="float64", resample_every=0, lr=1e-2, lr_schedule=schedule, lr_decay=0.5,
               lr_decay_steps=10, snapshot_every=100, checkpoint_every=100)
    whole, _ = _trainer(**cfg)
    assert whole.run().step == 40
    stopped = _stopped_at(20, **cfg)
    assert stopped.status == "stopped" and stopped.step == 20
    again = Trainer.resume(stopped.run_dir)
    assert again.config.steps == 20
    assert again.run().step == 40
    ref = whole.model.state_dict()
    assert all(torch.allclose(v, ref[k], rtol=1e-10, atol=1e-12) for k, v in again.model.state_dict().items())

    cold = Trainer.resume(_stopped_at(20, **cfg).run_dir)
    cold._optimizer_state = None  # what continuing without the saved moments would do
    cold.run()
    assert not all(torch.allclose(v, ref[k], rtol=1e-6) for k, v in cold.model.state_dict().items())
    with pytest.raises(ValueError, match="planned Adam steps"):
        Trainer.resume(whole.result.run_dir)


def test_device_side_method_state_reaches_events_as_plain_numbers():
    """Balancing weights and causal weighting's state live on the device; Step events and the
    run's JSON carry them as plain numbers."""
    tr, events = _trainer(steps=10, balancing="grad_norm", balance_every=5, causal=True, causal_chunks=4)
    assert tr.run().status == "completed"
    steps = [e for e in events if isinstance(e, Step)]
    for e in steps:
        assert all(type(w) is float for w in e.weights.values())
        assert e.weights == e.extras["balance_weights"]  # no fixed weights in this config
        assert type(e.extras["causal_level"]) is int
        json.dumps(e.extras)


def test_lbfgs_lowers_the_loss():
    tr, events = _trainer(steps=0, lbfgs_steps=30, log_every=5, snapshot_every=100)
    tr.run()
    totals = [e.total for e in events if isinstance(e, Step)]
    assert all(e.phase == "lbfgs" for e in events if isinstance(e, Step))
    assert totals[-1] < 0.5 * totals[0]


def test_corrupt_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "checkpoint.safetensors"
    bad.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(bad)
    with pytest.raises(ValueError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_mailbox_is_bounded_and_keeps_the_newest_snapshot():
    box = Mailbox(max_steps=3)
    for i in range(10):
        box(Step(i, "adam", {"pde": 1.0}, 1.0, 1e-3, {"pde": 1.0}, 0.0))
    box(Snapshot(1, {}, {}, 0.5))
    box(Snapshot(2, {}, {}, 0.4))
    steps, snap, other = box.drain()
    assert [s.step for s in steps] == [7, 8, 9] and snap.step == 2 and other == []
    assert box.drain() == ([], None, [])


def test_configs_round_trip_through_json_and_validate():
    cfg = TrainConfig(steps=123, loss_weights={"ic": 10.0}, dtype="float64")
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))).to_dict() == cfg.to_dict()
    m = get_model_config("mlp", width=16)
    assert type(m).from_dict(m.to_dict()).width == 16
    with pytest.raises(ValueError, match="Lr must be"):
        TrainConfig(lr=5.0)
    with pytest.raises(ValueError, match="Dtype must be one of"):
        TrainConfig(dtype="float16")
    with pytest.raises(ValueError, match="Loss weights"):
        TrainConfig(loss_weights={"ic": -1})
    with pytest.raises(ValueError, match="unknown model"):
        get_model_config("transformer")
