"""Stokes flow past a cylinder in a channel: the Taylor–Hood reference at its measured orders,
its boundary conditions and divergence, the PINN residual's terms and signs on exact Stokes
fields, refused layouts, and a short PINN run measured on the mesh's nodes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.config import ConfigError
from lab.diagnostics.metrics import relative_l2
from lab.problems import cache
from lab.solvers.fem import channel_with_cylinder_mesh, stokes, stokes_errors

NU = 0.1


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path / "cache"))


# a manufactured solution: u = curl of ψ = sin 3x sin 4y / ... (divergence-free), any pressure
def velocity(x):
    return np.stack([4 * np.sin(3 * x[0]) * np.cos(4 * x[1]), -3 * np.cos(3 * x[0]) * np.sin(4 * x[1])])


def gradient(x):  # [i, j] = ∂u_i / ∂x_j
    s3, c3, s4, c4 = np.sin(3 * x[0]), np.cos(3 * x[0]), np.sin(4 * x[1]), np.cos(4 * x[1])
    return np.array([[12 * c3 * c4, -16 * s3 * s4], [9 * s3 * s4, -12 * c3 * c4]])


def pressure(x):
    return np.cos(2 * x[0]) * np.sin(5 * x[1])


def force(x):  # -ν Δu + ∇p, with Δu = -25 u
    return 25 * NU * velocity(x) + np.stack([-2 * np.sin(2 * x[0]) * np.sin(5 * x[1]),
                                             5 * np.cos(2 * x[0]) * np.cos(5 * x[1])])


def traction(x, n):  # ν ∂u/∂n − p n on the outlet
    return NU * np.einsum("ij...,j...->i...", gradient(x), n) - pressure(x) * n


def test_taylor_hood_on_the_cylinder_channel_converges_at_orders_three_and_two():
    """Measured (n = 2, 4, 8; h halves): velocity L2 2.97, 3.01; velocity H1 1.95, 1.99;
    pressure L2 2.07, 2.02; ‖∇·u_h‖ 1.94, 1.98. Tolerance ±0.1 on 3, 2, 2, 2."""
    errors = []
    for n in (2, 4, 8):
        mesh = channel_with_cylinder_mesh(2.2, 0.41, (0.2, 0.2), 0.05, n)
        ub, u, pb, p = stokes(mesh, NU, force, {k: velocity for k in ("inlet", "walls", "cylinder")},
                              {"outlet": traction})
        errors.append(stokes_errors(ub, u, pb, p, velocity, gradient, pressure))
    orders = {k: np.log2([a[k] / b[k] for a, b in zip(errors, errors[1:])]) for k in errors[0]}
    expected = {"velocity_l2": 3, "velocity_h1": 2, "pressure_l2": 2, "divergence_l2": 2}
    for k, order in expected.items():
        assert np.all(np.abs(orders[k] - order) < 0.1), (k, orders[k])


def test_the_reference_meets_no_slip_and_the_inflow_at_the_nodes_and_leaves_fully_developed():
    p = get_problem("stokes_cylinder")
    nodes = p.reference_nodes()
    (x, y), (u, v, pr) = nodes["points"].T, nodes["values"].T
    h, cx, cy = p.height, p.center_x, p.center_y
    wall = (y < 1e-12) | (y > h - 1e-12) | (np.hypot(x - cx, y - cy) < p.radius + 1e-9)
    assert wall.sum() > 100
    assert np.abs(u[wall]).max() < 1e-12 and np.abs(v[wall]).max() < 1e-12
    inlet = x < 1e-12
    assert np.abs(u[inlet] - 4 * p.u_max * y[inlet] * (h - y[inlet]) / h ** 2).max() < 1e-12
    assert np.abs(v[inlet]).max() < 1e-12
    # two metres downstream the flow is Poiseuille again, and the do-nothing outlet has p ≈ 0
    outlet = x > p.length - 1e-12
    assert np.abs(u[outlet] - 4 * p.u_max * y[outlet] * (h - y[outlet]) / h ** 2).max() < 1e-3 * p.u_max
    assert np.abs(pr[outlet]).max() < 1e-3 * np.abs(pr).max()
    assert pr[inlet].mean() > pr[outlet].mean()  # the pressure drives the flow forward
    assert u.max() > p.u_max  # squeezed past the cylinder
    key = cache.key_for(p.key, p.config(), {"nodes": nodes["points"].ravel()}, p.solver_versions())
    assert cache.load(key) is not None


def test_the_reference_is_nearly_divergence_free_and_more_so_on_a_finer_mesh():
    def zero(x):
        return np.zeros((2,) + x.shape[1:])

    rel = []
    for n in (4, 8):
        ub, u, pb, pr = get_problem("stokes_cylinder", n=n).solve_fem()
        e = stokes_errors(ub, u, pb, pr, zero, lambda x: np.zeros((2, 2) + x.shape[1:]), lambda x: 0 * x[0])
        rel.append(e["divergence_l2"] / e["velocity_h1"])  # ‖∇·u_h‖ / |u_h|_1
    assert rel[1] < 0.05 and rel[1] < 0.7 * rel[0], rel


class Field(nn.Module):
    """An exact (u, v, p) as a model, so the problem's own residuals can be checked."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, X):
        return torch.stack(self.fn(X[:, 0], X[:, 1]), dim=1)


def test_the_pinn_residual_vanishes_on_exact_stokes_fields_and_not_with_a_wrong_sign():
    p = get_problem("stokes_cylinder", nu=0.05)
    g = torch.Generator().manual_seed(0)
    batch = p.sample(400, 0, 600, g, dtype=torch.float64)
    nu, h, U, L = p.nu, p.height, p.u_max, p.length
    # Δu = (4, 2), so ∇p = ν (4, 2); ∇·u = 2x − 2x = 0
    poly = Field(lambda x, y: (x ** 2 + y ** 2, x ** 2 - 2 * x * y, nu * (4 * x + 2 * y)))
    assert p.point_residuals(poly, {"pde": batch["pde"]}, engine="autograd")["pde"].abs().max() < 1e-12
    wrong = Field(lambda x, y: (x ** 2 + y ** 2, x ** 2 - 2 * x * y, -nu * (4 * x + 2 * y)))
    assert p.point_residuals(wrong, {"pde": batch["pde"]}, engine="autograd")["pde"].abs().max() > nu
    # Poiseuille flow with its pressure drop meets inlet, walls and the do-nothing outlet, not the cylinder
    poiseuille = Field(lambda x, y: (4 * U * y * (h - y) / h ** 2, 0 * x, 8 * nu * U / h ** 2 * (L - x)))
    res = p.point_residuals(poiseuille, batch, engine="autograd")
    assert res["pde"].abs().max() < 1e-12
    from lab.geometry import classify
    _, parts = classify(p.region(), batch["bc"])
    on_cylinder = parts == p.region().parts.index("cylinder")
    assert set(parts.unique().tolist()) == set(range(4))
    assert res["bc"].shape == (600, 2)
    assert res["bc"][~on_cylinder].abs().max() < 1e-12
    assert res["bc"][on_cylinder, 0].abs().max() > 0.5 * U


@pytest.mark.parametrize("params, name, allowed", [
    ({"radius": 0.2}, "radius", r"\(0, 0\.2\)"),
    ({"center_y": 0.3, "radius": 0.12}, "radius", r"\(0, 0\.11\)"),
    ({"center_x": 0.1, "radius": 0.1}, "radius", r"\(0, 0\.1\)"),
    ({"center_x": 0.4, "length": 0.55}, "length", r"\(0\.605, 4\]"),
])
def test_a_cylinder_that_does_not_fit_the_channel_is_refused_naming_the_setting_and_its_range(params, name, allowed):
    with pytest.raises(ConfigError, match=allowed) as err:
        get_problem("stokes_cylinder", **params)
    assert err.value.parameter == name
    with pytest.raises(ValueError, match="inside the channel"):
        channel_with_cylinder_mesh(2.2, 0.41, (0.2, 0.2), 0.25, 4)


def test_a_short_pinn_run_lowers_its_loss_and_measures_its_error_on_the_fem_nodes(tmp_path):
    p = get_problem("stokes_cylinder", n=4)
    events = []
    cfg = TrainConfig(steps=60, snapshot_every=30, log_every=10, n_pde=256, n_bc=128, lr=3e-3, seed=0, device="cpu")
    result = Trainer(p, get_model_config("mlp", width=24, depth=2), cfg, sinks=[events.append],
                     runs_dir=tmp_path).run()
    assert result.status == "completed"
    steps = [e for e in events if type(e).__name__ == "Step"]
    assert steps[-1].total < 0.5 * steps[0].total
    snap = [e for e in events if type(e).__name__ == "Snapshot"][-1]
    nodes = snap.extras["nodes"]
    assert nodes["prediction"].shape == nodes["reference"].shape == (len(nodes["points"]), 3)
    assert nodes["triangles"].max() < len(nodes["points"])
    np.testing.assert_allclose(nodes["error"], nodes["prediction"] - nodes["reference"])
    assert snap.rel_l2 == pytest.approx(relative_l2(nodes["prediction"], nodes["reference"]))
    assert 0 < snap.rel_l2 < 10
    assert snap.fields["reference"].shape == tuple(len(snap.grid[a]) for a in p.axes) + (3,)
