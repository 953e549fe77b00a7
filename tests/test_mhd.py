"""2D incompressible MHD (lab.solvers.mhd) and the Orszag–Tang catalogue entry: invariants,
energy budget, spectral convergence, an exact solution, refusals and the registered problem."""
import math

import numpy as np
import pytest
import torch

from lab.autodiff import Fields
from lab.config import ConfigError
from lab.problems import get_problem, list_problems
from lab.problems.flows import _interpolate
from lab.solvers.mhd import MHD2D, orszag_tang

F64 = torch.float64
TWO_PI = 2 * math.pi


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))


def _ot_state(s: MHD2D) -> torch.Tensor:
    w0, a0 = orszag_tang(s.n)
    return s.to_spectral(torch.stack([w0, a0]))


def test_orszag_tang_initial_fields_and_invariants_in_closed_form():
    """u0 = (-sin y, sin x), B0 = (-sin y, sin 2x): E0 = 1/2 (4 pi^2 + 4 pi^2) = 4 pi^2 and
    H_c0 = int sin^2 y + sin x sin 2x = 2 pi^2."""
    s = MHD2D(32, nu=0.0, eta=0.0)
    v = _ot_state(s)
    x = torch.arange(32, dtype=F64) * TWO_PI / 32
    X, Y = torch.meshgrid(x, x, indexing="ij")
    f = s._fields(v)
    want = torch.stack([-torch.sin(Y), torch.sin(X), -torch.sin(Y), torch.sin(2 * X)])
    assert float((f - want).abs().max()) < 1e-13
    j = s.all_fields(v)[3]
    assert float((j - (torch.cos(Y) + 2 * torch.cos(2 * X))).abs().max()) < 1e-12
    assert float(s.energy(v)) == pytest.approx(4 * math.pi**2, rel=1e-14)
    assert float(s.cross_helicity(v)) == pytest.approx(2 * math.pi**2, rel=1e-14)


def test_ideal_limit_conserves_energy_and_cross_helicity():
    """nu = eta = 0, n = 64, CFL-1 steps to t = 0.5: measured relative drifts 1.3e-10 (E) and
    2.5e-10 (H_c); int a^2 is conserved too."""
    s = MHD2D(64, nu=0.0, eta=0.0)
    v0 = _ot_state(s)
    w0, a0 = orszag_tang(64)
    V = s.solve(w0, a0, [0.25, 0.5], output="spectral")
    E, H = s.energy(V), s.cross_helicity(V)
    assert float((E / s.energy(v0) - 1).abs().max()) < 1e-9
    assert float((H / s.cross_helicity(v0) - 1).abs().max()) < 1e-9
    a2 = s.all_fields(V)[:, 1].pow(2).mean(dim=(-2, -1))
    assert float((a2 / a0.pow(2).mean() - 1).abs().max()) < 1e-9
    # the flow did something: current sheets have formed
    assert float(s.all_fields(V[1])[3].abs().max()) > 1.3 * float(s.all_fields(v0)[3].abs().max())


def test_energy_budget_with_dissipation():
    """dE/dt = -nu int w^2 - eta int j^2, from central differences of E 1e-3 apart at t = 0.5
    (nu = eta = 0.05, n = 64): measured relative mismatch 1.6e-7 (the difference quotient's
    O(h^2) error)."""
    s = MHD2D(64, nu=0.05, eta=0.05)
    w0, a0 = orszag_tang(64)
    h = 1e-3
    V = s.solve(w0, a0, [0.5 - h, 0.5, 0.5 + h], output="spectral")
    E = s.energy(V)
    dedt = (E[2] - E[0]) / (2 * h)
    dissipation = s.dissipation(V[1])
    assert float(dissipation) > 1.0
    assert abs(float(dedt + dissipation)) < 1e-6 * float(dissipation)


def test_spectral_convergence_in_n():
    """Ideal Orszag–Tang at t = 0.5 on 32^2, 64^2 against 128^2 (the same fixed dt, so only the
    grid differs): measured relative L2 errors 1.7e-3 and 3.4e-6, a factor ~500 for one doubling
    (a second-order method would give 4)."""
    x = torch.arange(16, dtype=F64) * TWO_PI / 16
    fields = {}
    for n in (32, 64, 128):
        s = MHD2D(n, nu=0.0, eta=0.0, resolution_tol=None)
        w0, a0 = orszag_tang(n)
        f = s.solve(w0, a0, [0.5], dt=0.5 / 45)[0]
        fields[n] = _interpolate(f, {"x": x, "y": x}, ("x", "y"), TWO_PI)
    err = {n: float((fields[n] - fields[128]).norm() / fields[128].norm()) for n in (32, 64)}
    assert err[32] < 5e-3
    assert err[64] < 1e-5
    assert err[64] < 1e-2 * err[32], err


def test_force_free_state_is_exact_for_solver_and_residual():
    """psi = a with one |k|^2 = 5 (so w = j = 5 psi, u = B): every nonlinear term vanishes and
    with nu = eta the state decays as exp(-5 nu t), exactly, in the solver and the residual."""
    nu = 0.03

    def exact(x, y, t):
        psi = torch.exp(-5 * nu * t) * (torch.cos(x + 2 * y) + torch.sin(2 * x - y)
                                         + 0.5 * torch.cos(2 * x + y))
        return torch.stack([5 * psi, psi, psi], dim=-1)

    s = MHD2D(32, nu=nu, eta=nu)
    x = torch.arange(32, dtype=F64) * TWO_PI / 32
    X, Y = torch.meshgrid(x, x, indexing="ij")
    e0 = exact(X, Y, torch.zeros(()))
    f = s.solve(e0[..., 0], e0[..., 1], [0.3, 1.0], output="all")
    for i, t in enumerate((0.3, 1.0)):
        e = exact(X, Y, torch.tensor(t, dtype=F64))
        assert float((f[i, :3] - e.permute(2, 0, 1)).abs().max()) < 1e-12
    p = get_problem("mhd2d_orszag_tang", nu=nu, eta=nu)
    pts = p.sample(64, 1, 1, torch.Generator().manual_seed(0), dtype=F64)["pde"]
    r = p.residual(Fields(lambda Z: exact(Z[:, 0], Z[:, 1], Z[:, 2]), pts, p.axes))
    assert r.shape == (64, 3) and float(r.detach().abs().max()) < 1e-12
    # not trivially zero: a wrong viscosity leaves a residual
    p.nu = 2 * nu
    assert float(p.residual(Fields(lambda Z: exact(Z[:, 0], Z[:, 1], Z[:, 2]), pts, p.axes)).detach().abs().max()) > 1e-2


def test_bad_settings_refused_by_name():
    w0, a0 = orszag_tang(32)
    with pytest.raises(ValueError, match="nu"):
        MHD2D(32, nu=-1.0, eta=0.0)
    with pytest.raises(ValueError, match="eta"):
        MHD2D(32, nu=0.0, eta=-1e-3)
    with pytest.raises(ValueError, match="^n must"):
        MHD2D(4, nu=0.0, eta=0.0)
    with pytest.raises(ValueError, match="^dt=0.1 is unstable"):
        MHD2D(32, nu=0.01, eta=0.01).solve(w0, a0, [0.5], dt=0.1)
    with pytest.raises(ValueError, match="^n=32 is too small"):
        MHD2D(32, nu=1e-3, eta=1e-3).solve(w0, a0, [1.0])
    with pytest.raises(ValueError, match="a0 must"):
        MHD2D(32, nu=0.0, eta=0.0).solve(w0, a0[:16], [0.1])
    with pytest.raises(ConfigError, match="Eta"):
        get_problem("mhd2d_orszag_tang", eta=-1.0)
    with pytest.raises(ValueError, match="^n=32 is too small"):
        get_problem("mhd2d_orszag_tang", n=32, nu=1e-3, eta=1e-3).reference(
            {"x": np.zeros(1), "y": np.zeros(1), "t": np.array([1.0])})


def test_registered_problem_reference_matches_solver_and_initial_condition():
    assert "mhd2d_orszag_tang" in list_problems()
    p = get_problem("mhd2d_orszag_tang", n=64, t_end=0.4)
    grid = p.grid((16, 16, 3))
    ref = p.reference(grid)
    assert ref.shape == (16, 16, 3, 3) and np.isfinite(ref).all()
    assert p.reference(grid) is not None and np.abs(p.reference(grid) - ref).max() == 0  # cached
    w0, a0 = orszag_tang(64)
    f = MHD2D(64, nu=p.nu, eta=p.eta).solve(w0, a0, [0.2, 0.4], output="all")[:, :3]
    sub = f[:, :, ::4, ::4].permute(2, 3, 0, 1).numpy()  # the 16^2 grid nodes are solver nodes
    assert np.abs(ref[:, :, 1:] - sub).max() < 1e-12
    X = torch.tensor(np.stack(np.meshgrid(grid["x"], grid["y"], [0.0], indexing="ij"), -1).reshape(-1, 3))
    ic = p.initial_condition(X).numpy().reshape(16, 16, 3)
    assert np.abs(ic - ref[:, :, 0]).max() < 1e-12


def test_current_peaks_then_decays_with_dissipation():
    """Orszag–Tang at nu = eta = 0.03 (n = 64, resolved by the solver's own check to T = 3):
    the flow sweeps the field into current sheets, max |j| grows from 3 to a peak (measured
    11.7 near t = 2.0, this grid), then reconnection and resistivity wear it down (5.1 at t = 3),
    while E only decreases. A qualitative check: no published number is compared against."""
    s = MHD2D(64, nu=0.03, eta=0.03)
    w0, a0 = orszag_tang(64)
    times = [0.25 * i for i in range(13)]
    V = s.solve(w0, a0, times, output="spectral")
    jmax = s.all_fields(V)[:, 3].abs().amax(dim=(-2, -1))
    peak = int(jmax.argmax())
    assert 4 <= peak <= 10, jmax  # t in [1, 2.5]
    assert float(jmax[peak]) > 3 * float(jmax[0])
    assert float(jmax[-1]) < 0.6 * float(jmax[peak])
    E = s.energy(V)
    assert bool((E[1:] < E[:-1]).all())
