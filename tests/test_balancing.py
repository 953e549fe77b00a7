"""Loss balancing (gradient norm, NTK trace) and residual-adaptive resampling (RAD)."""
import math

import pytest
import torch

from lab.models import get_model_config
from lab.problems.base import Problem
from lab.training import TrainConfig
from lab.training.balancing import MovingWeights, balanced, grad_norms, ntk_traces
from lab.training.resampling import rad_sample
from lab.training.tasks.pinn import PINNTask


def test_grad_norm_weights_on_a_two_term_toy_loss():
    a = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-0.5, dtype=torch.float64, requires_grad=True)
    terms = {"one": (3 * a) ** 2, "two": (a + 2 * b) ** 2}
    norms = grad_norms(terms, [a, b])
    # ∇(9a²) = (18a, 0) = (27, 0); ∇(a + 2b)² = 2(a + 2b)(1, 2) = (1, 2)
    assert norms["one"] == pytest.approx(27.0, rel=1e-15)
    assert norms["two"] == pytest.approx(math.sqrt(5.0), rel=1e-15)
    lam = balanced(norms)
    s = 27.0 + math.sqrt(5.0)
    assert lam["one"] == pytest.approx(s / 27.0, rel=1e-15)
    assert lam["two"] == pytest.approx(s / math.sqrt(5.0), rel=1e-15)
    # weighted terms pull equally hard
    assert lam["one"] * norms["one"] == pytest.approx(lam["two"] * norms["two"], rel=1e-14)


def test_moving_average_starts_from_one():
    mw = MovingWeights(0.9)
    mw.update({"pde": 1.0, "ic": 11.0})
    assert mw.weights == pytest.approx({"pde": 1.0, "ic": 0.9 + 1.1})
    mw.update({"pde": 1.0, "ic": 21.0})
    assert mw.weights["ic"] == pytest.approx(0.9 * 2.0 + 2.1)
    with pytest.raises(ValueError, match="balance_momentum"):
        MovingWeights(1.0)


def test_ntk_trace_of_a_linear_model():
    """r_j = x_j · θ has ∇_θ r_j = x_j, so the NTK diagonal mean is mean ‖x_j‖²."""
    theta = torch.randn(3, dtype=torch.float64, requires_grad=True)
    g = torch.Generator().manual_seed(0)
    X1 = torch.randn(10, 3, generator=g, dtype=torch.float64)
    X2 = 5 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    tr = ntk_traces({"pde": X1 @ theta, "bc": X2 @ theta}, [theta])
    assert tr["pde"] == pytest.approx(float(X1.pow(2).sum(1).mean()), rel=1e-14)
    assert tr["bc"] == pytest.approx(float(X2.pow(2).sum(1).mean()), rel=1e-14)


class Decay(Problem):
    """u_t = −u, u(0) = cos x on [-1, 1] × [0, 1], Dirichlet data from the exact solution."""
    key = "test_decay"
    axes = ("x", "t")
    grid_shape = (9, 5)

    def bounds(self):
        return {"x": (-1.0, 1.0), "t": (0.0, 1.0)}

    def residual(self, f):
        return f.d("t") + f()

    def initial_condition(self, X):
        return torch.cos(X[:, :1])

    def boundary_value(self, X):
        return torch.cos(X[:, :1]) * torch.exp(-X[:, 1:2])

    def _reference(self, grid):
        import numpy as np
        return np.cos(grid["x"][:, None]) * np.exp(-grid["t"][None, :])


def make_task(**cfg):
    torch.manual_seed(0)
    problem = Decay()
    model = get_model_config("modified_mlp", width=16, depth=2, fourier_features=8).build(problem).double()
    config = TrainConfig(n_pde=64, n_ic=16, n_bc=16, dtype="float64", **cfg)
    task = PINNTask(problem, model, config, device=torch.device("cpu"), dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0))
    return task, [p for p in model.parameters()]


def test_task_grad_norm_weights_equalise_weighted_gradients():
    task, params = make_task(balancing="grad_norm", balance_momentum=0.0, balance_every=5)
    terms = task.loss_terms(0)
    w = task.weights(terms, 0)
    weighted = grad_norms({k: w[k] * v for k, v in terms.items()}, params)
    values = list(weighted.values())
    assert max(values) / min(values) - 1 < 1e-12
    assert task.extras()["balance_weights"] == w
    # not recomputed between updates
    assert task.weights(task.loss_terms(1), 1) == w


def test_task_ntk_weights_and_refusal_for_terms_without_point_residuals():
    task, _ = make_task(balancing="ntk", balance_momentum=0.0, ntk_points=4)
    w = task.weights(task.loss_terms(0), 0)
    assert set(w) == {"pde", "ic", "bc"} and all(v >= 1.0 for v in w.values())
    task, _ = make_task(balancing="ntk")
    terms = task.loss_terms(0)
    terms["ic_velocity"] = terms["ic"]
    with pytest.raises(ValueError, match="ic_velocity"):
        task.weights(terms, 0)


def test_rad_concentrates_points_where_the_residual_is_large():
    """Residual u_t + u of u = exp(−t)·cos x is 0; a bump at x = 0.5 makes it peaked there."""
    problem = Decay()

    def model(X):
        x, t = X[:, :1], X[:, 1:2]
        return torch.cos(x) * torch.exp(-t) + torch.exp(-200 * (x - 0.5) ** 2)

    g = torch.Generator().manual_seed(0)
    X = rad_sample(problem, model, 500, g, k=2.0, c=0.0, candidates=20, dtype=torch.float64)
    near = ((X[:, 0] - 0.5).abs() < 0.15).double().mean()
    assert X.shape == (500, 2) and near > 0.8         # uniform sampling would give 0.15
    X = rad_sample(problem, model, 500, g, k=1.0, c=1e3, candidates=4, dtype=torch.float64)
    near = ((X[:, 0] - 0.5).abs() < 0.15).double().mean()
    assert near < 0.25                                 # a large floor c is nearly uniform


def test_rad_needs_a_resampling_period():
    with pytest.raises(ValueError, match="resample_every"):
        TrainConfig(resampling="rad")
    task, _ = make_task(resampling="rad", resample_every=2)
    before = task.batch["pde"].clone()
    task.loss_terms(2)
    assert task.batch["pde"].shape == before.shape and not torch.equal(task.batch["pde"], before)
