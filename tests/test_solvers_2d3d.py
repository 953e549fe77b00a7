"""2D/3D reference solvers against exact solutions, budgets and measured convergence orders."""
import math

import numpy as np
import pytest
import torch

from lab.diagnostics.spectra import energy_spectrum
from lab.solvers import elliptic
from lab.solvers.elliptic import (darcy_coefficient, darcy_operator, darcy_solve, helmholtz_dirichlet,
                                  helmholtz_periodic)
from lab.solvers.grf import cosine_series, cosine_series_points, grf, grf_cosine_coefficients
from lab.solvers.navier_stokes import (NavierStokes2D, NavierStokes3D, abc_flow,
                                       isotropic_turbulence, taylor_green_3d)
from lab.solvers.nonlinear_diffusion import porous_medium_fd
from lab.solvers.reaction_diffusion2d import GrayScott

F64 = torch.float64


def mesh(n, length=2 * math.pi, d=2):
    x = torch.arange(n, dtype=F64) * length / n
    return torch.meshgrid(*([x] * d), indexing="ij")


def slope(h, err):
    return np.polyfit(np.log(h), np.log(err), 1)[0]


def simpson(y, dt):
    return dt / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum())


# ---- 2D Navier–Stokes ---------------------------------------------------------------------
def test_ns2d_single_modes_decay_exactly_batched():
    """u.grad w = 0 for fields on one wavenumber shell: w(t) = w0 exp(-nu |k|^2 t) to round-off."""
    nu = 0.05
    ns = NavierStokes2D(32, nu=nu)
    X, Y = mesh(32)
    w0 = torch.stack([2 * torch.sin(X) * torch.sin(Y), 2 * torch.cos(3 * X + 4 * Y)])
    w = ns.solve(w0, [0.5, 1.0])  # (2, T, n, n)
    for b, k2 in enumerate((2, 25)):
        for i, t in enumerate((0.5, 1.0)):
            assert (w[b, i] - w0[b] * math.exp(-nu * k2 * t)).abs().max() < 1e-13


def test_ns2d_time_order_is_four():
    g = torch.Generator().manual_seed(1)
    ns = NavierStokes2D(32, nu=1e-2, length=1.0)
    w0 = 4 * grf((32, 32), 2.5, 7.0, 1, g)[0]  # advective CFL ~1 at the largest dt
    ref = ns.solve(w0, [0.4], dt=0.4 / 128)[-1]
    dts = [0.4 / 8, 0.4 / 16, 0.4 / 32]
    err = [float((ns.solve(w0, [0.4], dt=dt)[-1] - ref).abs().max()) for dt in dts]
    assert 3.7 < slope(dts, err) < 4.4, err


def test_ns2d_spectral_convergence_in_space():
    """Band-limited initial data (|m| <= 3) on 2pi box; errors fall exponentially to < 1e-10."""
    def w0(n):
        X, Y = mesh(n)
        return torch.sin(X + 2 * Y) + 0.5 * torch.cos(3 * X - Y) + 0.8 * torch.sin(2 * X) * torch.cos(Y)

    def solve(n):
        return NavierStokes2D(n, nu=0.1).solve(w0(n), [1.0], dt=0.01)[-1]

    ref = solve(128)
    errs = [float((solve(n) - ref[:: 128 // n, :: 128 // n]).abs().max()) for n in (16, 32, 64)]
    assert errs[0] > 10 * errs[1] > 1e4 * errs[2], errs  # exponential, not algebraic, decay
    assert errs[2] < 1e-10, errs


def test_ns2d_energy_budget_unforced():
    """dE/dt = -2 nu Z: E(T) - E(0) = -2 nu int Z dt (Simpson on 81 frames)."""
    g = torch.Generator().manual_seed(0)
    nu = 1e-2
    ns = NavierStokes2D(64, nu=nu, length=1.0)
    w0 = 10 * grf((64, 64), 2.5, 7.0, 1, g)[0]
    times = torch.linspace(0, 1.0, 81).tolist()
    w = ns.solve(w0, times)
    w_hat = ns.to_spectral(w)
    E, Z = ns.energy(w_hat), ns.enstrophy(w_hat)
    lhs, rhs = float(E[-1] - E[0]), float(-2 * nu * simpson(Z, times[1] - times[0]))
    assert abs(lhs - rhs) < 1e-6 * abs(lhs), (lhs, rhs)


def test_ns2d_bad_arguments_raise_naming_the_parameter():
    with pytest.raises(ValueError, match="nu"):
        NavierStokes2D(32, nu=-1e-3)
    ns = NavierStokes2D(32, nu=1e-3)
    X, Y = mesh(32)
    with pytest.raises(ValueError, match="dt"):
        ns.solve(10 * torch.sin(X) * torch.sin(Y), [1.0], dt=1.0)
    with pytest.raises(ValueError, match="max_bytes"):
        NavierStokes2D(4096, nu=1e-3, max_bytes=2**20).solve(torch.zeros(4096, 4096), [1.0])


# ---- 3D Navier–Stokes ---------------------------------------------------------------------
def test_ns3d_abc_flow_decays_exactly():
    """Beltrami flow (curl u = k u): u x w = 0, u(t) = u0 exp(-nu k^2 t)."""
    nu = 0.1
    ns = NavierStokes3D(16, nu=nu)
    u0 = torch.stack([abc_flow(16, k=1), abc_flow(16, k=2, a=0.5, b=1.0, c=0.3)])
    u = ns.solve(u0, [1.0])
    assert (u[0, -1] - u0[0] * math.exp(-nu)).abs().max() < 1e-13
    assert (u[1, -1] - u0[1] * math.exp(-4 * nu)).abs().max() < 1e-13


def test_ns3d_taylor_green_budget_divergence_and_pressure():
    nu = 0.05
    ns = NavierStokes3D(16, nu=nu)
    u0 = taylor_green_3d(16)
    # exact pressure at t = 0: p = (cos 2x + cos 2y)(cos 2z + 2) / 16
    X, Y, Z = mesh(16, d=3)
    p0 = (torch.cos(2 * X) + torch.cos(2 * Y)) * (torch.cos(2 * Z) + 2) / 16
    assert (ns.pressure(ns.to_spectral(u0)) - p0).abs().max() < 1e-14
    times = torch.linspace(0, 2.0, 41).tolist()
    u = ns.solve(u0, times)
    u_hat = ns.project(ns.to_spectral(u))
    assert ns.divergence(u_hat).abs().max() < 1e-12
    E, Zs = ns.energy(u_hat), ns.enstrophy(u_hat)
    lhs, rhs = float(E[-1] - E[0]), float(-2 * nu * simpson(Zs, times[1] - times[0]))
    assert abs(lhs - rhs) < 1e-6 * abs(lhs), (lhs, rhs)
    assert float(E[0]) == pytest.approx(1 / 8, rel=1e-14)


def test_ns3d_isotropic_field_and_smagorinsky_dissipation():
    g = torch.Generator().manual_seed(3)
    u0 = isotropic_turbulence(32, k0=4.0, energy=0.5, batch=2, generator=g)
    ns = NavierStokes3D(32, nu=1e-3)
    u_hat = ns.to_spectral(u0)
    assert ns.divergence(u_hat).abs().max() < 1e-13
    assert torch.allclose(ns.energy(u_hat), torch.full((2,), 0.5, dtype=F64), rtol=1e-12)
    k, E = energy_spectrum(u0, 3, vector=True)
    assert 3 <= int(k[E.mean(0).argmax()]) <= 5  # peak of k^4 exp(-2 (k/4)^2) is at k0 = 4
    # the closure only removes energy: E_LES(t) < E_DNS(t)
    t = [0.2]
    e_dns = ns.energy(ns.to_spectral(ns.solve(u0[:1], t)[:, -1]))
    les = NavierStokes3D(32, nu=1e-3, cs=0.17)
    e_les = les.energy(les.to_spectral(les.solve(u0[:1], t)[:, -1]))
    assert float(e_les) < 0.97 * float(e_dns) < 0.97 * 0.5


def test_ns3d_bad_arguments():
    with pytest.raises(ValueError, match="cs"):
        NavierStokes3D(16, nu=1e-3, cs=-0.1)
    ns = NavierStokes3D(16, nu=1e-3)
    with pytest.raises(ValueError, match="dt"):
        ns.solve(taylor_green_3d(16), [1.0], dt=0.5)
    with pytest.raises(ValueError, match="max_bytes"):
        NavierStokes3D(512, nu=1e-3, max_bytes=2**30)


# ---- Gaussian random fields -------------------------------------------------------------------
def test_grf_covariance_matches_theory_and_is_reproducible():
    n, alpha, tau = 16, 2.0, 3.0
    g = torch.Generator().manual_seed(0)
    u = grf((n, n), alpha, tau, 4000, g)
    m = torch.fft.fftfreq(n, 1 / n, dtype=F64)
    lam = 4 * math.pi**2 * (m[:, None] ** 2 + m[None, :] ** 2) + tau**2
    var = (tau ** (2 * alpha - 2) * lam ** (-alpha)).sum() - tau ** (2 * alpha - 2) * tau ** (-2 * alpha)
    assert float(u.var(0).mean()) == pytest.approx(float(var), rel=0.03)
    assert float(u.mean(dim=(1, 2)).abs().max()) < 1e-14  # zero mean mode
    g2 = torch.Generator().manual_seed(0)
    assert torch.equal(grf((n, n), alpha, tau, 3, g2, dtype=torch.float32),
                       grf((n, n), alpha, tau, 3, torch.Generator().manual_seed(0), dtype=torch.float32))
    with pytest.raises(ValueError, match="alpha"):
        grf((n, n), -1.0, tau, 1, g)


def test_cosine_series_grid_and_points_agree():
    g = torch.Generator().manual_seed(0)
    c = grf_cosine_coefficients(8, 2.0, 3.0, 1, g)
    x = torch.linspace(0, 1, 5, dtype=F64)
    grid = cosine_series(c, x, x)[0]
    X, Y = torch.meshgrid(x, x, indexing="ij")
    pts = cosine_series_points(c[0], X.reshape(-1), Y.reshape(-1)).reshape(5, 5)
    assert (grid - pts).abs().max() < 1e-14


# ---- elliptic ---------------------------------------------------------------------------------
def test_periodic_poisson_and_helmholtz_spectral_accuracy():
    """u = exp(sin x + cos(y)/2): lap u = u (cos^2 x - sin x + sin^2(y)/4 - cos(y)/2)."""
    def case(n, lam):
        X, Y = mesh(n)
        u = torch.exp(torch.sin(X) + 0.5 * torch.cos(Y))
        lap = u * (torch.cos(X) ** 2 - torch.sin(X) + 0.25 * torch.sin(Y) ** 2 - 0.5 * torch.cos(Y))
        if lam == 0:  # Poisson: zero-mean data (the samples' mean is aliasing error) and solution
            lap, u = lap - lap.mean(), u - u.mean()
        return float((helmholtz_periodic(lap + lam * u, lam) - u).abs().max())

    errs = [case(n, 0.0) for n in (8, 16, 32)]
    assert errs[0] > 1e3 * errs[1] and errs[2] < 1e-12, errs
    assert case(32, -3.0) < 1e-12
    X, Y = mesh(16)
    with pytest.raises(ValueError, match="zero mean"):
        helmholtz_periodic(torch.ones(16, 16))
    with pytest.raises(ValueError, match="eigenvalue"):
        helmholtz_periodic(torch.sin(X), lam=5.0)  # |k|^2 = 5 = 1 + 4


def test_dirichlet_sine_solver_exact_and_fd_second_order():
    """Helmholtz on [-1,1]^2 with u = sin(pi x) sin(4 pi y): the sine-spectral solve is exact."""
    def case(n, scheme):
        h = 2.0 / n
        x = -1 + h * torch.arange(1, n, dtype=F64)
        X, Y = torch.meshgrid(x, x, indexing="ij")
        u = torch.sin(math.pi * X) * torch.sin(4 * math.pi * Y)
        q = (1.0 - 17 * math.pi**2) * u
        return float((helmholtz_dirichlet(q, 1.0, lengths=2.0, scheme=scheme) - u).abs().max())

    assert case(32, "spectral") < 1e-13
    ns = [16, 32, 64, 128]
    errs = [case(n, "fd2") for n in ns]
    assert 1.9 < slope([2 / n for n in ns], errs) < 2.1, errs


@pytest.mark.parametrize("method", ["lu", "pcg"])
def test_darcy_fd_is_second_order_for_smooth_coefficient(method):
    """-div(a grad u) = f with u = sin(pi x) sin(pi y) x, a = 1 + 0.5 sin(2 pi x) cos(pi y)."""
    def case(n):
        x = np.linspace(0, 1, n)
        X, Y = np.meshgrid(x, x, indexing="ij")
        pi = math.pi
        u = np.sin(pi * X) * np.sin(pi * Y) * X
        ux = pi * np.cos(pi * X) * np.sin(pi * Y) * X + np.sin(pi * X) * np.sin(pi * Y)
        uy = pi * np.sin(pi * X) * np.cos(pi * Y) * X
        lap = -2 * pi**2 * u + 2 * pi * np.cos(pi * X) * np.sin(pi * Y)
        a = 1 + 0.5 * np.sin(2 * pi * X) * np.cos(pi * Y)
        ax = pi * np.cos(2 * pi * X) * np.cos(pi * Y)
        ay = -0.5 * pi * np.sin(2 * pi * X) * np.sin(pi * Y)
        f = -(a * lap + ax * ux + ay * uy)
        return float(np.abs(darcy_solve(a, f, method=method).numpy() - u).max())

    ns = [17, 33, 65, 129]
    errs = [case(n) for n in ns]
    assert 1.9 < slope([1 / (n - 1) for n in ns], errs) < 2.1, errs


def test_darcy_batched_fno_setting():
    g = torch.Generator().manual_seed(0)
    c = grf_cosine_coefficients(32, 2.0, 3.0, 3, g)
    x = torch.linspace(0, 1, 29, dtype=F64)
    a = darcy_coefficient(cosine_series(c, x, x))
    assert set(a.unique().tolist()) == {3.0, 12.0}
    u = darcy_solve(a.to(torch.float32))
    assert u.shape == (3, 29, 29) and u.dtype == torch.float32
    assert float(u[:, 0].abs().max()) == 0.0 and float(u.min()) >= 0  # f = 1 > 0: u > 0 inside
    assert torch.allclose(u[1].double(), darcy_solve(a[1]), atol=1e-7)
    with pytest.raises(ValueError, match="positive"):
        darcy_solve(-a[0])


def _two_phase(n, batch, low=3.0, seed=1):
    c = grf_cosine_coefficients(32, 2.0, 3.0, batch, torch.Generator().manual_seed(seed))
    x = torch.linspace(0, 1, n, dtype=F64)
    return darcy_coefficient(cosine_series(c, x, x), high=12.0, low=low)


@pytest.mark.parametrize("low", [3.0, 0.012])
def test_darcy_conjugate_gradients_solve_the_same_system_as_lu(low):
    """Batched PCG and sparse LU agree to round-off, at the FNO contrast 4 and at 1000; a
    sample with no source in the batch stays exactly zero."""
    a = _two_phase(41, 3, low)
    f = torch.ones_like(a)
    f[1] = 0.0
    lu, cg = darcy_solve(a, f, method="lu"), darcy_solve(a, f, method="pcg")
    assert float((cg - lu).abs().max()) < 1e-9 * float(lu.abs().max())
    assert float((darcy_operator(a, cg) - f[:, 1:-1, 1:-1]).abs().max()) < 1e-8
    assert float(cg[:, :, 0].abs().max()) == 0.0 and float(cg[1].abs().max()) == 0.0


def test_darcy_preconditioned_iterations_do_not_grow_with_the_grid(monkeypatch):
    """Preconditioned by the constant-coefficient Laplacian, the condition number is at most
    max a / min a = 4 on any grid, so CG needs about 30 iterations at n = 33 and n = 257 alike
    (unpreconditioned CG would need ~n times more)."""
    calls = []
    monkeypatch.setattr(elliptic, "darcy_operator", lambda a, u: calls.append(1) or darcy_operator(a, u))
    counts = []
    for n in (33, 257):
        calls.clear()
        darcy_solve(_two_phase(n, 2), method="pcg")
        counts.append(len(calls))
    assert max(counts) <= 40 and abs(counts[1] - counts[0]) <= 5, counts


def test_darcy_solve_rejects_bad_settings():
    a = _two_phase(9, 1)
    with pytest.raises(ValueError, match="method must be one of"):
        darcy_solve(a, method="cholesky")
    with pytest.raises(ValueError, match=r"rtol must be in \(0, 1\)"):
        darcy_solve(a, method="pcg", rtol=0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_darcy_on_the_gpu_takes_conjugate_gradients_and_matches_lu():
    a = _two_phase(65, 4)
    u = darcy_solve(a.cuda())
    assert u.device.type == "cuda" and u.dtype == F64
    assert float((u.cpu() - darcy_solve(a, method="lu")).abs().max()) < 1e-12


# ---- Gray–Scott and nonlinear diffusion ---------------------------------------------------------
def test_gray_scott_uniform_state_matches_ode_at_fourth_order():
    """A uniform state obeys the kinetics ODE; errors against a fine step fall as dt^4."""
    gs = GrayScott(16, feed=0.04, kill=0.06)
    s0 = torch.stack([torch.full((16, 16), 0.6, dtype=F64), torch.full((16, 16), 0.3, dtype=F64)])
    ref = gs.solve(s0, [50.0], dt=50 / 512)[-1, :, 0, 0]
    dts = [50 / 16, 50 / 32, 50 / 64]
    errs = [float((gs.solve(s0, [50.0], dt=dt)[-1, :, 0, 0] - ref).abs().max()) for dt in dts]
    assert 3.7 < slope(dts, errs) < 4.3, errs
    # pure diffusion of one Fourier mode is exact (integrating factor)
    X, Y = mesh(16, length=2.5)
    gs0 = GrayScott(16, feed=0.0, kill=0.0, du=1e-3)
    k2 = (2 * math.pi / 2.5) ** 2 * 5
    s = torch.stack([1 + 0.1 * torch.cos(2 * math.pi * (X + 2 * Y) / 2.5), torch.zeros_like(X)])
    out = gs0.solve(s, [100.0], dt=10.0)[-1, 0]
    assert (out - 1 - 0.1 * math.exp(-1e-3 * k2 * 100) * torch.cos(2 * math.pi * (X + 2 * Y) / 2.5)).abs().max() < 1e-14
    with pytest.raises(ValueError, match="dt"):
        GrayScott(16).solve(torch.stack([0 * X, 2 + 0 * X]), [10.0], dt=10.0)


def test_porous_medium_second_order_in_space():
    def u0(n):
        x = torch.linspace(-1, 1, n + 1, dtype=F64)
        X, Y = torch.meshgrid(x, x, indexing="ij")
        return 0.4 * torch.exp(-15 * ((X + 0.1) ** 2 + Y**2)) * (1 - X**2) * (1 - Y**2)

    sols = {n: porous_medium_fd(u0(n), 0.05, [0.5])[-1] for n in (16, 32, 64, 128)}
    errs = [float((sols[n] - sols[128][:: 128 // n, :: 128 // n]).abs().max()) for n in (16, 32)]
    # Richardson: e(h) ~ C h^2 (1 - 1/16) vs e(h/2) ~ C (h/2)^2 (1 - 1/4)
    order = math.log2(errs[0] / errs[1] * (1 - 1 / 4) / (1 - 1 / 16))
    assert 1.8 < order < 2.2, errs
    with pytest.raises(ValueError, match="alpha"):
        porous_medium_fd(u0(16), -1.0, [0.1])
