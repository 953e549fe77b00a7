"""The Burgers reference is the exact solution: published value, symmetry, PDE residual."""
import math

import numpy as np
import pytest

from lab.problems import get_problem
from lab.solvers.burgers_exact import burgers_sine

NU = 0.01 / math.pi


def test_maximum_slope_matches_basdevant_1986():
    # Basdevant et al. (1986): max |u_x| = 152.00516 at x = 0, t = 1.6037/pi for nu = 0.01/pi
    h = 1e-7
    u = burgers_sine(np.array([-h, h]), np.array([1.6037 / math.pi]), NU)
    slope = (u[1, 0] - u[0, 0]) / (2 * h)
    assert slope == pytest.approx(-152.00516, abs=2e-4)


def test_initial_condition_symmetry_and_boundaries():
    x = np.linspace(-1, 1, 201)
    t = np.linspace(0, 1, 11)
    u = burgers_sine(x, t, NU)
    assert np.allclose(u[:, 0], -np.sin(np.pi * x), atol=1e-14)
    assert np.allclose(u, -u[::-1], atol=1e-12)           # odd in x
    assert np.abs(u[[0, -1], :]).max() < 1e-12             # u(±1, t) = 0


def test_reference_satisfies_the_pde():
    nu = 0.05  # a smooth case so centred differences resolve the solution
    h, dt = 1e-3, 1e-4
    x = np.linspace(-0.9, 0.9, 37)
    t0 = 0.4
    u = burgers_sine(np.concatenate([x - h, x, x + h]), np.array([t0 - dt, t0, t0 + dt]), nu)
    um, u0, up = u[:37], u[37:74], u[74:]
    u_t = (u0[:, 2] - u0[:, 0]) / (2 * dt)
    u_x = (up[:, 1] - um[:, 1]) / (2 * h)
    u_xx = (up[:, 1] - 2 * u0[:, 1] + um[:, 1]) / h**2
    residual = u_t + u0[:, 1] * u_x - nu * u_xx
    assert np.abs(residual).max() < 1e-4 * np.abs(u_t).max() + 1e-5


def test_problem_reference_is_cached_and_grid_independent(tmp_path):
    p = get_problem("burgers", nu=0.02)
    coarse = p.reference(p.grid((33, 11)))
    fine = p.reference(p.grid((65, 21)))
    assert np.allclose(fine[::2, ::2], coarse, atol=1e-12)
    assert np.array_equal(p.reference(p.grid((33, 11))), coarse)  # second call: from the cache


def test_out_of_range_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="Nu must be from"):
        get_problem("burgers", nu=-0.1)
    with pytest.raises(ValueError, match="unknown setting"):
        get_problem("burgers", viscosity=0.1)
    with pytest.raises(ValueError, match="unknown problem"):
        get_problem("no-such-problem")
