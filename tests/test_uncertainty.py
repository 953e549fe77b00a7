"""Uncertainty: a vmapped ensemble is its members trained one by one, Gaussian scores against
closed forms and quadrature, last-layer Laplace against Bayesian linear regression, coverage
of a calibrated sample, and clear refusals of bad requests."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from lab.diagnostics.calibration import calibration, coverage, crps_gaussian, gaussian_nll
from lab.models import get_model_config
from lab.problems import get_problem
from lab.uq.dropout import MCDropout
from lab.uq.ensemble import Ensemble, Stacked
from lab.uq.laplace import LastLayerLaplace
from lab.uq.methods import adam, pinn_member_losses, run_uq


def test_a_vmapped_pinn_ensemble_equals_its_members_trained_one_by_one():
    problem = get_problem("burgers")
    config = get_model_config("mlp", width=8, depth=2)
    build = lambda g: config.build(problem, g).double()  # noqa: E731
    M, steps = 3, 6

    def batches():
        gen = torch.Generator().manual_seed(5)
        return [problem.sample(40, 10, 10, gen, dtype=torch.float64) for _ in range(steps)]

    ens = Ensemble(build, M, seed=11)
    data = batches()
    adam(ens.member_parameters(), lambda k: pinn_member_losses(
        problem, Stacked(ens), {t: X.repeat(M, 1) for t, X in data[k].items()}, M).sum(), steps, 1e-2)
    for m in range(M):
        alone = build(torch.Generator().manual_seed(11 + m))
        adam(list(alone.parameters()), lambda k: pinn_member_losses(problem, alone, data[k], 1).sum(), steps, 1e-2)
        trained = ens.member(m)
        for (name, a), b in zip(alone.named_parameters(), trained.parameters()):
            torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12, msg=name)
    # the members moved apart from their initial values (the comparison is not of untrained nets)
    assert not torch.allclose(ens.member(0)[1][0].weight, build(torch.Generator().manual_seed(11))[1][0].weight)


def test_an_fno_ensemble_evaluates_each_member_as_it_would_alone():
    problem = get_problem("darcy_operator", resolution=13, solve_resolution=25, grf_modes=8)
    config = get_model_config("fno", width=6, modes=4, n_layers=2, projection_channels=8)
    ens = Ensemble(lambda g: config.build(problem, g).double(), 2, seed=3)
    x = torch.randn(4, problem.in_channels, 13, 13, dtype=torch.float64)
    out = ens(x)
    assert out.shape == (2, 4, 1, 13, 13)
    for m in range(2):
        torch.testing.assert_close(out[m], ens.member(m)(x), rtol=1e-12, atol=1e-12)


def test_gaussian_scores_match_closed_forms_and_quadrature():
    sigma = 0.7
    assert crps_gaussian([2.0], [2.0], [sigma]) == pytest.approx(sigma * (math.sqrt(2) - 1) / math.sqrt(math.pi), rel=1e-14)
    assert gaussian_nll([2.0], [2.0], [sigma]) == pytest.approx(0.5 * math.log(2 * math.pi * sigma**2), rel=1e-14)
    assert gaussian_nll([3.0], [1.0], [2.0]) == pytest.approx(0.5 * math.log(8 * math.pi) + 0.5, rel=1e-14)
    y, mu = 1.3, -0.4
    F = stats.norm(mu, sigma).cdf
    # CRPS = int (F(x) - 1{x >= y})^2 dx (Gneiting & Raftery 2007, eq. 20)
    quad = integrate.quad(lambda x: F(x) ** 2, -np.inf, y)[0] + integrate.quad(lambda x: (1 - F(x)) ** 2, y, np.inf)[0]
    assert crps_gaussian([y], [mu], [sigma]) == pytest.approx(quad, rel=1e-8)
    # a vanishing spread leaves the absolute error
    assert crps_gaussian([y], [mu], [1e-9]) == pytest.approx(abs(y - mu), rel=1e-8)


def test_a_calibrated_gaussian_sample_covers_its_nominal_levels_and_an_overconfident_one_does_not():
    rng = np.random.default_rng(0)
    n = 200_000
    mu, sigma = rng.normal(size=n), rng.uniform(0.5, 2.0, n)
    y = mu + sigma * rng.normal(size=n)
    cal = calibration(y, mu, sigma)
    for p, c in cal.coverage.items():  # binomial standard error < 0.0012 at n = 2e5
        assert abs(c - p) < 0.005, (p, c)
    assert coverage(y, mu, sigma / 2, 0.9) == pytest.approx(2 * stats.norm.cdf(stats.norm.ppf(0.95) / 2) - 1, abs=0.005)
    # the true spread has the lower (better) NLL and CRPS than a wrong one
    assert cal.nll < gaussian_nll(y, mu, sigma / 2) and cal.nll < gaussian_nll(y, mu, 2 * sigma)
    assert cal.crps < crps_gaussian(y, mu, sigma / 2)


def test_last_layer_laplace_of_a_linear_model_is_the_bayesian_linear_regression_posterior():
    gen = torch.Generator().manual_seed(0)
    n, c, noise, tau = 40, 3, 0.3**2, 2.0
    X = torch.randn(n, c, generator=gen, dtype=torch.float64)
    y = X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.7 + 0.3 * torch.randn(n, generator=gen,
                                                                                             dtype=torch.float64)
    model = torch.nn.Linear(c, 1).double()  # any weights: the posterior does not depend on them
    lap = LastLayerLaplace(model, prior_precision=tau)
    Phi = lap.features(lambda: model(X))
    with torch.no_grad():
        r = model(X)[:, 0] - y
    lap.fit({"data": (Phi, r)}, noise={"data": noise})
    A = torch.cat([X, torch.ones(n, 1, dtype=torch.float64)], 1)
    cov = torch.linalg.inv(A.T @ A / noise + tau * torch.eye(c + 1, dtype=torch.float64))
    torch.testing.assert_close(lap.covariance, cov, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(lap.posterior_mean(), cov @ A.T @ y / noise, rtol=1e-12, atol=1e-12)
    Xs = torch.randn(5, c, generator=gen, dtype=torch.float64)
    As = torch.cat([Xs, torch.ones(5, 1, dtype=torch.float64)], 1)
    torch.testing.assert_close(lap.variance(lap.features(lambda: model(Xs))), torch.diag(As @ cov @ As.T), rtol=1e-12, atol=0)
    # the residual Jacobian of a data term is the same design matrix
    torch.testing.assert_close(lap.residual_jacobian(model(X)[:, 0] - y), Phi)


def test_mc_dropout_draws_masks_only_while_on_and_keeps_the_mean_unbiased():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 200), torch.nn.Tanh(), torch.nn.Linear(200, 1)).double()
    x = torch.ones(1, 1, dtype=torch.float64)
    drop = MCDropout(model, 0.3, layers=1, generator=torch.Generator().manual_seed(1))
    mean, std = drop.predict(x.expand(20_000, 1), 2)
    with torch.no_grad():
        samples = model(x.expand(20_000, 1))
    assert std.min() > 0
    # inverted dropout: E[output] is the deterministic output (20000 masks, 4 standard errors)
    drop.remove()
    with torch.no_grad():
        exact = model(x)
    assert abs(samples.mean() - exact[0, 0]) < 4 * samples.std() / math.sqrt(20_000)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("kw, match", [
    (dict(method="ensemble", members=1), "members must be an integer of at least 2"),
    (dict(method="dropout", rate=1.0), r"dropout rate must be in \[0, 1\)"),
    (dict(method="dropout", rate=-0.1), r"dropout rate must be in \[0, 1\)"),
    (dict(method="bootstrap"), "uncertainty method must be one of"),
    (dict(method="ensemble", model=torch.nn.Linear(2, 1)), "scored by 'laplace'"),
])
def test_bad_requests_are_refused_naming_the_setting(kw, match):
    with pytest.raises(ValueError, match=match):
        run_uq(get_problem("burgers"), steps=1, **kw)


def test_bad_scores_and_layers_are_refused():
    with pytest.raises(ValueError, match="level must be in"):
        coverage([0.0], [0.0], [1.0], 1.0)
    with pytest.raises(ValueError, match="standard deviation must be finite and > 0"):
        crps_gaussian([0.0], [0.0], [0.0])
    with pytest.raises(ValueError, match="dropout layers must be in"):
        MCDropout(torch.nn.Linear(2, 1), 0.1)
    with pytest.raises(ValueError, match="one output"):
        LastLayerLaplace(torch.nn.Linear(2, 3))


def test_every_method_scores_a_short_burgers_pinn_run():
    problem = get_problem("burgers")
    for method in ("ensemble", "dropout", "laplace"):
        r = run_uq(problem, method, members=2, steps=3, width=8, depth=2, samples=4, points=(64, 16, 16))
        assert r.mean.shape == r.std.shape == r.reference.shape == (256, 101)
        assert (r.std > 0).all() and np.isfinite(r.calibration.nll)
        assert set(r.calibration.coverage) == {0.5, 0.9, 0.95}
