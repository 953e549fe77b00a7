"""Causal weighting: the weight formula, stop-gradient, the δ criterion, validation, training."""
import math

import pytest
import torch

from lab.models import get_model_config
from lab.problems.base import Problem
from lab.training import TrainConfig, Trainer
from lab.training.causal import CausalWeighting, causal_weights


def test_weights_match_hand_computation():
    L = torch.tensor([0.5, 0.2, 0.1, 0.4], dtype=torch.float64)
    w = causal_weights(L, eps=2.0)
    expected = torch.tensor([1.0, math.exp(-1.0), math.exp(-1.4), math.exp(-1.6)], dtype=torch.float64)
    assert torch.allclose(w, expected, rtol=1e-15, atol=0)


def test_loss_chunks_time_and_stops_the_gradient_through_weights():
    cw = CausalWeighting((0.0, 2.0), chunks=4, eps=[3.0], delta=0.5)
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
    cw = CausalWeighting((0.0, 1.0), chunks=10, eps=[1.0, 10.0, 100.0], delta=0.9)
    cw.loss(torch.full_like(t, 0.1), t)           # min w = exp(-1 * 9 * 0.1) = 0.41 < 0.9
    assert cw.eps == 1.0
    cw.loss(torch.full_like(t, 1e-3), t)          # min w = exp(-9e-3) = 0.991 > 0.9: advance
    assert cw.eps == 10.0 and abs(min(cw.state()["causal_weights"]) - math.exp(-9e-3)) < 1e-14
    cw.loss(torch.full_like(t, 1e-3), t)          # exp(-0.09) = 0.914 > 0.9: advance again
    assert cw.eps == 100.0
    cw.loss(torch.full_like(t, 1e-9), t)          # the last ε is kept
    assert cw.eps == 100.0 and cw.state()["causal_level"] == 2


@pytest.mark.parametrize("delta", [0.0, 1.0, 1.5, -0.2])
def test_delta_outside_open_unit_interval_is_refused(delta):
    with pytest.raises(ValueError, match="causal_delta"):
        CausalWeighting((0.0, 1.0), 4, [1.0], delta)
    with pytest.raises(ValueError, match="causal_delta"):
        TrainConfig(causal=True, causal_delta=delta)


def test_bad_schedule_is_refused():
    for eps in ([], [1.0, 1.0], [0.0, 1.0], [10.0, 1.0]):
        with pytest.raises(ValueError, match="causal_eps"):
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
