"""Steady Joule heating (lab.solvers.joule, catalogue entry joule_heating2d): the manufactured
solution, second-order convergence of the coupled finite-difference solver, refusals and a
brief PINN training."""
import numpy as np
import pytest
import torch

from lab.autodiff import Fields
from lab.config import ConfigError
from lab.problems import get_problem, list_problems
from lab.solvers.joule import joule_solve

F64 = torch.float64


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))


def test_the_coupled_solver_converges_at_second_order():
    """Max errors against the manufactured solution on 9, 17, 33 nodes per side: measured
    9.1e-3, 2.3e-3, 5.6e-4 (phi) and 6.3e-3, 1.5e-3, 3.7e-4 (T): observed order 2.00."""
    p = get_problem("joule_heating2d")
    errors = []
    for n in (9, 17, 33):
        phi, T = p.solve(n)
        x = torch.linspace(0, 1, n, dtype=F64)
        pe, Te = p.exact(*torch.meshgrid(x, x, indexing="ij"))
        errors.append([float((phi - pe).abs().max()), float((T - Te).abs().max())])
    errors = np.array(errors)
    orders = np.log2(errors[:-1] / errors[1:])
    assert np.all(np.abs(orders - 2) < 0.1), orders
    assert errors[-1].max() < 1e-3


def test_the_coupling_works_both_ways():
    """With no manufactured sources and cold walls the current alone heats the square (measured
    centre T = 0.072 at beta = 0.5), and the heat lowers the current (the same set-up at
    beta = 0 is hotter: the conductivity does not drop)."""
    n = 17
    x = torch.linspace(0, 1, n, dtype=F64)
    X, _ = torch.meshgrid(x, x, indexing="ij")
    zero = torch.zeros_like(X)
    T = {beta: joule_solve(n, sigma0=1.0, beta=beta, phi_b=X, T_b=zero)[1] for beta in (0.0, 0.5)}
    centre = {beta: float(t[n // 2, n // 2]) for beta, t in T.items()}
    assert 0.06 < centre[0.5] < centre[0.0]
    assert centre[0.0] - centre[0.5] > 1e-3


def test_residual_is_exact_on_the_manufactured_solution():
    p = get_problem("joule_heating2d")
    pts = p.sample(64, 0, 0, torch.Generator().manual_seed(0), dtype=F64)["pde"]

    def exact(Z):
        return torch.stack(p.exact(Z[:, 0], Z[:, 1]), 1)

    r = p.residual(Fields(exact, pts, p.axes)).detach()
    assert r.shape == (64, 2) and float(r.abs().max()) < 1e-12
    hotter = lambda Z: exact(Z) * torch.tensor([1.0, 1.1], dtype=F64)  # noqa: E731
    assert float(p.residual(Fields(hotter, pts, p.axes)).detach().abs().max()) > 1e-2
    ref = p.reference(p.grid((5, 5)))
    assert ref.shape == (5, 5, 2) and abs(ref[2, 2, 1] - 1.0) < 1e-12


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ConfigError, match="Beta"):
        get_problem("joule_heating2d", beta=2.0)
    n = 9
    ones = torch.ones(n, n, dtype=F64)
    with pytest.raises(ValueError, match="^n must"):
        joule_solve(3, sigma0=1.0, beta=0.0, phi_b=ones, T_b=ones)
    with pytest.raises(ValueError, match="beta=-2 drives 1 \\+ beta T to zero"):
        joule_solve(n, sigma0=1.0, beta=-2.0, phi_b=ones, T_b=ones)


def test_a_pinn_trains_briefly_on_joule_heating():
    from lab import TrainConfig, Trainer, get_model_config
    from lab.training.events import Step

    assert "joule_heating2d" in list_problems()
    events = []
    cfg = TrainConfig(steps=40, n_pde=128, n_bc=64, lr=3e-3, log_every=5, snapshot_every=40,
                      checkpoint_every=40)
    result = Trainer(get_problem("joule_heating2d"), get_model_config("mlp", width=16, depth=2), cfg,
                     sinks=[events.append]).run()
    assert result.status == "completed"
    total = [sum(e.losses.values()) for e in events if isinstance(e, Step)]
    assert np.isfinite(total).all() and total[-1] < total[0]
