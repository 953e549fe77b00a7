"""Loss balancing (gradient norm, NTK trace) and residual-adaptive resampling (RAD).

Balancing keeps its statistics and weights on the device; a reference with the former host
rule (Python floats) checks that this changes no training trajectory beyond float rounding.
"""
import math

import pytest
import torch

from lab.models import get_model_config
from lab.problems.base import Problem
from lab.training import TrainConfig
from lab.training.balancing import MovingWeights, balanced, grad_norms, ntk_traces
from lab.training.graphs import weighted_loss
from lab.training.resampling import rad_sample
from lab.training.tasks import Task
from lab.training.tasks.pinn import PINNTask


def test_grad_norm_weights_on_a_two_term_toy_loss():
    a = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-0.5, dtype=torch.float64, requires_grad=True)
    terms = {"one": (3 * a) ** 2, "two": (a + 2 * b) ** 2}
    norms = grad_norms(terms, [a, b])
    # ∇(9a²) = (18a, 0) = (27, 0); ∇(a + 2b)² = 2(a + 2b)(1, 2) = (1, 2)
    assert float(norms["one"]) == pytest.approx(27.0, rel=1e-15)
    assert float(norms["two"]) == pytest.approx(math.sqrt(5.0), rel=1e-15)
    lam = balanced(norms)
    s = 27.0 + math.sqrt(5.0)
    assert float(lam["one"]) == pytest.approx(s / 27.0, rel=1e-15)
    assert float(lam["two"]) == pytest.approx(s / math.sqrt(5.0), rel=1e-15)
    # weighted terms pull equally hard
    assert float(lam["one"] * norms["one"]) == pytest.approx(float(lam["two"] * norms["two"]), rel=1e-14)


def test_a_term_with_zero_statistic_keeps_weight_one():
    lam = balanced({"flat": torch.tensor(0.0), "a": torch.tensor(1.0), "b": torch.tensor(3.0)})
    assert [float(v) for v in lam.values()] == pytest.approx([1.0, 4.0, 4.0 / 3.0], rel=1e-7)


def test_moving_average_starts_from_one_and_updates_in_place():
    mw = MovingWeights(0.9)
    mw.update({"pde": torch.tensor(1.0), "ic": torch.tensor(11.0)})
    ic = mw.weights["ic"]
    assert {k: float(v) for k, v in mw.weights.items()} == pytest.approx({"pde": 1.0, "ic": 0.9 + 1.1})
    mw.update({"pde": torch.tensor(1.0), "ic": torch.tensor(21.0)})
    # the same tensor: a captured CUDA graph reads the new weight from where it read the old
    assert mw.weights["ic"] is ic and float(ic) == pytest.approx(0.9 * 2.0 + 2.1)
    assert float(mw.current(["new"])["new"]) == 1.0
    with pytest.raises(ValueError, match="balance_momentum"):
        MovingWeights(1.0)


def test_ntk_trace_of_a_linear_model():
    """r_j = x_j · θ has ∇_θ r_j = x_j, so the NTK diagonal mean is mean ‖x_j‖²."""
    theta = torch.randn(3, dtype=torch.float64, requires_grad=True)
    g = torch.Generator().manual_seed(0)
    X1 = torch.randn(10, 3, generator=g, dtype=torch.float64)
    X2 = 5 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    tr = ntk_traces({"pde": X1 @ theta, "bc": X2 @ theta}, [theta])
    assert float(tr["pde"]) == pytest.approx(float(X1.pow(2).sum(1).mean()), rel=1e-14)
    assert float(tr["bc"]) == pytest.approx(float(X2.pow(2).sum(1).mean()), rel=1e-14)


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


def make_task(dtype=torch.float64, cls=PINNTask, **cfg):
    torch.manual_seed(0)
    problem = Decay()
    model = get_model_config("modified_mlp", width=16, depth=2, fourier_features=8).build(problem).to(dtype)
    config = TrainConfig(n_pde=64, n_ic=16, n_bc=16, dtype=str(dtype).removeprefix("torch."), **cfg)
    task = cls(problem, model, config, device=torch.device("cpu"), dtype=dtype,
               generator=torch.Generator().manual_seed(0))
    return task, [p for p in model.parameters()]


def test_task_grad_norm_weights_equalise_weighted_gradients():
    task, params = make_task(balancing="grad_norm", balance_momentum=0.0, balance_every=5)
    terms = task.loss_terms(0)
    w = task.weights(terms, 0)
    weighted = grad_norms({k: w[k] * v for k, v in terms.items()}, params)
    values = [float(v) for v in weighted.values()]
    assert max(values) / min(values) - 1 < 1e-12
    logged = {k: float(v) for k, v in w.items()}
    assert task.extras()["balance_weights"] == logged
    # not recomputed between updates
    assert {k: float(v) for k, v in task.weights(task.loss_terms(1), 1).items()} == logged


def test_only_rebalancing_steps_need_the_host():
    """A CUDA graph may replay every step but those that recompute the weights, once each."""
    task, _ = make_task(balancing="grad_norm", balance_every=5)
    assert [s for s in range(12) if task.host_step_due(s)] == [0, 5, 10]
    task.weights(task.loss_terms(5), 5)
    assert not task.host_step_due(5)  # an L-BFGS line search re-evaluates step 5: no new weights
    plain, _ = make_task()
    assert not any(plain.host_step_due(s) for s in range(12))


class HostBalancedTask(PINNTask):
    """The former rule: statistics read back as Python floats, weights kept on the host."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.host = {}

    def weights(self, terms, step):
        fixed, c = Task.weights(self, terms, step), self.config
        if step % c.balance_every == 0:
            params = [p for p in self.model.parameters() if p.requires_grad]
            stats = {k: float(v) for k, v in grad_norms(terms, params).items()}
            total = sum(stats.values())
            target = {k: total / s if s > 0 else 1.0 for k, s in stats.items()}
            m = c.balance_momentum
            self.host = {k: m * self.host.get(k, 1.0) + (1 - m) * v for k, v in target.items()}
        return {k: fixed[k] * self.host.get(k, 1.0) for k in terms}


@pytest.mark.parametrize("dtype,rel", [(torch.float64, 0.0), (torch.float32, 1e-5)])
def test_a_grad_norm_trajectory_is_that_of_the_host_rule(dtype, rel):
    """Double precision gives the host's numbers bit for bit; in single precision the weights
    are now averaged in single precision, which moves the losses by float rounding only."""
    runs = []
    for cls in (PINNTask, HostBalancedTask):
        task, params = make_task(dtype, cls, balancing="grad_norm", balance_every=3, balance_momentum=0.5,
                                 loss_weights={"ic": 3.0})
        opt = torch.optim.Adam(params, lr=3e-3)
        totals = []
        for s in range(12):
            opt.zero_grad(set_to_none=True)
            total, _, weights = weighted_loss(task, s)
            total.backward()
            opt.step()
            totals += [total.item()] + [float(w) for w in weights.values()]
        runs.append(totals)
    assert runs[0] == pytest.approx(runs[1], rel=rel, abs=0)
    assert runs[0][-3:] != runs[0][1:4]  # the weights moved


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
    with pytest.raises(ValueError, match="needs Resample every >= 1"):
        TrainConfig(resampling="rad")
    task, _ = make_task(resampling="rad", resample_every=2)
    before = task.batch["pde"].clone()
    task.loss_terms(2)
    assert task.batch["pde"].shape == before.shape and not torch.equal(task.batch["pde"], before)
