"""Operator training through the shared Trainer, and the PINO residuals on true solutions."""
import math

import numpy as np
import pytest
import torch

from lab.data.datasets import BurgersData, DarcyData, NS2DData
from lab.models import get_model_config
from lab.problems import get_problem
from lab.solvers import residuals
from lab.solvers.navier_stokes import fno_forcing
from lab.training.config import TrainConfig
from lab.training.events import Done, Preparing, Snapshot, Started
from lab.training.les_pino import les_pino_demo
from lab.training.tasks.operator import super_resolution
from lab.training.trainer import Trainer


@pytest.mark.slow
def test_fno_learns_burgers_well_below_the_trivial_predictor(tmp_path):
    problem = get_problem("burgers_operator", n_train=48, n_val=16, batch_size=16, resolution=32,
                          solve_resolution=128)
    model = get_model_config("fno", modes=8, width=16, n_layers=3, projection_channels=32)
    train = TrainConfig(steps=150, lr=5e-3, lr_schedule="cosine", snapshot_every=150, device="cpu")
    snaps = []
    trainer = Trainer(problem, model, train, runs_dir=tmp_path,
                      sinks=[lambda e: snaps.append(e) if isinstance(e, Snapshot) else None])
    result = trainer.run()
    assert result.status == "completed", result.message
    trivial = snaps[-1].extras["trivial_rel_l2"]
    assert trivial > 0.5 and result.rel_l2 < 0.1 * trivial, (result.rel_l2, trivial)
    assert set(snaps[-1].fields) == {"input", "prediction", "reference", "error"}
    spec = snaps[-1].extras["spectrum"]
    assert len(spec["k"]) == len(spec["prediction"]) == len(spec["reference"])
    # zero-shot on the same samples at 4x the resolution: same operator, similar error
    fine = super_resolution(trainer.model, problem, 128)
    assert fine < 2 * result.rel_l2 + 0.02, (fine, result.rel_l2)


def test_rollout_task_reports_error_per_step(tmp_path):
    problem = get_problem("ns2d_operator", n_train=4, n_val=2, batch_size=2, resolution=16, solve_resolution=32,
                          time_steps=4, history=2, rollout_steps=2, eval_steps=3, physics=True)
    model = get_model_config("fno", modes=4, width=8, n_layers=2, projection_channels=8)
    snaps = []
    train = TrainConfig(steps=2, snapshot_every=2, loss_weights={"pde": 0.1}, device="cpu")
    result = Trainer(problem, model, train, runs_dir=tmp_path,
                     sinks=[lambda e: snaps.append(e) if isinstance(e, Snapshot) else None]).run()
    assert result.status == "completed", result.message
    assert len(snaps[-1].extras["rollout_error"]) == 3
    assert snaps[-1].fields["prediction"].shape == (16, 16)


NS_SMALL = dict(n_train=4, n_val=2, batch_size=2, resolution=16, solve_resolution=32, time_steps=6)


def test_spacetime_ns_holds_the_rollout_frames_and_reports_each_frame(tmp_path):
    """The FNO-3D setting reads the rollout setting's very data: the history frames repeated
    along t as input, the next ``frames`` frames as the space-time output. Its snapshot draws
    the last frame over (x, y) and gives the error of every frame."""
    st = get_problem("ns2d_spacetime_operator", history=2, frames=4, **NS_SMALL)
    traj = get_problem("ns2d_operator", history=2, **NS_SMALL).dataset("val")["trajectories"][:, :, 0]
    val = st.dataset("val")
    assert val["x"].shape == (2, 2, 16, 16, 4) and val["y"].shape == (2, 1, 16, 16, 4)
    for r in range(4):
        assert torch.equal(val["x"][..., r], traj[:, :2]) and torch.equal(val["y"][:, 0, ..., r], traj[:, 2 + r])
    assert np.allclose(st.grid()["t"], [2, 3, 4, 5])
    with pytest.raises(ValueError, match="history \\+ frames = 8 exceeds the 7 recorded frames"):
        get_problem("ns2d_spacetime_operator", history=2, frames=6, **NS_SMALL)

    snaps = []
    result = Trainer(st, get_model_config("fno", modes=3, width=8, n_layers=2, projection_channels=8),
                     TrainConfig(steps=2, snapshot_every=2, device="cpu"), runs_dir=tmp_path,
                     sinks=[lambda e: snaps.append(e) if isinstance(e, Snapshot) else None]).run()
    assert result.status == "completed", result.message
    snap = snaps[-1]
    assert list(snap.grid) == ["x", "y"] and snap.fields["prediction"].shape == (16, 16)
    assert np.array_equal(snap.fields["reference"], traj[0, 5].double().numpy())  # frame 2 + 4 - 1
    errors = snap.extras["rollout_error"]
    assert len(errors) == 4 and 0 < min(errors)
    assert "spectrum" in snap.extras  # the drawn frame lies on the periodic (x, y) box


def test_burgers_residual_small_for_the_solution_and_second_order_in_time():
    errs, perturbed = [], []
    for frames in (11, 21, 41):
        u = torch.as_tensor(BurgersData(n_samples=2, solve_resolution=128, resolution=128, time_frames=frames,
                                        storage="float64").generate()["y"])[:, 0]
        dt = 1.0 / (frames - 1)
        skip = round(0.2 / dt)  # the rough GRF start is not resolved in time before t ~ 0.2
        errs.append(float(residuals.burgers_residual(u, nu=0.1, dt=dt)[:, skip:].pow(2).mean().sqrt()))
        bump = 0.01 * torch.sin(2 * math.pi * torch.arange(128) / 128)[:, None]
        perturbed.append(float(residuals.burgers_residual(u + bump, nu=0.1, dt=dt)[:, skip:].pow(2).mean().sqrt()))
    order = -np.polyfit(np.log([11, 21, 41]), np.log(errs), 1)[0]
    assert 1.8 < order < 2.2, (errs, order)
    assert errs[-1] < 0.05 * perturbed[-1]


def test_ns_vorticity_residual_second_order_and_discriminating():
    errs = []
    for rd in (0.2, 0.1, 0.05):
        w = torch.as_tensor(NS2DData(n_samples=1, solve_resolution=32, resolution=32, time_steps=round(0.4 / rd),
                                     record_dt=rd, storage="float64").generate()["w"])
        errs.append(float(residuals.vorticity_residual(w, nu=1e-3, dt=rd, forcing=fno_forcing(32)).pow(2).mean().sqrt()))
    order = math.log(errs[0] / errs[-1]) / math.log(4)
    assert 1.8 < order < 2.2, (errs, order)
    wrong = float(residuals.vorticity_residual(w * 1.05, nu=1e-3, dt=0.05, forcing=fno_forcing(32)).pow(2).mean().sqrt())
    assert errs[-1] < 0.05 * wrong


def test_darcy_residual_vanishes_on_the_discrete_solution():
    d = DarcyData(n_samples=2, solve_resolution=33, resolution=33, storage="float64").generate()
    a, u = torch.as_tensor(d["x"])[:, 0], torch.as_tensor(d["y"])[:, 0]
    assert residuals.darcy_residual(a, u).abs().max() < 1e-9
    assert residuals.darcy_residual(a, 1.02 * u).abs().max() > 1e-2
    assert residuals.boundary_values(u).abs().max() == 0


def test_darcy_operator_data_follow_the_low_phase_and_field_modes():
    """The paper's two data variants: its generation script's low phase 4 and a field with as
    many cosine modes as the solver grid; the input channel maps both phases to -1 and +1."""
    kw = dict(n_train=2, n_val=1, batch_size=2, resolution=17, solve_resolution=33)
    base = get_problem("darcy_operator", **kw)
    low4 = get_problem("darcy_operator", a_low=4.0, **kw)
    fine = get_problem("darcy_operator", grf_modes=33, **kw)
    assert set(np.unique(low4.arrays()["x"])) == {4.0, 12.0}
    assert set(torch.unique(low4.dataset("train")["x"]).tolist()) == {-1.0, 1.0}
    assert np.array_equal(base.arrays()["x"] == 12.0, low4.arrays()["x"] == 12.0)  # same field, other value
    assert not np.array_equal(base.arrays()["x"], fine.arrays()["x"])


def test_les_pino_demo_learns_from_the_residual_alone():
    out = les_pino_demo(n_dns=12, n_les=8, dt=0.05, rollout=2, n_train=2, steps=40, modes=3, width=8)
    assert out["residual_after"] < 0.05 * out["residual_before"], out
    # the comparison is meaningful: the classical LES tracks the filtered DNS better than
    # persistence (at this tiny size the residual-trained FNO does not yet; see the benchmark)
    assert out["rel_l2_les"][-1] < out["rel_l2_persistence"][-1], out
    assert all(math.isfinite(e) for e in out["rel_l2_pino"]), out
    assert len(out["spectrum"]["k"]) == len(out["spectrum"]["pino"])


def test_data_generation_is_reported_before_training_and_stop_keeps_the_finished_chunks(tmp_path, monkeypatch):
    """A fresh dataset emits Preparing events (samples done, rising to the total) before
    Started; Stop during generation ends the run after the chunk in progress, and the run,
    continued, generates only the chunks still missing."""
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path / "cache"))  # a dataset no test made before
    problem = get_problem("darcy_operator", n_train=6, n_val=2, batch_size=2, resolution=9,
                          solve_resolution=17, solver_batch=3)  # chunks of 3, 3 and 2 samples
    model = get_model_config("fno", modes=3, width=8, n_layers=2, projection_channels=8)
    train = TrainConfig(steps=2, snapshot_every=2, device="cpu")

    events = []

    def stop_after_two_chunks(ev):
        events.append(ev)
        if isinstance(ev, Preparing) and ev.done == 6:
            trainer.stop()
    trainer = Trainer(problem, model, train, runs_dir=tmp_path, sinks=[stop_after_two_chunks])
    stopped = trainer.run()
    assert stopped.status == "stopped" and stopped.step == 0
    assert [(e.done, e.total) for e in events if isinstance(e, Preparing)] == [(3, 8), (6, 8)]
    assert not any(isinstance(e, Started) for e in events) and isinstance(events[-1], Done)

    events.clear()
    result = Trainer.resume(stopped.run_dir, sinks=[events.append]).run()
    assert result.status == "completed" and result.step == 2, result.message
    kinds = [type(e) for e in events]
    assert [(e.done, e.total) for e in events if isinstance(e, Preparing)] == [(6, 8), (8, 8)]
    assert kinds.index(Started) == 2  # both Preparing events came first

    events.clear()
    Trainer(problem, model, train, runs_dir=tmp_path, sinks=[events.append]).run()
    assert not any(isinstance(e, Preparing) for e in events)  # cached: nothing to prepare
