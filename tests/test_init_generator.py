"""Initial weights come from the run's own generator, never from torch's global one.

Sessions of one app server train in threads of one process: a run that seeded the global
generator before building its model would get other weights whenever another thread drew
from it in between, and would shift the draws of everyone else.
"""
import threading

import pytest
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem

OPERATOR = dict(n_train=4, n_val=2, batch_size=2, resolution=16, solve_resolution=32)
MODELS = {
    "mlp": ("heat", {}, dict(width=8, depth=2)),
    "fourier_mlp": ("heat", {}, dict(width=8, depth=2, fourier_features=4)),
    "modified_mlp": ("heat", {}, dict(width=8, depth=2, fourier_features=4)),
    "pirate": ("heat", {}, dict(width=8, blocks=1, fourier_features=4)),
    "pig": ("heat", {}, dict(n_gaussians=10, chunk_size=16)),
    "lagrangian": ("burgers", {}, dict(width=8, depth=2)),
    "neural_ode": ("lorenz63", {}, dict(width=8, depth=1)),
    "fno": ("burgers_operator", OPERATOR, dict(modes=3, width=4, n_layers=1, projection_channels=4)),
    "deeponet": ("burgers_operator", OPERATOR, dict(branch_width=8, branch_depth=1, trunk_width=8,
                                                    trunk_depth=1, basis=4)),
}


def _weights(kind, seed):
    key, pparams, mparams = MODELS[kind]
    model = get_model_config(kind, **mparams).build(get_problem(key, **pparams),
                                                    generator=torch.Generator().manual_seed(seed))
    return {**model.state_dict()}


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_model_draws_its_initial_values_from_the_given_generator_alone(kind):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b, c = _weights(kind, 1), _weights(kind, 1), _weights(kind, 2)
    assert torch.equal(torch.random.get_rng_state(), before), "the global generator was used"
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def _initial_weights(seed):
    """A run's initial weights: ``steps=0`` trains nothing."""
    cfg = TrainConfig(steps=0, seed=seed, dtype="float64", device="cpu", n_pde=16, n_ic=4, n_bc=4)
    tr = Trainer(get_problem("heat"), get_model_config("mlp", width=64, depth=4), cfg)
    assert tr.run().status == "completed"
    return tr.model.state_dict()


@pytest.mark.fault("threads")
def test_runs_built_at_once_in_threads_get_the_initial_weights_of_their_seed(monkeypatch):
    """Two runs with different seeds build their models in lockstep — every weight draw of one
    waits for the other's — and each gets the weights it gets alone."""
    alone = {seed: _initial_weights(seed) for seed in (1, 2)}
    together = threading.Barrier(2, timeout=60)
    xavier = torch.nn.init.xavier_normal_

    def in_lockstep(tensor, *args, **kwargs):
        together.wait()  # both runs are inside their builds here
        return xavier(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.nn.init, "xavier_normal_", in_lockstep)
    got, errors = {}, []

    def run(seed):
        try:
            got[seed] = _initial_weights(seed)
        except Exception as err:  # reported below, in the test's thread
            errors.append(err)
            together.abort()

    threads = [threading.Thread(target=run, args=(s,)) for s in alone]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for seed, ref in alone.items():
        assert all(torch.equal(got[seed][k], v) for k, v in ref.items()), f"seed {seed} got other weights"
