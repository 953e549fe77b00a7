"""2D Rayleigh–Bénard convection (lab.solvers.rayleigh_benard) and its catalogue entry: onset at
Ra_c = 27 pi^4 / 4, the Blankenbach et al. (1989) Nusselt number, the energy budget, refusals,
the PINN residual and a brief PINN training."""
import math

import numpy as np
import pytest
import torch

from lab.autodiff import Fields
from lab.config import ConfigError
from lab.problems import get_problem, list_problems
from lab.solvers.rayleigh_benard import A_C, RA_C, RayleighBenard2D, growth_rate, roll_perturbation

F64 = torch.float64


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))


def _measured_growth(ra: float, pr: float) -> float:
    """Growth rate of a 1e-6 roll at the critical wavenumber, from the full nonlinear solver
    between t = 1 and t = 2 (the decaying partner mode has died out by t = 1)."""
    s = RayleighBenard2D(16, 16, ra=ra, pr=pr)
    w0, t0 = roll_perturbation(16, 16, 1e-6)
    V = s.solve(w0, t0, [1.0, 2.0], output="spectral")
    amp = [float(s.to_physical(V[i, 1]).abs().max()) for i in range(2)]
    return math.log(amp[1] / amp[0])


@pytest.mark.parametrize("pr", [1.0, 7.0, math.inf])
def test_onset_is_bracketed_at_the_critical_rayleigh_number(pr):
    """The growth rate of the most unstable mode changes sign between 0.9 Ra_c and 1.1 Ra_c,
    by the analytical dispersion relation and by the solver (measured to agree to 1e-9:
    the linear block is integrated exactly)."""
    assert RA_C == pytest.approx(657.511, abs=1e-3)
    assert abs(growth_rate(RA_C, pr, A_C)) < 1e-12
    # a_c is the most unstable wavenumber at onset
    assert growth_rate(RA_C, pr, 0.9 * A_C) < 0 and growth_rate(RA_C, pr, 1.1 * A_C) < 0
    below, above = _measured_growth(0.9 * RA_C, pr), _measured_growth(1.1 * RA_C, pr)
    assert below < 0 < above
    assert below == pytest.approx(growth_rate(0.9 * RA_C, pr, A_C), abs=1e-7)
    assert above == pytest.approx(growth_rate(1.1 * RA_C, pr, A_C), abs=1e-7)


def test_steady_rolls_match_the_blankenbach_nusselt_number():
    """Blankenbach et al., Geophys. J. Int. 98 (1989), case 1a: free-slip unit box (= period 2
    in x with mirror-symmetric rolls), Ra = 1e4, infinite Prandtl number: Nu = 4.884409,
    v_rms = 42.864947. Measured on 24 x 25 nodes at t = 0.2 (steady to 1e-5): wall Nu 4.88309
    (2.7e-4 off), v_rms 42.8667 (4e-5); 32 x 33 gives 4.88400 (8e-5)."""
    s = RayleighBenard2D(24, 24, ra=1e4, pr=math.inf, aspect=2.0, resolution_tol=1e-3)
    w0, t0 = roll_perturbation(24, 24, 0.2, aspect=2.0)
    v = s.solve(w0, t0, [0.2], output="spectral")[0]
    assert float(s.wall_nusselt(v)) == pytest.approx(4.884409, rel=1e-3)
    assert math.sqrt(2 * float(s.energy(v))) == pytest.approx(42.864947, rel=1e-3)
    assert float(s.nusselt(v)) == pytest.approx(4.884409, rel=2e-3)  # the volume flux agrees


def test_energy_budget_during_growth():
    """dE/dt = Pr Ra <w theta> - Pr <omega^2>, from central differences of E 2e-4 apart while
    the rolls grow at Ra = 3000, Pr = 1 (24 x 25 nodes); the thermal budget
    d<theta^2/2>/dt = <w theta> - <|grad theta|^2> holds as well."""
    s = RayleighBenard2D(24, 24, ra=3000.0, pr=1.0)
    w0, t0 = roll_perturbation(24, 24, 0.05)
    h = 2e-4
    V = s.solve(w0, t0, [0.2 - h, 0.2, 0.2 + h], output="spectral", dt=2.5e-4)
    E = s.energy(V)
    dedt = (E[2] - E[0]) / (2 * h)
    budget = s.buoyancy_flux(V[1]) - s.dissipation(V[1])
    assert float(s.dissipation(V[1])) > 100 and float(dedt) > 100  # both terms at work
    # measured mismatch 1.8e-6 of the buoyancy flux: the difference quotient's O(h^2) error
    assert abs(float(dedt - budget)) < 1e-5 * float(s.buoyancy_flux(V[1]))
    th = s._full(V[:, 1])
    g = s._full(torch.stack([s.ikx * V[1, 1], s.ikz * V[1, 1]]))
    dth = (th[2].pow(2).mean() - th[0].pow(2).mean()) / (4 * h)
    assert abs(float(dth - (s.heat_flux(V[1]) - g.pow(2).sum(0).mean()))) < 1e-5 * float(s.heat_flux(V[1]))


def test_bad_settings_are_refused_by_name():
    w0, t0 = roll_perturbation(16, 16, 0.1)
    with pytest.raises(ValueError, match="^nz=16 cannot resolve Ra=1e\\+06"):
        RayleighBenard2D(16, 16, ra=1e6)
    with pytest.raises(ValueError, match="Ra"):
        RayleighBenard2D(16, 16, ra=-1.0)
    with pytest.raises(ValueError, match="Pr"):
        RayleighBenard2D(16, 16, ra=1e3, pr=0.0)
    with pytest.raises(ValueError, match="^dt=0.5 is unstable"):
        RayleighBenard2D(16, 16, ra=3000.0).solve(w0, t0 * 10, [1.0], dt=0.5)
    with pytest.raises(ValueError, match="too small for Ra"):
        RayleighBenard2D(16, 24, ra=1e4, pr=math.inf).solve(*roll_perturbation(16, 24, 0.5), [0.1])
    with pytest.raises(ValueError, match="^theta0 must end with shape"):
        RayleighBenard2D(16, 16, ra=1e3).solve(w0, t0[:, :8], [0.1])
    with pytest.raises(ConfigError, match="Reference grid n = 32 cannot resolve Rayleigh number Ra = 1e"):
        get_problem("rayleigh_benard2d", ra=1e6, n=32)
    with pytest.raises(ConfigError, match="Prandtl"):
        get_problem("rayleigh_benard2d", pr=-1.0)


def test_residual_vanishes_on_the_linear_eigenmode():
    """A 1e-6 eigenmode of the conduction state, (theta, psi) = (B, A) sin(pi z) e^(st) {cos, sin}(a x),
    solves the equations up to its O(amplitude^2) self-advection: the residual is 1e-5 of
    what a wrong Rayleigh number leaves."""
    ra, pr, a = 2000.0, 1.0, A_C
    s_rate = growth_rate(ra, pr, a)
    q2 = a * a + math.pi**2
    B = 1e-6
    A = -B * (s_rate + q2) / a  # theta equation: (s + q^2) B = -a A  (w = -psi_x = -a A sin..cos)

    def exact(X):
        x, z, t = X[:, 0], X[:, 1], X[:, 2]
        g = torch.exp(s_rate * t) * torch.sin(math.pi * z)
        psi = A * g * torch.sin(a * x)
        return torch.stack([B * g * torch.cos(a * x), -q2 * psi, psi], dim=1)

    p = get_problem("rayleigh_benard2d", ra=ra, pr=pr, t_end=0.2)
    pts = p.sample(64, 1, 1, torch.Generator().manual_seed(0), dtype=F64)["pde"]
    r = p.residual(Fields(exact, pts, p.axes)).detach()
    assert r.shape == (64, 3)
    assert float(r.abs().max()) < 1e-8  # measured 2.9e-9, all in the theta equation
    p.ra = 1.2 * ra
    assert float(p.residual(Fields(exact, pts, p.axes)).detach().abs().max()) > 1e-4


def test_registered_problem_reference_and_initial_condition():
    assert "rayleigh_benard2d" in list_problems()
    p = get_problem("rayleigh_benard2d", n=16, ra=2000.0, t_end=0.1)
    grid = p.grid((8, 9, 2))
    ref = p.reference(grid)
    assert ref.shape == (8, 9, 2, 3) and np.isfinite(ref).all()
    assert np.abs(ref[:, [0, -1]]).max() < 1e-12  # the walls
    X = torch.tensor(np.stack(np.meshgrid(grid["x"], grid["z"], [0.0], indexing="ij"), -1).reshape(-1, 3))
    ic = p.initial_condition(X).numpy().reshape(8, 9, 3)
    assert np.abs(ic - ref[:, :, 0]).max() < 1e-12
    assert np.abs(ref[:, :, 1, 1]).max() > 0.1  # the rolls have spun up


def test_a_pinn_trains_briefly_on_convection():
    from lab import TrainConfig, Trainer, get_model_config
    from lab.training.events import Snapshot, Step

    events = []
    p = get_problem("rayleigh_benard2d", n=16, ra=2000.0, t_end=0.1)
    cfg = TrainConfig(steps=30, n_pde=128, n_ic=64, n_bc=64, lr=3e-3, log_every=5, snapshot_every=30,
                      checkpoint_every=30)
    result = Trainer(p, get_model_config("mlp", width=16, depth=2), cfg, sinks=[events.append]).run()
    assert result.status == "completed"
    steps = [e for e in events if isinstance(e, Step)]
    assert set(steps[0].losses) == {"pde", "ic", "bc"}
    total = [sum(e.losses.values()) for e in steps]
    assert np.isfinite(total).all() and total[-1] < total[0]
    snap = [e for e in events if isinstance(e, Snapshot)][-1]
    assert snap.fields["prediction"].shape == snap.fields["reference"].shape
