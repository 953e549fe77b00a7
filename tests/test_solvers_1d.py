"""ETDRK4 and the periodic helpers: exact linear cases, measured order, invariants, soliton."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lab.solvers.etdrk4 import (AdvectionDiffusion, KdV, KuramotoSivashinsky, ReactionDiffusion,
                                etdrk4, solve_at, trajectory)
from lab.solvers.exact import kdv_soliton
from lab.solvers.spectral import fourier_interpolate

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("n", [16, 15])
def test_fourier_interpolate_is_exact_for_band_limited_fields(n):
    length, origin = 3.0, -1.0
    kappa = 2 * math.pi / length
    x = origin + length / n * torch.arange(n, dtype=torch.float64)
    fine = torch.linspace(-5.0, 5.0, 97, dtype=torch.float64)  # also outside one period
    exact = lambda s: 0.3 + torch.sin(3 * kappa * (s - origin)) + 0.7 * torch.cos(7 * kappa * (s - origin))
    err = (fourier_interpolate(exact(x), fine, length, origin) - exact(fine)).abs().max()
    assert err < 1e-13
    if n % 2 == 0:  # the Nyquist cosine is reproduced, not aliased to zero
        nyq = lambda s: torch.cos(n / 2 * kappa * (s - origin))
        err = (fourier_interpolate(nyq(x), fine, length, origin) - nyq(fine)).abs().max()
        assert err < 1e-12


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [32, 33])
def test_advection_diffusion_mode_is_exact(device, n):
    # u = e^{-ν k² t} cos(k (x - c t)) for each mode; ETDRK4 reduces to u_hat <- e^{hL} u_hat
    c, nu, t_end = 1.3, 0.1, 2.0
    eq = AdvectionDiffusion(n, velocity=c, diffusivity=nu, device=device)
    x = eq.grid()
    u0 = torch.stack([torch.cos(3 * x), 2 * torch.sin(5 * x) + 0.5])  # batch of 2
    u = solve_at(eq, u0, [t_end], max_dt=0.3)[:, -1]
    xs = x - c * t_end
    exact = torch.stack([math.exp(-nu * 9 * t_end) * torch.cos(3 * xs),
                         2 * math.exp(-nu * 25 * t_end) * torch.sin(5 * xs) + 0.5])
    assert u.device.type == device
    assert (u - exact).abs().max() < 1e-12


class ForcedAdvectionDiffusion(AdvectionDiffusion):
    """``u_t = −c u_x + ν u_xx + g(x)``: a constant N, for which ETDRK4 is exact."""

    def __init__(self, n, g, **kw):
        super().__init__(n, **kw)
        self.g_hat = self.to_spectral(g(self.grid()))

    def nonlinear(self, u_hat):
        return self.g_hat.expand_as(u_hat)


@pytest.mark.parametrize("velocity", [0.0, 2.0])
def test_contour_phi_functions_exact_for_constant_forcing(velocity):
    # Mode by mode u_hat(t) = e^{Lt} u0 + (e^{Lt} − 1)/L · g (→ u0 + g t for L = 0): the
    # weights f1 + 4 f2 + f3 must sum to h φ₁(hL) for every hL — zero (mean mode), small,
    # ~±1 (contour passes near 0), stiff (−200) and imaginary (advection)
    nu, dt, t_end, n = 1.0, 0.5, 2.0, 64
    g = lambda s: 0.5 + torch.sin(2 * s) + 0.2 * torch.cos(20 * s)
    eq = ForcedAdvectionDiffusion(n, g, velocity=velocity, diffusivity=nu)
    x = eq.grid()
    u0 = torch.cos(x) + 0.1 * torch.sin(7 * x)
    u = solve_at(eq, u0, [t_end], max_dt=dt)[-1]
    L, g_hat, v0 = eq.linear, eq.to_spectral(g(x)), eq.to_spectral(u0)
    phi = torch.where(L == 0, torch.full_like(L, t_end), torch.expm1(L * t_end) / torch.where(L == 0, 1, L))
    exact = eq.to_physical(torch.exp(L * t_end) * v0 + phi * g_hat)
    assert (u - exact).abs().max() < 1e-12
    # the same forcing on a problem with |hL| spanning 1e-3 .. 1e3 in one step
    eq2 = ForcedAdvectionDiffusion(n, g, velocity=velocity, diffusivity=0.002)
    L2 = eq2.linear
    hL = (L2 * dt).abs()
    assert hL.min() == 0 and hL.max() > 1
    u = solve_at(eq2, u0, [dt], max_dt=dt)[-1]
    phi = torch.where(L2 == 0, torch.full_like(L2, dt), torch.expm1(L2 * dt) / torch.where(L2 == 0, 1, L2))
    exact = eq2.to_physical(torch.exp(L2 * dt) * v0 + phi * g_hat)
    assert (u - exact).abs().max() < 1e-13


def _ks_kt(n=128):
    eq = KuramotoSivashinsky(n, 32 * math.pi)
    x = eq.grid()
    return eq, torch.cos(x / 16) * (1 + torch.sin(x / 16))


def test_etdrk4_is_fourth_order_on_kuramoto_sivashinsky():
    eq, u0 = _ks_kt()
    t_end = 5.0
    ref = solve_at(eq, u0, [t_end], max_dt=1 / 256)[-1]
    dts = np.array([1 / 8, 1 / 16, 1 / 32, 1 / 64])
    errs = np.array([(solve_at(eq, u0, [t_end], max_dt=h)[-1] - ref).abs().max().item() for h in dts])
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    # measured: errors 2.5e-7 .. 7.4e-11, slope 3.90
    assert 3.5 <= slope <= 4.5, (errs, slope)


def test_kuramoto_sivashinsky_conserves_mean_in_a_batch():
    eq, _ = _ks_kt(128)
    gen = torch.Generator().manual_seed(0)
    x = eq.grid()
    coeffs = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    u0 = 0.3 + sum(coeffs[:, j, None] * torch.cos((j + 1) * x / 16 + j) for j in range(4))
    step = etdrk4(eq, 0.25)
    traj = trajectory(step, eq.to_spectral(u0), 120, save_every=30, post_process=eq.to_physical)
    assert traj.shape == (3, 5, 128)
    means = traj.mean(-1)
    assert (means - means[:, :1]).abs().max() < 1e-13
    assert traj[:, -1].std(-1).min() > 0.5  # the dynamics did develop (not a trivial decay)
    # batching is exact: each member equals its own unbatched run (up to round-off, which
    # chaos amplifies, hence the short horizon t = 30)
    single = trajectory(step, eq.to_spectral(u0[1]), 120, save_every=30, post_process=eq.to_physical)
    assert (single - traj[1]).abs().max() < 1e-9


def test_kdv_soliton_travels_at_its_exact_speed():
    # u = (3c/η) sech²(√c (x − x0 − ct)/(2μ)) on a period long enough for the tails (~e^{-30})
    eta, mu, c, x0, length = 2.0, 1.0, 1.5, -10.0, 60.0
    eq = KdV(256, length, origin=-length / 2, eta=eta, mu=mu)
    x = eq.grid().numpy()
    u0 = torch.as_tensor(kdv_soliton(x, 0.0, c, eta, mu, x0))
    times = [0.0, 5.0, 10.0]
    exact = np.stack([kdv_soliton(x, t, c, eta, mu, x0) for t in times])
    # measured max errors 7.6e-7 (dt 0.01), 4.3e-8 (0.005), 6.0e-9 (0.0025): amplitude 2.25,
    # travelled 15 = 9 widths; the ratio confirms fourth order on a dispersive problem
    err = [np.abs(solve_at(eq, u0, times, max_dt=h).numpy() - exact).max() for h in (0.01, 0.005)]
    assert err[1] < 1e-7
    assert 3.5 <= math.log2(err[0] / err[1]) <= 4.5


def test_reaction_diffusion_without_diffusion_is_the_logistic_ode():
    rho = 3.0
    eq = ReactionDiffusion(32, diffusivity=0.0, linear=rho, quadratic=-rho)
    u0 = torch.full((32,), 0.1, dtype=torch.float64)
    u = solve_at(eq, u0, [1.0], max_dt=0.002)[-1]
    exact = 0.1 * math.exp(rho) / (0.1 * math.exp(rho) + 0.9)
    assert (u - exact).abs().max() < 1e-10


def test_trajectory_and_solve_at_validate_arguments():
    eq = AdvectionDiffusion(16, diffusivity=0.1)
    step = etdrk4(eq, 0.1)
    with pytest.raises(ValueError, match="save_every"):
        trajectory(step, eq.to_spectral(torch.zeros(16)), 5, save_every=2)
    with pytest.raises(ValueError, match="non-decreasing"):
        solve_at(eq, torch.zeros(16), [0.5, 0.2], max_dt=0.1)
    with pytest.raises(ValueError, match="dt"):
        etdrk4(eq, 0.0)
    with pytest.raises(ValueError, match="diffusivity"):
        AdvectionDiffusion(16, diffusivity=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        KuramotoSivashinsky(16, gamma=0.0)
