"""RK4 and Dormand–Prince 5(4): exact linear solution, measured orders, error vs tolerance."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from lab.solvers.ode import dopri5, dopri5_step, rk4

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def exp_sin(t, y):
    """``y' = y cos t`` with exact solution ``y = y0 exp(sin t)`` (non-autonomous)."""
    return y * math.cos(float(t))


@pytest.mark.parametrize("device", DEVICES)
def test_linear_system_matches_matrix_exponential(device):
    A = torch.tensor([[-0.1, 2.0, 0.0], [-2.0, -0.1, 0.0], [0.3, 0.0, -0.5]], dtype=torch.float64,
                     device=device)
    y0 = torch.tensor([[1.0, 0.0, 0.5], [0.0, 2.0, -1.0]], dtype=torch.float64, device=device)
    t = torch.linspace(0, 5, 11, dtype=torch.float64, device=device)
    f = lambda s, y: y @ A.T
    exact = np.stack([y0.cpu().numpy() @ scipy.linalg.expm(A.cpu().numpy() * s).T for s in t.tolist()])
    y = dopri5(f, y0, t, rtol=1e-11, atol=1e-12)
    assert y.shape == (11, 2, 3) and y.device.type == device
    assert np.abs(y.cpu().numpy() - exact).max() < 1e-9
    y = rk4(f, y0, torch.linspace(0, 5, 2001, dtype=torch.float64, device=device))[::200]
    assert np.abs(y.cpu().numpy() - exact).max() < 1e-10


def _fit_order(hs, errs):
    return np.polyfit(np.log(hs), np.log(errs), 1)[0]


def test_rk4_is_fourth_order():
    y0 = torch.tensor([1.0], dtype=torch.float64)
    ns = np.array([10, 20, 40, 80])
    errs = [abs(rk4(exp_sin, y0, torch.linspace(0, 3, n + 1, dtype=torch.float64))[-1, 0].item()
                - math.exp(math.sin(3.0))) for n in ns]
    order = _fit_order(3.0 / ns, errs)
    assert 3.7 <= order <= 4.3, (errs, order)


def test_dopri5_fixed_step_and_embedded_estimate_orders():
    y0 = torch.tensor([1.0], dtype=torch.float64)
    # global error of the propagated fifth-order solution
    ns = np.array([8, 16, 32, 64])
    errs = []
    for n in ns:
        y, h = y0, 3.0 / n
        for i in range(n):
            y, _, _ = dopri5_step(exp_sin, i * h, y, h)
        errs.append(abs(y.item() - math.exp(math.sin(3.0))))
    order5 = _fit_order(3.0 / ns, errs)
    # one step from t = 0.3: the embedded estimate is the local error of the 4th-order
    # solution, O(h^5); the 5th-order local error is O(h^6)
    hs = np.array([0.2, 0.1, 0.05, 0.025])
    y_start = torch.tensor([math.exp(math.sin(0.3))], dtype=torch.float64)
    est, local5 = [], []
    for h in hs:
        y, err, _ = dopri5_step(exp_sin, 0.3, y_start, h)
        est.append(abs(err.item()))
        local5.append(abs(y.item() - math.exp(math.sin(0.3 + h))))
    order_est, order_local5 = _fit_order(hs, est), _fit_order(hs, local5)
    assert 4.6 <= order5 <= 5.4, (errs, order5)
    assert 4.6 <= order_est <= 5.4, (est, order_est)
    assert 5.5 <= order_local5 <= 6.6, (local5, order_local5)


def test_dopri5_error_follows_tolerance():
    y0 = torch.tensor([[1.0], [0.5]], dtype=torch.float64)
    t = torch.linspace(0, 10, 6, dtype=torch.float64)
    exact = y0.numpy()[None] * np.exp(np.sin(t.numpy()))[:, None, None]
    tols = np.array([1e-4, 1e-6, 1e-8, 1e-10])
    errs, steps = [], []
    for tol in tols:
        stats = {}
        y = dopri5(exp_sin, y0, t, rtol=tol, atol=tol, stats=stats)
        errs.append(np.abs(y.numpy() - exact).max())
        steps.append(stats["accepted"])
    errs = np.array(errs)
    assert np.all(errs < 20 * tols), errs
    assert np.all(np.diff(errs) < 0) and np.all(np.diff(steps) > 0)
    slope = _fit_order(tols, errs)
    assert 0.7 <= slope <= 1.3, (errs, slope)


def test_dopri5_recovers_from_a_bad_first_step():
    y0 = torch.tensor([1.0], dtype=torch.float64)
    stats = {}
    y = dopri5(exp_sin, y0, [0.0, 3.0], rtol=1e-9, atol=1e-9, first_step=2.0, stats=stats)
    assert stats["rejected"] >= 1
    assert abs(y[-1].item() - math.exp(math.sin(3.0))) < 1e-8


def test_dopri5_is_differentiable_through_its_steps():
    # y' = a y: dy(T)/da = T y0 e^{aT} (adjoint-free backprop through the accepted steps)
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([2.0], dtype=torch.float64)
    y = dopri5(lambda t, y: a * y, y0, [0.0, 1.5], rtol=1e-10, atol=1e-12)[-1, 0]
    y.backward()
    assert abs(a.grad.item() - 1.5 * 2.0 * math.exp(0.7 * 1.5)) < 1e-8


def test_validation():
    y0 = torch.tensor([1.0], dtype=torch.float64)
    with pytest.raises(ValueError, match="increasing"):
        dopri5(exp_sin, y0, [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="increasing"):
        rk4(exp_sin, y0, [1.0, 0.0])
    with pytest.raises(ValueError, match="rtol"):
        dopri5(exp_sin, y0, [0.0, 1.0], rtol=0.0)
    with pytest.raises(RuntimeError, match="max_steps"):
        dopri5(exp_sin, y0, [0.0, 100.0], rtol=1e-10, atol=1e-10, max_steps=10)
