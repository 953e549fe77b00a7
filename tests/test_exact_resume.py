"""A run stopped at step k and continued equals the uninterrupted run, bit for bit.

Every method's state that shapes the rest of a run — the sampling generator, the current
collocation points or RAD draw, balancing weights, causal weighting's level, the L-BFGS
history, the neural ODE's windows, the operator task's batch order — travels in the
checkpoint. On the CPU in float64 each continued run must give *identical* weights
(``torch.equal``); a GPU's non-deterministic kernels would need a tolerance, not these tests.
"""
import pytest
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.training.events import Step
from lab.problems.chaos import Lorenz63
from lab.training.tasks.ode import ODETask

BASE = dict(dtype="float64", device="cpu", lr=1e-2, lr_schedule="exponential", lr_decay=0.5,
            lr_decay_steps=4, log_every=1, snapshot_every=1000, checkpoint_every=1000,
            n_pde=64, n_ic=16, n_bc=16)

PINN = ("heat", {}, "mlp", dict(width=8, depth=2))
#: (problem key, problem params, model kind, model params, training overrides, stop after step)
CASES = {
    "fixed_points": (*PINN, {}, 5),
    "resample_every": (*PINN, dict(resample_every=3), 4),
    "rad": (*PINN, dict(resample_every=3, resampling="rad", rad_candidates=4), 4),
    "grad_norm": (*PINN, dict(balancing="grad_norm", balance_every=3, balance_momentum=0.5), 4),
    "ntk": (*PINN, dict(balancing="ntk", balance_every=3, ntk_points=4), 4),
    "causal": (*PINN, dict(causal=True, causal_chunks=4, causal_eps=[1e-3, 1e-2, 1e-1, 1.0]), 5),
    "lbfgs": (*PINN, dict(steps=4, lbfgs_steps=8, log_every=2, resample_every=3), 8),
    "pig": ("heat", {}, "pig", dict(n_gaussians=12, chunk_size=64), dict(resample_every=3), 4),
    "neural_ode": ("lorenz63", dict(t_end=1.0), "neural_ode", dict(width=8, depth=1), {}, 4),
    "fno": ("burgers_operator", dict(n_train=8, n_val=2, batch_size=3, resolution=16, solve_resolution=32),
            "fno", dict(modes=3, width=4, n_layers=1, projection_channels=4), {}, 4),
    "deeponet": ("burgers_operator", dict(n_train=8, n_val=2, batch_size=3, resolution=16, solve_resolution=32),
                 "deeponet", dict(branch_width=8, branch_depth=1, trunk_width=8, trunk_depth=1, basis=4), {}, 4),
}


def _run(case, tmp_path, stop_after=None):
    key, pparams, kind, mparams, overrides, _ = CASES[case]
    cfg = TrainConfig(**{**BASE, "steps": 10, **overrides})
    tr = Trainer(get_problem(key, **pparams), get_model_config(kind, **mparams), cfg, runs_dir=tmp_path)
    if stop_after is not None:
        tr.subscribe(lambda e: tr.stop() if isinstance(e, Step) and e.step == stop_after else None)
    result = tr.run()
    return tr, result


@pytest.fixture
def cheap_ode_snapshots(monkeypatch):
    """The neural ODE's snapshots roll out over the reference grid and estimate Lyapunov
    exponents: a coarse grid and a short span keep them cheap."""
    monkeypatch.setattr(ODETask, "lyapunov_time", 0.5)
    monkeypatch.setattr(Lorenz63, "grid_shape", (101,))


@pytest.mark.fault("resume")
@pytest.mark.parametrize("case", list(CASES))
def test_a_run_stopped_and_continued_equals_the_uninterrupted_run(case, tmp_path, cheap_ode_snapshots):
    whole, done = _run(case, tmp_path)
    assert done.status == "completed", done.message
    k = CASES[case][-1]
    _, stopped = _run(case, tmp_path, stop_after=k)
    assert stopped.status == "stopped" and stopped.step == k, stopped.message
    again = Trainer.resume(stopped.run_dir)
    result = again.run()
    assert result.status == "completed" and result.step == done.step, result.message
    ref = whole.model.state_dict()
    got = again.model.state_dict()
    assert set(got) == set(ref)
    differ = [name for name in ref if not torch.equal(got[name], ref[name])]
    assert not differ, f"{case}: continued run differs in {differ}"


@pytest.mark.fault("resume")
def test_a_run_stopped_during_lbfgs_continues_in_lbfgs(tmp_path):
    """The stop of the L-BFGS case falls inside the L-BFGS phase (Adam ended at step 4), and
    the continued run runs only the L-BFGS iterations left."""
    phases = []
    _, stopped = _run("lbfgs", tmp_path, stop_after=8)
    again = Trainer.resume(stopped.run_dir, sinks=[lambda e: phases.append(e.phase) if isinstance(e, Step) else None])
    assert again.config.steps == 0 and again.config.lbfgs_steps == 4
    assert again.run().step == 12
    assert phases and set(phases) == {"lbfgs"}
