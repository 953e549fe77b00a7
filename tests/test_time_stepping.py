"""One semilinear protocol, two step factories, one solve: exact cases, orders, output times."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lab.solvers.etdrk4 import AdvectionDiffusion, ReactionDiffusion, solve_at
from lab.solvers.time_stepping import etdrk4, lawson_rk4, solve

METHODS = {"etdrk4": etdrk4, "lawson_rk4": lawson_rk4}


@pytest.mark.parametrize("name", METHODS)
def test_a_linear_equation_is_integrated_exactly_whatever_the_step(name):
    """One Fourier mode of u_t + c u_x = nu u_xx moves and decays as exp(t L), to round-off."""
    c, nu, k, t = 0.7, 0.05, 3, 2.5
    eq = AdvectionDiffusion(32, velocity=c, diffusivity=nu)
    x = eq.grid()
    u = solve(eq, torch.sin(k * x), [t], dt=1.0, method=METHODS[name])[-1]
    exact = math.exp(-nu * k * k * t) * torch.sin(k * (x - c * t))
    assert (u - exact).abs().max() < 1e-13


@pytest.mark.parametrize("name", METHODS)
def test_each_method_is_fourth_order_on_the_logistic_equation(name):
    """u_t = rho u (1 - u) (no diffusion: an ODE per point); measured slopes 3.9 to 4.0."""
    rho, t = 3.0, 1.0
    eq = ReactionDiffusion(16, linear=rho, quadratic=-rho)
    u0 = torch.full((16,), 0.1, dtype=torch.float64)
    exact = 0.1 * math.exp(rho * t) / (0.1 * math.exp(rho * t) + 0.9)
    dts = np.array([1 / 4, 1 / 8, 1 / 16, 1 / 32])
    errs = [float((solve(eq, u0, [t], dt=h, method=METHODS[name])[-1] - exact).abs().max()) for h in dts]
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert 3.6 <= slope <= 4.4, (errs, slope)


def _counting(method, sizes):
    def factory(equation, dt):
        step = method(equation, dt)

        def counted(v):
            sizes.append(dt)
            return step(v)
        return counted
    return factory


def test_solve_splits_each_interval_into_equal_steps_no_longer_than_dt_and_hits_every_time():
    eq = ReactionDiffusion(16, diffusivity=0.1, linear=1.0, quadratic=-1.0)
    u0 = 0.2 + 0.1 * torch.cos(eq.grid())
    sizes: list[float] = []
    times = [0.0, 0.25, 0.25, 1.0]
    out = solve(eq, u0, times, dt=0.1, method=_counting(etdrk4, sizes))
    assert out.shape == (4, 16)
    torch.testing.assert_close(out[0], u0, rtol=0, atol=1e-15)
    assert torch.equal(out[1], out[2])  # a repeated time takes no step
    # 0.25 = 3 x 0.08333, then 0.75 = 8 x 0.09375
    assert sizes == [round(0.25 / 3, 15)] * 3 + [0.09375] * 8
    torch.testing.assert_close(solve_at(eq, u0, times, 0.1), out.movedim(0, -2), rtol=0, atol=0)


def test_a_step_bound_that_depends_on_the_state_is_asked_before_every_step():
    eq = ReactionDiffusion(16, linear=1.0, quadratic=-1.0)
    u0 = torch.full((16,), 0.3, dtype=torch.float64)
    asked: list[float] = []

    def bound(v):  # shorter steps as u grows
        u = float(eq.to_physical(v).max())
        asked.append(u)
        return 0.05 / u

    sizes: list[float] = []
    out = solve(eq, u0, [1.0], dt=bound, method=_counting(lawson_rk4, sizes))
    assert len(asked) == len(sizes) and math.isclose(sum(sizes), 1.0, rel_tol=1e-12)
    assert all(h <= 0.05 / u * (1 + 1e-12) for h, u in zip(sizes, asked))
    assert sizes[0] > sizes[-1]
    exact = 0.3 * math.e / (0.3 * math.e + 0.7)
    assert (out[-1] - exact).abs().max() < 2e-8  # measured 7.3e-9 with steps 0.09 .. 0.17
    # a constant bound gives the fixed-step result, to round-off
    fixed = solve(eq, u0, [1.0], dt=0.1, method=lawson_rk4)
    torch.testing.assert_close(solve(eq, u0, [1.0], dt=lambda v: 0.1, method=lawson_rk4), fixed,
                               rtol=0, atol=1e-14)


def test_a_check_sees_every_step_and_its_refusal_stops_the_solve():
    eq = ReactionDiffusion(16, linear=1.0, quadratic=-1.0)
    u0 = torch.full((16,), 0.3, dtype=torch.float64)
    seen = []
    solve(eq, u0, [0.5, 1.0], dt=0.2, check=lambda v, h: seen.append(h))
    assert seen == [round(0.5 / 3, 15)] * 6

    def refuse(v, h):
        raise ValueError(f"dt={h:g} is too long here")
    with pytest.raises(ValueError, match="too long"):
        solve(eq, u0, [1.0], dt=0.2, check=refuse)


@pytest.mark.parametrize("kw, match", [
    ({"times": [0.5, 0.2]}, "non-decreasing"),
    ({"times": [-1.0]}, "times"),
    ({"times": [float("inf")]}, "finite"),
    ({"dt": 0.0}, "dt must be positive"),
])
def test_bad_times_or_steps_are_refused_naming_the_argument(kw, match):
    eq = AdvectionDiffusion(16, diffusivity=0.1)
    args = {"times": [1.0], "dt": 0.1} | kw
    with pytest.raises(ValueError, match=match):
        solve(eq, torch.zeros(16), args["times"], dt=args["dt"])
