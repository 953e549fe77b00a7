"""Stable neural SDEs: the structure of each class's drift and diffusion (bounded, state- or
time-independent, vanishing where the paper's form makes them vanish), the missing-data
sampler, a short training run lowering the loss, and a zero-diffusion SDE converging to the
ODE of its drift at Euler's first order."""
import math

import pytest
import torch

from lab.data.irregular import observed_mask
from lab.models.neural_sde import SDE_CLASSES, StableSDE
from lab.problems import get_problem
from lab.solvers.ode import dopri5
from lab.uq.sde import build, masked_window_loss, series, train_and_forecast

pytest.importorskip("torchsde")


def _model(kind, d=3, latent=5):
    return StableSDE(kind, d, latent=latent, width=16, generator=torch.Generator().manual_seed(0)).double()


@pytest.mark.parametrize("kind", SDE_CLASSES)
def test_each_class_has_bounded_diagonal_coefficients_and_path_shapes(kind):
    m = _model(kind)
    z = 1e3 * torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    f, g = m.f(torch.tensor(0.3), z), m.g(torch.tensor(0.3), z)
    assert f.shape == g.shape == (7, 5)
    assert f.abs().max() <= 1 and g.abs().max() <= 1  # tanh-bounded drift and diffusion
    paths = m.paths(torch.zeros(4, 3, dtype=torch.float64), torch.linspace(0, 0.05, 6, dtype=torch.float64), 2)
    assert paths.shape == (6, 2, 4, 3)


def test_the_langevin_class_has_an_autonomous_drift_and_additive_noise():
    m = _model("langevin")
    z1, z2 = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    torch.testing.assert_close(m.f(0.1, z1), m.f(2.7, z1), rtol=0, atol=0)
    torch.testing.assert_close(m.g(0.4, z1), m.g(0.4, z2), rtol=0, atol=0)
    assert not torch.allclose(m.g(0.4, z1), m.g(1.9, z1))


@pytest.mark.parametrize("kind", ["linear_noise", "geometric"])
def test_multiplicative_classes_have_no_noise_on_a_zero_component(kind):
    m = _model(kind)
    z = torch.randn(4, 5, dtype=torch.float64)
    z[:, 2] = 0.0
    g, f = m.g(0.7, z), m.f(0.7, z)
    assert torch.all(g[:, 2] == 0) and torch.all(g[:, [0, 1, 3, 4]] != 0)
    if kind == "geometric":  # dz/z is Langevin-type: a component at 0 has no drift either
        assert torch.all(f[:, 2] == 0)
    else:
        assert torch.any(f[:, 2] != 0)


def test_the_missing_data_sampler_keeps_the_first_point_and_drops_the_asked_fraction():
    for missing in (0.0, 0.3, 0.5, 0.7):
        mask = observed_mask(101, missing, torch.Generator().manual_seed(2))
        assert mask[0] and int((~mask).sum()) == round(missing * 100)
    a, b = (observed_mask(50, 0.5, torch.Generator().manual_seed(s)) for s in (3, 3))
    assert torch.equal(a, b)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"missing fraction must be in \[0, 1\)"):
            observed_mask(10, bad, torch.Generator())


def test_a_zero_diffusion_sde_converges_to_the_ode_of_its_drift_at_first_order():
    m = _model("linear_noise")
    with torch.no_grad():
        m.theta.fill_(-math.inf)  # sigmoid(-inf) = 0: no noise
    y0 = torch.tensor([[0.5, -0.2, 0.1]], dtype=torch.float64)
    T = torch.tensor([0.0, 1.0], dtype=torch.float64)
    with torch.no_grad():
        exact = m.decode(dopri5(m.f, m.encode(y0), T, rtol=1e-12, atol=1e-12)[-1])
        errors = [float((m.paths(y0, T, 1, dt=h)[-1, 0] - exact).abs().max()) for h in (0.02, 0.01, 0.005)]
    orders = [math.log2(a / b) for a, b in zip(errors[:-1], errors[1:])]
    assert all(abs(p - 1) < 0.1 for p in orders), (errors, orders)
    assert errors[-1] < 1e-2


def test_a_short_training_run_lowers_the_masked_rollout_loss():
    problem = get_problem("lorenz63", t_end=2.0)
    problem.grid_shape = (201,)
    data = series(problem, missing=0.5, seed=0)
    assert int(data.observed.sum()) == data.split - round(0.5 * (data.split - 1))

    def loss_of(model):
        fixed = masked_window_loss(data, window=5, batch=16, samples=2, generator=torch.Generator().manual_seed(9))
        with torch.no_grad():
            return float(fixed(model, 0))

    r = train_and_forecast(problem, "langevin", missing=0.5, steps=25, window=5, batch=16, samples=2,
                           eval_samples=4, horizon=20, width=16, latent=6, data=data)
    before = loss_of(build("langevin", 3, width=16, latent=6, seed=0))
    assert r.final_loss < 0.7 * before, (before, r.final_loss)
    assert r.paths.shape[1:] == (4, 3) and r.paths.shape[0] == len(r.reference)
    with pytest.raises(ValueError, match="model must be one of"):
        build("brownian", 3)
