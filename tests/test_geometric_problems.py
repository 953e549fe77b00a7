"""Problems on an L-shape, a disk, an annulus and a plate with a hole: exact references to
round-off, the finite-element reference at its measured order, and training with PINN and PIG."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import jv, jvp
from torch import nn

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.geometry import sample_boundary, sample_interior
from lab.problems import cache
from lab.solvers.fem import l2_error, plate_with_hole_mesh, poisson, probe

FAST = dict(n_pde=256, n_bc=128, log_every=50)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path / "cache"))


class Exact(nn.Module):
    """A problem's exact solution as a model, so the problem's own losses can be checked."""

    def __init__(self, problem):
        super().__init__()
        self.problem = problem

    def forward(self, X):
        return self.problem.exact(X[:, 0:1], X[:, 1:2])


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("key, params", [("lshape_laplace", {}), ("annulus_laplace", {}),
                                         ("annulus_laplace", {"r_inner": 0.2, "n": 5})])
def test_exact_solutions_meet_the_pde_and_every_boundary_condition_to_round_off(key, params):
    p = get_problem(key, **params)
    batch = p.sample(500, 0, 400, gen(), dtype=torch.float64)
    batch["pde"] = batch["pde"][batch["pde"].norm(dim=1) > 1e-2]  # ∇u is singular at the L's corner
    res = p.point_residuals(Exact(p), batch, engine="autograd")
    assert res["pde"].abs().max() < 1e-9
    assert res["bc"].abs().max() < 1e-12  # Dirichlet parts and the annulus's Neumann wall


def test_the_disk_bessel_mode_solves_helmholtz_and_meets_its_data():
    p = get_problem("disk_helmholtz", k=5.7, n=3)
    r = np.linspace(0.05, 1.0, 50)
    z = p.k * r
    # Δ(J_n(kr) cos nθ) + k² J_n(kr) cos nθ, radially: Bessel's equation
    radial = p.k ** 2 * jvp(p.n, z, 2) + p.k / r * jvp(p.n, z) - p.n ** 2 / r ** 2 * jv(p.n, z) + p.k ** 2 * jv(p.n, z)
    assert np.abs(radial).max() < 1e-12
    X = sample_boundary(p.geometry(), 200, gen(), dtype=torch.float64).points
    th = torch.atan2(X[:, 1], X[:, 0])
    assert torch.allclose(p.boundary_value(X)[:, 0], jv(p.n, p.k) * torch.cos(p.n * th), atol=1e-13)
    grid = {"x": X[:, 0].numpy(), "y": X[:, 1].numpy()}
    on = p._reference(grid)[np.arange(200), np.arange(200)]  # the diagonal: the sampled points
    assert np.abs(on - p.boundary_value(X)[:, 0].numpy()).max() < 1e-12


@pytest.mark.parametrize("key", ["lshape_laplace", "disk_helmholtz", "annulus_laplace", "plate_hole_heat"])
def test_references_are_nan_outside_the_domain_finite_inside_and_cached(key):
    p = get_problem(key, **({"n": 8} if key == "plate_hole_heat" else {}))
    grid = p.grid((41, 41))
    ref = p.reference(grid)
    inside = p.inside(grid)
    assert np.isnan(ref[~inside]).all() and np.isfinite(ref[inside]).all()
    assert 0 < inside.mean() < 1
    key_ = cache.key_for(p.key, p.config(), grid, p.solver_versions())
    assert cache.load(key_) is not None


def _manufactured(x):
    return np.exp(x[0]) * np.sin(x[1]) + x[0] ** 2 * x[1]  # -Δu = -2y


@pytest.mark.parametrize("neumann", [False, True])
def test_the_finite_element_reference_converges_at_second_order(neumann):
    """P1 on the polar-mapped plate: L2 error ~ h², Dirichlet data or a Neumann hole."""
    def flux(x):  # ∂u/∂n on the hole, n = -x/|x| pointing into it
        r = np.hypot(x[0], x[1])
        gx, gy = np.exp(x[0]) * np.sin(x[1]) + 2 * x[0] * x[1], np.exp(x[0]) * np.cos(x[1]) + x[0] ** 2
        return -(gx * x[0] + gy * x[1]) / r

    errors = []
    for n in (4, 8, 16):
        mesh = plate_with_hole_mesh(0.3, n)
        dirichlet = {"outer": _manufactured} if neumann else {"outer": _manufactured, "hole": _manufactured}
        basis, u = poisson(mesh, lambda x: -2 * x[1], dirichlet, {"hole": flux} if neumann else None)
        errors.append(l2_error(basis, u, _manufactured))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(orders - 2) < 0.2), orders


def test_the_plate_reference_is_the_finite_element_field_and_refines_towards_one_limit():
    coarse, fine = get_problem("plate_hole_heat", n=12), get_problem("plate_hole_heat", n=24)
    grid = coarse.grid((21, 21))
    a, b = coarse.reference(grid), fine.reference(grid)
    inside = np.isfinite(a)
    assert np.abs(a - b)[inside].max() < 2e-2  # O(h²) apart
    basis, u = coarse.solve_fem()
    assert np.abs(probe(basis, u, basis.mesh.p) - u).max() < 1e-12  # the probe hits the nodes
    # the maximum principle of the Laplace problem: 0 <= u <= T
    assert np.nanmin(a) > -1e-12 and np.nanmax(a) < 1 + 1e-12


def test_hard_constraints_use_the_geometry_distance_and_refuse_a_neumann_wall():
    p = get_problem("disk_helmholtz")
    model = get_model_config("modified_mlp", width=8, depth=1, embedding="none", hard="bc").build(p, generator=gen()).double()
    X = sample_boundary(p.geometry(), 100, gen(1), dtype=torch.float64).points
    assert torch.allclose(model(X), p.boundary_value(X), atol=1e-12)
    inner = sample_interior(p.geometry(), 100, gen(2), dtype=torch.float64)
    assert (model(inner) - p.boundary_value(inner)).abs().max() > 1e-3  # the network still acts inside
    with pytest.raises(ValueError, match="Dirichlet condition on every boundary part"):
        get_model_config("modified_mlp", hard="bc").build(get_problem("annulus_laplace"))


@pytest.mark.parametrize("kind, model_params, train_params, reached", [
    ("mlp", {"width": 32, "depth": 3}, {"lr": 3e-3}, 0.2),
    ("pig", {"n_gaussians": 64, "hidden": 16}, {"lr": 1e-2}, 0.6),
])
def test_pinn_and_pig_train_on_the_l_shape_with_rad_resampling(tmp_path, kind, model_params, train_params, reached):
    p = get_problem("lshape_laplace")
    events = []
    cfg = TrainConfig(steps=200, snapshot_every=40, resample_every=100, resampling="rad", seed=0,
                      device="cpu", **FAST, **train_params)
    result = Trainer(p, get_model_config(kind, **model_params), cfg, sinks=[events.append],
                     runs_dir=tmp_path).run()
    assert result.status == "completed"
    snaps = [e for e in events if type(e).__name__ == "Snapshot"]
    first, last = snaps[0], snaps[-1]
    assert last.rel_l2 < reached and last.rel_l2 <= first.rel_l2  # an untrained net is near 1
    outside = ~p.inside(last.grid)
    assert np.isnan(last.fields["prediction"][outside]).all()
    assert np.isfinite(last.fields["error"][~outside]).all()


def test_rad_draws_its_candidates_inside_the_domain():
    from lab.training.resampling import rad_sample

    p = get_problem("lshape_laplace")
    model = get_model_config("mlp", width=8, depth=1).build(p, generator=gen())
    X = rad_sample(p, model, 200, gen(3)).double()
    assert (p.geometry().sdf(X) < 0).all()
    assert math.isclose(float((X[:, 0] > 0).double().mean()), 1 / 3, abs_tol=0.15)
