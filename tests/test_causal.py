"""Causal weighting: the weight formula, stop-gradient, the δ criterion, validation, training,
and that keeping ε's level on the device changes no number of the former host-side rule."""
import math

import pytest
import torch

from lab import get_problem
from lab.models import get_model_config
from lab.problems.base import Problem
from lab.training import TrainConfig, Trainer
from lab.training.causal import CausalWeighting, causal_weights
from lab.training.graphs import weighted_loss
from lab.training.tasks.pinn import PINNTask


def test_weights_match_hand_computation():
    L = torch.tensor([0.5, 0.2, 0.1, 0.4], dtype=torch.float64)
    w = causal_weights(L, eps=2.0)
    expected = torch.tensor([1.0, math.exp(-1.0), math.exp(-1.4), math.exp(-1.6)], dtype=torch.float64)
    assert torch.allclose(w, expected, rtol=1e-15, atol=0)


def test_loss_chunks_time_and_stops_the_gradient_through_weights():
    cw = CausalWeighting((0.0, 2.0), chunks=4, eps=[3.0], delta=0.5, dtype=torch.float64)
    t = torch.tensor([0.1, 0.2, 0.7, 1.2, 1.3, 1.4, 1.99], dtype=torch.float64)
    sq = torch.tensor([1.0, 3.0, 0.5, 0.3, 0.6, 0.9, 0.2], dtype=torch.float64, requires_grad=True)
    loss = cw.loss(sq, t)
    L = [2.0, 0.5, 0.6, 0.2]                       # chunk means on [0, .5), [.5, 1), [1, 1.5), [1.5, 2]
    w = [1.0, math.exp(-6.0), math.exp(-7.5), math.exp(-9.3)]
    assert abs(loss.item() - sum(a * b for a, b in zip(w, L)) / 4) < 1e-15
    loss.backward()
    # d/d sq_j = w_chunk(j) / (M * count(chunk j)): no derivative flows through the weights
    chunk, count = [0, 0, 1, 2, 2, 2, 3], [2, 1, 3, 1]
    grad = torch.tensor([w[c] / (4 * count[c]) for c in chunk], dtype=torch.float64)
    assert torch.allclose(sq.grad, grad, rtol=1e-14, atol=0)


def test_eps_advances_only_when_every_weight_exceeds_delta():
    t = torch.linspace(0, 1, 100, dtype=torch.float64)
    cw = CausalWeighting((0.0, 1.0), chunks=10, eps=[1.0, 10.0, 100.0], delta=0.9, dtype=torch.float64)
    cw.loss(torch.full_like(t, 0.1), t)           # min w = exp(-1 * 9 * 0.1) = 0.41 < 0.9
    assert cw.eps == 1.0
    cw.loss(torch.full_like(t, 1e-3), t)          # min w = exp(-9e-3) = 0.991 > 0.9: advance
    assert cw.eps == 10.0 and abs(min(cw.state()["causal_weights"]) - math.exp(-9e-3)) < 1e-14
    cw.loss(torch.full_like(t, 1e-3), t)          # exp(-0.09) = 0.914 > 0.9: advance again
    assert cw.eps == 100.0
    cw.loss(torch.full_like(t, 1e-9), t)          # the last ε is kept
    assert cw.eps == 100.0 and cw.state()["causal_level"] == 2


class HostCausal:
    """The former implementation: ε a Python float, advanced after reading ``min w`` on the host."""

    def __init__(self, t_bounds, chunks, eps, delta):
        (self.t0, self.t1), self.chunks, self.schedule, self.delta = t_bounds, chunks, eps, delta
        self.level = 0

    def loss(self, sq, t):
        idx = ((t - self.t0) / (self.t1 - self.t0) * self.chunks).long().clamp_(0, self.chunks - 1)
        sums = torch.zeros(self.chunks, dtype=sq.dtype).index_add(0, idx, sq)
        L = sums / torch.bincount(idx, minlength=self.chunks).clamp_(min=1)
        self.weights = w = causal_weights(L, self.schedule[self.level])
        if self.level + 1 < len(self.schedule) and float(w.min()) > self.delta:
            self.level += 1
        return (w * L).mean()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_device_level_advances_exactly_as_the_host_rule(dtype):
    args = (0.0, 1.0), 6, [1e-2, 1e-1, 1.0, 10.0], 0.8
    cw, host = CausalWeighting(*args, dtype=dtype), HostCausal(*args)
    # in single precision 0.8 rounds up: the device compares with the float just below it
    assert float(cw._delta) <= 0.8 < float(torch.nextafter(cw._delta, torch.tensor(1.0, dtype=dtype)))
    g = torch.Generator().manual_seed(0)
    t = torch.rand(60, generator=g, dtype=dtype)
    levels = []
    for k in range(40):  # residuals shrinking over the steps: ε stays, advances, then stays last
        sq = torch.rand(60, generator=g, dtype=dtype) * 10 ** (-k / 5)
        levels.append(host.level)
        assert int(cw.level) == host.level
        assert torch.equal(cw.loss(sq, t), host.loss(sq, t))
        assert torch.equal(cw.weights, host.weights)
    assert int(cw.level) == host.level == 3 and cw.eps == 10.0
    assert sorted(set(levels)) == [0, 1, 2, 3] and levels.count(2) > 1 and levels[-10:] == [3] * 10


def test_a_causal_trajectory_is_that_of_the_host_rule():
    """Twenty Adam steps of a causal Burgers PINN, ε on the device vs on the host: the same
    numbers bit for bit."""
    cfg = TrainConfig(n_pde=128, n_ic=32, n_bc=32, causal=True, causal_chunks=4,
                      causal_eps=[1e-3, 1e-2, 1e-1, 1.0], causal_delta=0.5, lr=3e-3, device="cpu")
    runs = []
    for host in (False, True):
        problem = get_problem("burgers")
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = get_model_config("mlp", width=8, depth=2).build(problem)
        task = PINNTask(problem, model, cfg, device=torch.device("cpu"), dtype=torch.float32,
                        generator=torch.Generator().manual_seed(0))
        if host:
            task.causal = HostCausal(problem.bounds()["t"], 4, cfg.causal_eps, cfg.causal_delta)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        totals = []
        for s in range(20):
            opt.zero_grad(set_to_none=True)
            total = weighted_loss(task, s)[0]
            total.backward()
            opt.step()
            totals.append(total.item())
        runs.append((totals, int(task.causal.level)))
    assert runs[0] == runs[1]
    assert runs[0][1] >= 2  # ε advanced on the way


@pytest.mark.parametrize("delta", [0.0, 1.0, 1.5, -0.2])
def test_delta_outside_open_unit_interval_is_refused(delta):
    with pytest.raises(ValueError, match="causal_delta"):
        CausalWeighting((0.0, 1.0), 4, [1.0], delta)
    with pytest.raises(ValueError, match="Causal delta must be above 0 and below 1"):
        TrainConfig(causal=True, causal_delta=delta)


def test_bad_schedule_is_refused():
    for eps in ([], [1.0, 1.0], [0.0, 1.0], [10.0, 1.0]):
        with pytest.raises(ValueError, match="Causal eps"):
            TrainConfig(causal_eps=eps)


class Advection(Problem):
    """u_t + u_x = 0 on [0, 2π) periodic, u(x, 0) = sin x: exact sin(x − t)."""
    key = "test_advection"
    axes = ("x", "t")
    periodic = ("x",)
    grid_shape = (32, 11)

    def bounds(self):
        return {"x": (0.0, 2 * math.pi), "t": (0.0, 1.0)}

    def residual(self, f):
        return f.d("t") + f.d("x")

    def initial_condition(self, X):
        return torch.sin(X[:, :1])

    def _reference(self, grid):
        import numpy as np
        return np.sin(grid["x"][:, None] - grid["t"][None, :])


def test_causal_training_lowers_the_loss_and_error(tmp_path):
    events = []
    cfg = TrainConfig(steps=300, lr=3e-3, n_pde=256, n_ic=64, n_bc=0, causal=True, causal_chunks=8,
                      causal_eps=[0.1, 1.0, 10.0], log_every=25, snapshot_every=300,
                      device="cpu", dtype="float32", lr_schedule="constant")
    model = get_model_config("modified_mlp", width=24, depth=2, embedding="none")
    result = Trainer(Advection(), model, cfg, sinks=[events.append], runs_dir=tmp_path).run()
    steps = [e for e in events if type(e).__name__ == "Step"]
    assert result.status == "completed"
    assert steps[-1].total < 0.1 * steps[0].total
    assert len(steps[-1].extras["causal_weights"]) == 8
    assert result.rel_l2 < 0.3
