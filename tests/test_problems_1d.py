"""The 1D+t and chaotic-ODE problems: references satisfy their equations, ICs, invariants.

References are computed with ``_reference`` (no disk cache). The residual of a reference is
measured through the problem's own ``residual(Fields)``: a small torch "model" interpolates
the reference exactly in x (trigonometric interpolation of the solver-grid values) and by a
7-point Lagrange polynomial in t around a time t*, so one check covers both the reference
and the residual's signs and coefficients.
"""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from lab.autodiff import Fields
from lab.problems import get_problem, list_problems
from lab.problems.chaos import dysts_problem
from lab.solvers.ode import dopri5
from lab.solvers.spectral import fourier_interpolate

SPECTRAL = ["reaction_diffusion", "allen_cahn", "kdv", "kuramoto_sivashinsky"]
CLOSED_FORM = ["convection", "reaction", "heat", "wave"]
ODES = ["lorenz63", "rossler", "lorenz96"]


def lagrange_weights(t: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """``(N, m)`` Lagrange basis values at ``t`` (differentiable in ``t``)."""
    cols = []
    for j in range(len(nodes)):
        w = torch.ones_like(t)
        for k in range(len(nodes)):
            if k != j:
                w = w * (t - nodes[k]) / (nodes[j] - nodes[k])
        cols.append(w)
    return torch.stack(cols, dim=1)


class Slab(torch.nn.Module):
    """u(x, t) = Σ_j ℓ_j(t) · I[u(·, t_j)](x): the reference near t*, differentiable."""

    def __init__(self, problem, t_star: float, dt: float, nx: int):
        super().__init__()
        lo, hi = problem.bounds()["x"]
        self.lo, self.length = lo, hi - lo
        self.nodes = torch.tensor([t_star + (j - 3) * dt for j in range(7)], dtype=torch.float64)
        x = lo + self.length / nx * np.arange(nx)
        self.values = torch.as_tensor(problem._reference({"x": x, "t": self.nodes.numpy()}).T)

    def forward(self, X):
        ux = fourier_interpolate(self.values, X[:, 0], self.length, self.lo)  # (7, N)
        return (lagrange_weights(X[:, 1], self.nodes) * ux.T).sum(1, keepdim=True)


# problem, params, t*, slab dt, x points for the interpolant, tolerance on |r| / max|u_t|
RESIDUAL_CASES = [
    ("reaction_diffusion", {}, 0.5, 1e-3, 512, 1e-9),
    ("allen_cahn", {}, 0.6, 5e-4, 4096, 1e-9),  # 5.9e-12
    ("kdv", {}, 0.5, 2e-4, 512, 1e-6),  # 3.9e-7
    ("kuramoto_sivashinsky", {"preset": "regular"}, 0.3, 1e-4, 512, 3e-6),  # 8.0e-7
    ("kuramoto_sivashinsky", {"preset": "chaotic"}, 30.0, 0.0125, 512, 5e-6),  # 1.7e-6
    ("convection", {}, 0.5, 1e-3, 64, 1e-10),  # 5.0e-12
]


@pytest.mark.parametrize("key,params,t_star,dt,nx,tol", RESIDUAL_CASES,
                         ids=[f"{c[0]}-{c[1].get('preset', '')}" for c in RESIDUAL_CASES])
def test_reference_satisfies_the_pde(key, params, t_star, dt, nx, tol):
    problem = get_problem(key, **params)
    model = Slab(problem, t_star, dt, nx)
    gen = torch.Generator().manual_seed(1)
    lo, hi = problem.bounds()["x"]
    X = torch.stack([lo + (hi - lo) * torch.rand(64, generator=gen, dtype=torch.float64),
                     t_star + dt * (torch.rand(64, generator=gen, dtype=torch.float64) - 0.5)], 1)
    f = Fields(model, X, problem.axes)
    r = problem.residual(f)
    scale = f.d("t").abs().max()
    assert scale > 1e-3  # the solution is moving: the check is not 0 = 0
    assert r.abs().max() / scale < tol, (r.abs().max() / scale).item()


def closed_form_torch(key, problem, X):
    """Independent torch transcriptions of the exact solutions (from the papers)."""
    x, t = X[:, 0], X[:, 1]
    if key == "convection":
        return torch.sin(x - problem.beta * t)
    if key == "reaction":
        u0 = torch.exp(-((x - math.pi) ** 2) / (2 * (math.pi / 4) ** 2))
        return u0 / (u0 + (1 - u0) * torch.exp(-problem.rho * t))
    if key == "heat":
        n = problem.mode
        return torch.exp(-problem.kappa * (n * math.pi) ** 2 * t) * torch.sin(n * math.pi * x)
    c = problem.c
    return (torch.sin(math.pi * x) * torch.cos(c * math.pi * t)
            + 0.5 * torch.sin(4 * math.pi * x) * torch.cos(4 * c * math.pi * t))


@pytest.mark.parametrize("key", CLOSED_FORM)
def test_closed_form_references_and_residuals(key):
    problem = get_problem(key)
    grid = problem.grid((33, 17))
    X = torch.as_tensor(np.stack(np.meshgrid(grid["x"], grid["t"], indexing="ij"), -1).reshape(-1, 2))
    exact = closed_form_torch(key, problem, X).reshape(33, 17).numpy()
    assert np.abs(problem._reference(grid) - exact).max() < 1e-13
    f = Fields(lambda Z: closed_form_torch(key, problem, Z)[:, None], X, problem.axes)
    assert problem.residual(f).abs().max() < 1e-10 * max(1.0, f.d("t").abs().max().item())


def test_wave_initial_velocity_loss_and_dirichlet_boundaries():
    problem = get_problem("wave")
    gen = torch.Generator().manual_seed(0)
    batch = problem.sample(64, 32, 32, gen, dtype=torch.float64)
    exact = lambda Z: closed_form_torch("wave", problem, Z)[:, None]
    losses = problem.losses(exact, batch)
    assert set(losses) == {"pde", "ic", "bc", "ic_velocity"}
    assert max(v.item() for v in losses.values()) < 1e-20
    moving = lambda Z: exact(Z) + Z[:, 1:2] * torch.sin(math.pi * Z[:, :1])  # u_t(x,0) != 0
    assert problem.losses(moving, batch)["ic_velocity"] > 1e-2


@pytest.mark.parametrize("key,params,tol", [
    ("convection", {}, 1e-15), ("reaction", {}, 1e-15), ("heat", {}, 1e-15), ("wave", {}, 1e-15),
    # the periodic extensions of the Gaussian bump (slope jump 3e-3 at 0 ≡ 2π) and of
    # x² cos(πx) (slope jump 4 at ±1) have kinks: trigonometric interpolation between the
    # solver nodes converges only like dx²
    ("reaction_diffusion", {}, 5e-6),
    ("allen_cahn", {}, 2e-5),
    ("kdv", {}, 1e-13), ("kuramoto_sivashinsky", {"preset": "regular"}, 1e-13),
    ("kuramoto_sivashinsky", {"preset": "chaotic"}, 1e-13),
])
def test_reference_starts_from_the_initial_condition(key, params, tol):
    problem = get_problem(key, **params)
    grid = {"x": problem.grid((101, 2))["x"], "t": np.array([problem.bounds()["t"][0]])}
    x = torch.as_tensor(grid["x"])
    X = torch.stack([x, torch.zeros_like(x)], 1)
    ic = problem.initial_condition(X)[:, 0].numpy()
    assert np.abs(problem._reference(grid)[:, 0] - ic).max() < tol


@pytest.mark.parametrize("key,params,tol", [  # measured: 1.2e-12, 6.6e-12, 1.8e-12, 1.4e-11, 6.4e-11
    ("reaction_diffusion", {}, 1e-10),
    ("allen_cahn", {}, 1e-10),
    ("kdv", {}, 1e-10),
    ("kuramoto_sivashinsky", {"preset": "regular"}, 5e-10),
    ("kuramoto_sivashinsky", {"preset": "chaotic"}, 1e-9),
])
def test_reference_is_grid_independent(key, params, tol):
    # grids of 96 and 160 periodic points share every 3rd / 5th; 26 and 36 times over the
    # first quarter of the horizon share every 5th / 7th — output gaps of T/100 and T/140
    # make the solver take different time steps
    problem = get_problem(key, **params)
    t_quarter = problem.bounds()["t"][1] / 4
    a, b = problem.grid((96, 2)), problem.grid((160, 2))
    a["t"], b["t"] = np.linspace(0, t_quarter, 26), np.linspace(0, t_quarter, 36)
    ra, rb = problem._reference(a), problem._reference(b)
    np.testing.assert_allclose(a["x"][::3], b["x"][::5])
    np.testing.assert_allclose(a["t"][::5], b["t"][::7])
    assert np.abs(ra[::3, ::5] - rb[::5, ::7]).max() < tol


def test_allen_cahn_reference_is_even_in_x():
    problem = get_problem("allen_cahn")
    x = np.linspace(-1, 1, 41)
    u = problem._reference({"x": np.concatenate([x, -x]), "t": np.array([0.0, 0.3, 1.0])})
    assert np.abs(u[:41] - u[41:]).max() < 1e-11
    assert np.abs(u[:, -1]).max() > 0.99  # the phases ±1 have formed


def test_kdv_conserves_mass_and_energy():
    problem = get_problem("kdv")
    grid = problem.grid((512, 11))  # the solver's own nodes: quadrature is exact
    u = problem._reference(grid)
    mass, energy = u.mean(0), (u**2).mean(0)
    assert np.abs(mass - mass[0]).max() < 1e-13
    assert np.abs(energy / energy[0] - 1).max() < 1e-8  # measured 4.4e-10
    assert u[:, -1].max() > 2.0  # solitons have formed (initial maximum 1)


def test_kuramoto_sivashinsky_conserves_the_mean():
    for preset in ("regular", "chaotic"):
        problem = get_problem("kuramoto_sivashinsky", preset=preset)
        grid = problem.grid((256, 2))
        grid["t"] = np.linspace(0, problem.bounds()["t"][1] / 4, 6)
        u = problem._reference(grid)
        assert np.abs(u.mean(0) - u[:, 0].mean()).max() < 1e-12


def test_reaction_diffusion_stays_between_zero_and_one_and_grows():
    problem = get_problem("reaction_diffusion")
    u = problem._reference(problem.grid((128, 21)))
    assert u.min() > -1e-12 and u.max() < 1 + 1e-12
    assert np.all(np.diff(u.mean(0)) > 0)


def test_reaction_reference_matches_an_ode_solve():
    problem = get_problem("reaction", rho=7.0)
    x = np.array([0.5, 2.0, 3.0])
    t = np.linspace(0, 1, 5)
    u0 = torch.exp(-((torch.as_tensor(x) - math.pi) ** 2) / (2 * (math.pi / 4) ** 2))
    y = dopri5(lambda s, u: 7.0 * u * (1 - u), u0, torch.as_tensor(t), rtol=1e-12, atol=1e-14)
    assert np.abs(problem._reference({"x": x, "t": t}) - y.numpy().T).max() < 1e-10


@pytest.mark.parametrize("key,name,value", [
    ("convection", "beta", -1.0), ("reaction", "rho", -0.5), ("reaction_diffusion", "nu", -0.1),
    ("allen_cahn", "epsilon", 0.0), ("allen_cahn", "gamma", 50.0), ("kdv", "mu", 0.0),
    ("kuramoto_sivashinsky", "preset", "turbulent"), ("heat", "kappa", -1.0),
    ("heat", "mode", 0), ("wave", "c", 0.0), ("lorenz63", "rho", -1.0),
    ("rossler", "c", -1.0), ("lorenz96", "N", 2), ("lorenz96", "t_end", 0.0),
])
def test_invalid_parameters_raise_naming_the_parameter(key, name, value):
    cls = list_problems()[key]
    with pytest.raises(ValueError, match=rf"^{cls.param[name].label} must be"):  # the field as the app labels it
        get_problem(key, **{name: value})


def test_every_problem_declares_its_metadata():
    mine = SPECTRAL + CLOSED_FORM + ODES
    problems = list_problems()
    for key in mine:
        cls = problems[key]
        assert cls.title and cls.latex and cls.description and cls.source, key
        assert cls.kind == ("ode" if key in ODES else "1d+t"), key


# ---- chaotic ODEs ---------------------------------------------------------------------------
def test_vector_fields_against_hand_values():
    state = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    lorenz = get_problem("lorenz63").vector_field(0.0, state)
    np.testing.assert_allclose(lorenz[0].numpy(), [10.0, 23.0, -6.0], rtol=1e-15)
    np.testing.assert_allclose(lorenz[1].numpy(), [0.0, 0.0, 0.0])
    rossler = get_problem("rossler").vector_field(0.0, state)
    np.testing.assert_allclose(rossler[0].numpy(), [-5.0, 1.4, 0.2 + 3 * (1 - 5.7)], rtol=1e-14)
    np.testing.assert_allclose(rossler[1].numpy(), [0.0, 0.0, 0.2])
    l96 = get_problem("lorenz96", N=5)
    assert l96.outputs == ("x1", "x2", "x3", "x4", "x5")
    dx = l96.vector_field(0.0, torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64))
    # dx_i = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + 8, indices cyclic
    np.testing.assert_allclose(dx.numpy(), [(2 - 4) * 5 - 1 + 8, (3 - 5) * 1 - 2 + 8,
                                            (4 - 1) * 2 - 3 + 8, (5 - 2) * 3 - 4 + 8,
                                            (1 - 3) * 4 - 5 + 8])
    l96.N = 7
    assert len(l96.outputs) == 7 and l96.initial_state().shape == (7,)


def test_lorenz_reference_is_tolerance_independent_on_a_short_horizon():
    problem = get_problem("lorenz63", t_end=2.0)
    grid = problem.grid((41,))
    ref = problem._reference(grid)
    loose = dopri5(problem.vector_field, problem.initial_state(), torch.as_tensor(grid["t"]),
                   rtol=1e-9, atol=1e-9).numpy()
    assert ref.shape == (41, 3)
    assert np.abs(ref - loose).max() < 1e-8 * np.abs(ref).max()  # measured 1.0e-9
    assert np.abs(ref[0] - [1.0, 1.0, 1.0]).max() == 0


@pytest.mark.parametrize("key,params", [("lorenz63", {}), ("rossler", {}), ("lorenz96", {"N": 8})])
def test_ode_reference_satisfies_the_residual(key, params):
    problem = get_problem(key, t_end=2.0, **params)
    nodes = torch.linspace(1.0 - 3e-3, 1.0 + 3e-3, 7, dtype=torch.float64)
    values = torch.as_tensor(problem._reference({"t": nodes.numpy()}))  # (7, d)
    model = lambda T: lagrange_weights(T[:, 0], nodes) @ values
    gen = torch.Generator().manual_seed(0)
    X = 1.0 + 1e-3 * (torch.rand(16, 1, generator=gen, dtype=torch.float64) - 0.5)
    f = Fields(model, X, problem.axes)
    r = problem.residual(f)
    assert r.shape == (16, len(problem.outputs))
    assert r.abs().max() < 1e-10 * f.u.abs().max()  # measured 5e-13 .. 1.2e-12
    ic = problem.initial_condition(torch.zeros(4, 1, dtype=torch.float64))
    assert ic.shape == (4, len(problem.outputs))


# ---- dysts bridge ---------------------------------------------------------------------------
def test_dysts_problem_without_dysts_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dysts", None)  # makes `import dysts` raise ImportError
    monkeypatch.setitem(sys.modules, "dysts.flows", None)
    with pytest.raises(ImportError, match=r"pip install sciml-lab\[chaos\]"):
        dysts_problem("Lorenz")


def test_dysts_problem_wraps_a_flow():
    """dysts' Lorenz, with its parameters and initial state, is the lab's Lorenz-63 (the whole
    catalogue is checked against dysts itself in tests/test_dysts.py)."""
    pytest.importorskip("dysts")
    problem = dysts_problem("Lorenz", t_end=1.0)
    beta, rho, sigma = problem._flow.param_list
    x0, y0, z0 = problem.initial_state().tolist()
    ours = get_problem("lorenz63", t_end=1.0, sigma=sigma, rho=rho, beta=beta, x0=x0, y0=y0, z0=z0)
    assert problem.outputs == ("x1", "x2", "x3")
    grid = problem.grid((11,))
    assert np.abs(problem._reference(grid) - ours._reference(grid)).max() < 1e-9
    with pytest.raises(ValueError, match="System"):
        dysts_problem("NoSuchFlow")
