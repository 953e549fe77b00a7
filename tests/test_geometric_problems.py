"""Problems on an L-shape, a disk, an annulus, a plate with a hole and a spherical shell: exact
references to round-off, the finite-element reference at its measured order, unit outward
normals in 3D, refused degenerate shapes, and training with PINN and PIG."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import jv, jvp
from torch import nn

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.config import ConfigError
from lab.diagnostics.metrics import relative_l2
from lab.geometry import sample_boundary, sample_interior
from lab.problems import cache, list_problems
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
        return self.problem.exact(*(X[:, i:i + 1] for i in range(X.shape[1])))


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
    # features of 0.1, not the default 1: with 1 PIG stays at the best constant (0.50 here)
    ("pig", {"n_gaussians": 64, "hidden": 16, "feature_std": 0.1, "init_scale": 0.5}, {"lr": 1e-2}, 0.2),
])
def test_pinn_and_pig_train_on_the_l_shape_with_rad_resampling(tmp_path, kind, model_params, train_params, reached):
    """Both well below the best constant (rel L2 0.48, where the PDE term holds a net that
    starts flat); measured 0.06-0.07 for PIG at 200 steps, uniform points."""
    p = get_problem("lshape_laplace")
    ref = p.reference()[np.isfinite(p.reference())]
    assert relative_l2(np.full_like(ref, ref.mean()), ref) > 0.45
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


# ---- a 3D geometry: Poisson in a spherical shell -------------------------------------------
@pytest.mark.parametrize("params", [{}, {"r_inner": 0.15, "r_outer": 2.0, "q": -20.0},
                                    {"r_inner": 0.85, "r_outer": 1.0, "q": 7.0}])
def test_the_shell_exact_solution_meets_the_pde_and_both_conditions_to_round_off(params):
    p = get_problem("shell_poisson", **params)
    batch = p.sample(600, 0, 600, gen(), dtype=torch.float64)
    res = p.point_residuals(Exact(p), batch, engine="autograd")
    scale = 1 + abs(p.q) * p.r_outer ** 2
    assert res["pde"].abs().max() < 1e-11 * scale  # -Δu - q, with Δ from autograd
    assert res["bc"].abs().max() < 1e-12 * scale  # u = cos θ outside, ∂u/∂n = 0 inside
    # the residual is not trivially small: a wrong source or a wrong sign is seen
    wrong = get_problem("shell_poisson", **{**params, "q": p.q + 1.0})
    assert wrong.point_residuals(Exact(p), batch, engine="autograd")["pde"].abs().min() > 0.99
    X = batch["bc"]
    outer = (X.norm(dim=1) - p.r_outer).abs() < 1e-9
    assert outer.any() and (~outer).any()
    cos_theta = X[outer, 2] / X[outer].norm(dim=1)
    assert torch.allclose(Exact(p)(X[outer])[:, 0], cos_theta, atol=1e-13)


def test_the_shell_reference_is_the_exact_field_inside_and_nan_outside():
    p = get_problem("shell_poisson", r_inner=0.4, q=2.0)
    grid = p.grid((21, 21, 21))
    ref = p.reference(grid)
    assert ref.shape == (21, 21, 21)
    X, Y, Z = np.meshgrid(grid["x"], grid["y"], grid["z"], indexing="ij")
    r = np.sqrt(X ** 2 + Y ** 2 + Z ** 2)
    inside = (r >= p.r_inner - 1e-12) & (r <= p.r_outer + 1e-12)
    assert np.array_equal(np.isfinite(ref), inside)
    assert np.abs(ref[inside] - p.exact(X[inside], Y[inside], Z[inside])).max() == 0
    assert p.bounds() == {a: (-1.0, 1.0) for a in "xyz"}


def test_shell_boundary_points_lie_on_the_spheres_with_unit_outward_normals_by_part():
    p = get_problem("shell_poisson", r_inner=0.5, r_outer=1.5)
    geometry = p.region()
    assert geometry.parts == ("outer", "inner") and geometry.dim == 3
    b = sample_boundary(geometry, 4000, gen(1), dtype=torch.float64)
    r = b.points.norm(dim=1)
    radial = b.points / r[:, None]
    assert torch.allclose(b.normals.norm(dim=1), torch.ones(len(r), dtype=torch.float64), atol=1e-12)
    for k, (radius, sign) in enumerate([(1.5, 1.0), (0.5, -1.0)]):
        on = b.parts == k
        assert torch.allclose(r[on], torch.full_like(r[on], radius), atol=1e-12)
        assert torch.allclose((b.normals[on] * radial[on]).sum(1), torch.full_like(r[on], sign), atol=1e-12)
    # outward: a small step along the normal leaves the domain, against it enters
    eps = 1e-3
    assert (geometry.sdf(b.points + eps * b.normals) > 0).all()
    assert (geometry.sdf(b.points - eps * b.normals) < 0).all()
    # uniform by area: the inner sphere holds a²/b² of the points outer holds
    share = float((b.parts == 1).double().mean())
    assert math.isclose(share, 0.25 / 2.5, abs_tol=0.02)


@pytest.mark.parametrize("params, allowed", [
    ({"r_inner": 1.0, "r_outer": 1.0}, r"\[0.1, 0.9\]"),
    ({"r_inner": 1.5, "r_outer": 1.2}, r"\[0.1, 1.08\]"),
    ({"r_inner": 0.95}, r"\[0.1, 0.9\]"),
])
def test_a_shell_without_room_is_refused_naming_the_inner_radius_and_its_range(params, allowed):
    with pytest.raises(ConfigError, match=allowed) as err:
        get_problem("shell_poisson", **params)
    assert err.value.parameter == "r_inner" and "Inner radius a" in str(err.value)
    p = get_problem("shell_poisson")
    with pytest.raises(ConfigError, match="Inner radius a"):
        p.r_outer = 0.5  # an edit that leaves the inner sphere outside is refused too
    with pytest.raises(ConfigError, match="Outer radius b"):
        get_problem("shell_poisson", r_outer=3.0)  # outside its own bounds


def test_the_shell_is_in_the_catalogue_as_3d_steady_with_units_and_latex():
    cls = list_problems()["shell_poisson"]
    assert cls.kind == "3d" and cls.axes == ("x", "y", "z") and cls.latex.startswith(r"-\Delta u")
    for name in ("r_inner", "r_outer", "q"):
        par = cls.param[name]
        assert None not in par.bounds and "length" in par.doc  # the unit, in the form's help


def test_a_short_pinn_run_on_the_shell_lowers_the_loss_and_the_error_against_the_exact_field(tmp_path):
    p = get_problem("shell_poisson")
    events = []
    cfg = TrainConfig(steps=300, snapshot_every=100, seed=0, device="cpu", lr=3e-3, n_pde=256, n_bc=256,
                      log_every=10)
    result = Trainer(p, get_model_config("mlp", width=32, depth=3), cfg, sinks=[events.append],
                     runs_dir=tmp_path).run()
    assert result.status == "completed"
    steps = [e for e in events if type(e).__name__ == "Step"]
    first, last = steps[0].total, np.mean([s.total for s in steps[-5:]])
    assert last < 0.3 * first, (first, last)
    snaps = [e for e in events if type(e).__name__ == "Snapshot"]
    assert snaps[-1].rel_l2 < 0.4  # 0.24 measured after 300 steps; an untrained net is near 1
    # the error is measured against the exact solution on the evaluation grid
    grid = snaps[-1].grid
    X, Y, Z = np.meshgrid(grid["x"], grid["y"], grid["z"], indexing="ij")
    inside = np.isfinite(snaps[-1].fields["reference"])
    np.testing.assert_allclose(snaps[-1].fields["reference"][inside].ravel(),
                               p.exact(X[inside], Y[inside], Z[inside]), atol=1e-12)
