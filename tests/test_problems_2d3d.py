"""2D / 2D+t / 3D+t catalogue entries: registry metadata, residuals of the references, bad params."""
import math

import numpy as np
import pytest
import torch

from lab.autodiff import Fields
from lab.problems import get_problem, list_problems
from lab.solvers.elliptic import _darcy_matrix
from lab.solvers.spectral import fourier_interpolate_points

F64 = torch.float64
KEYS = ["poisson2d", "helmholtz2d", "helmholtz2d_high", "darcy2d", "klein_gordon2d",
        "flow_mixing2d", "nonlinear_diffusion2d", "gray_scott2d", "ns2d_decaying",
        "ns2d_kolmogorov", "heat3d", "ns3d_taylor_green", "ns3d_isotropic", "mhd2d_orszag_tang"]
EXACT = ["poisson2d", "helmholtz2d", "helmholtz2d_high", "klein_gordon2d", "flow_mixing2d", "heat3d"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))


def test_registered_with_metadata():
    problems = list_problems()
    for key in KEYS:
        cls = problems[key]
        info = cls.info()
        assert info["latex"] and info["description"] and info["source"] and info["title"]
        assert len(cls.grid_shape) == len(cls.axes)
        p = cls()
        assert set(p.bounds()) == set(cls.axes)
        for name, par in p.param.objects().items():
            if name != "name":
                assert par.doc, f"{key}.{name} needs a doc"


@pytest.mark.parametrize("key", EXACT)
def test_exact_solutions_have_zero_residual_and_losses(key):
    p = get_problem(key)
    n_space = len(p.axes) - (p.time_axis is not None)

    def model(X):
        return p.exact(*[X[:, i] for i in range(len(p.axes))])[:, None]

    batch = p.sample(256, 64, 64, torch.Generator().manual_seed(0), dtype=F64)
    for name, value in p.losses(model, batch).items():
        assert float(value) < 1e-20, (key, name, float(value))
    ref = p.reference(p.grid([9] * len(p.axes)))
    assert ref.shape == (9,) * len(p.axes) and np.isfinite(ref).all()
    assert n_space >= 2


def test_flow_mixing_at_the_vortex_centre_and_klein_gordon_initial_velocity():
    p = get_problem("flow_mixing2d")
    X = torch.tensor([[0.0, 0.0, 1.0], [1e-8, 0.0, 2.0], [1.0, -2.0, 3.0]], dtype=F64)
    assert float(p.angular_velocity(X[:1, 0], X[:1, 1])) == pytest.approx(1 / 0.385)
    f = Fields(lambda Z: p.exact(Z[:, 0], Z[:, 1], Z[:, 2])[:, None], X, p.axes)
    assert float(p.residual(f).abs().max()) < 1e-12
    kg = get_problem("klein_gordon2d")
    X = torch.rand(32, 3, dtype=F64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    X[:, 2] = 0.0
    ut = Fields(lambda Z: kg.exact(Z[:, 0], Z[:, 1], Z[:, 2])[:, None], X, kg.axes).d("t")
    assert torch.allclose(ut[:, None], kg.initial_velocity(X), atol=1e-14)


@pytest.mark.parametrize("key,param,value", [
    ("helmholtz2d", "a1", -1.0), ("poisson2d", "k", 0), ("darcy2d", "n", 3),
    ("klein_gordon2d", "k", -2.0), ("ns2d_decaying", "nu", -1e-3), ("ns3d_taylor_green", "nu", -1.0),
    ("ns3d_isotropic", "cs", -0.1), ("gray_scott2d", "du", -1.0), ("heat3d", "kappa", 0.0),
])
def test_bad_parameters_raise_naming_them(key, param, value):
    cls = list_problems()[key]
    with pytest.raises(ValueError, match=rf"^{cls.param[param].label} must be"):  # the field as the app labels it
        get_problem(key, **{param: value})


def test_unstable_dt_and_memory_limits_raise():
    with pytest.raises(ValueError, match="dt"):
        get_problem("ns2d_kolmogorov", n=64, dt=1.0).reference(
            {"x": np.zeros(2), "y": np.zeros(2), "t": np.array([1.0])})
    with pytest.raises(ValueError, match=r"N = 1,024: the reference solve needs about .* above Max memory \(GB\) = 1"):
        get_problem("ns3d_taylor_green", n=1024, max_memory_gb=1.0).reference(
            {a: np.zeros(2) for a in ("x", "y", "z")} | {"t": np.array([0.1])})


def test_darcy_reference_solves_the_scheme_and_coefficient_is_known_everywhere():
    p = get_problem("darcy2d", n=65, seed=3)
    nodes = np.linspace(0, 1, 65)
    u = p.reference({"x": nodes, "y": nodes})
    a = p.coefficient_grid(nodes, nodes)
    r = _darcy_matrix(a) @ u[1:-1, 1:-1].ravel() - 1.0
    assert np.abs(r).max() < 1e-9 and np.abs(u[0]).max() == 0 and u.min() >= 0
    assert set(np.unique(a)) == {3.0, 12.0} and 0.2 < (a == 12).mean() < 0.8
    X = torch.tensor(np.stack(np.meshgrid(nodes[::8], nodes[::8], indexing="ij"), -1).reshape(-1, 2))
    assert np.array_equal(p.coefficient(X).numpy(), a[::8, ::8].ravel())
    res = p.residual(Fields(lambda Z: (Z[:, :1] * (1 - Z[:, :1])), X, p.axes))
    assert res.shape == (X.shape[0],)


def test_nonlinear_diffusion_reference_satisfies_pde():
    """Centred differences of the reference (65^2 nodes, t = 0.5 +- 0.01): residual << u_t."""
    p = get_problem("nonlinear_diffusion2d", n=128)
    x = np.linspace(-1, 1, 65)
    u = p.reference({"x": x, "y": x, "t": np.array([0.0, 0.49, 0.5, 0.51])})
    assert np.abs(u[..., 0] - p.initial_value(*np.meshgrid(x, x, indexing="ij"))).max() < 1e-13
    h, dt = x[1] - x[0], 0.01
    w = u[..., 2] ** 2
    lap_w = (w[2:, 1:-1] + w[:-2, 1:-1] + w[1:-1, 2:] + w[1:-1, :-2] - 4 * w[1:-1, 1:-1]) / h**2
    ut = (u[1:-1, 1:-1, 3] - u[1:-1, 1:-1, 1]) / (2 * dt)
    r = ut - 0.5 * p.alpha * lap_w
    assert np.abs(r).max() < 2e-2 * np.abs(ut).max(), np.abs(r).max() / np.abs(ut).max()


def _spectral_in_space_quadratic_in_time(fields, times, length):
    """A differentiable 'model': Fourier interpolant in space, Lagrange quadratic in time."""
    t0, t1, t2 = times

    def model(X):
        t = X[:, -1]
        basis = [(t - t1) * (t - t2) / ((t0 - t1) * (t0 - t2)),
                 (t - t0) * (t - t2) / ((t1 - t0) * (t1 - t2)),
                 (t - t0) * (t - t1) / ((t2 - t0) * (t2 - t1))]
        vals = [fourier_interpolate_points(fields[i], X[:, :-1], length) for i in range(3)]
        return sum(b[:, None] * v.transpose(0, 1) for b, v in zip(basis, vals))

    return model


@pytest.mark.parametrize("key,kw,tol", [
    ("ns2d_decaying", {"n": 64, "nu": 1e-2}, 1e-5),
    ("ns2d_kolmogorov", {"n": 128, "nu": 1e-2, "amplitude": 0.5}, 1e-5),
    ("gray_scott2d", {"n": 64, "du": 4e-3, "dv": 2e-3, "dt": 0.01}, 1e-4),  # 4.6e-5: cubic term at the front
    ("mhd2d_orszag_tang", {"n": 64}, 1e-5),  # outputs (omega, a, psi); the solver adds j, unused
])
def test_2d_periodic_references_satisfy_the_residual(key, kw, tol):
    """The problem's own autograd residual, applied to its reference, is ~0 (relative to u_t)."""
    p = get_problem(key, **kw)
    times = [0.2 - 1e-4, 0.2, 0.2 + 1e-4] if key != "gray_scott2d" else [4.99, 5.0, 5.01]
    fields = (p.solve(times) if key != "gray_scott2d" else
              torch.as_tensor(np.moveaxis(p.reference(p.grid((64, 64, 2)) | {"t": np.array(times)}), (2, 3), (0, 1))))
    model = _spectral_in_space_quadratic_in_time(fields, times, p.length if hasattr(p, "length") else 2.0)
    if key == "gray_scott2d":  # domain [-1, 1): shift the points to the solver's [0, 2) layout
        base = model
        model = lambda X: base(torch.cat([X[:, :2] + 1.0, X[:, 2:]], dim=1))  # noqa: E731
    g = torch.Generator().manual_seed(0)
    X = p.sample(64, 1, 1, g, dtype=F64)["pde"]
    X[:, 2] = times[1]
    f = Fields(model, X, p.axes)
    r = p.residual(f)
    if key.startswith("ns2d"):  # the residual is the vorticity equation: scale by w_t
        scale = (f.d("x", "t", out=1) - f.d("y", "t", out=0)).abs().max()
    else:
        scale = torch.stack([f.d("t", out=i) for i in range(len(p.outputs))]).abs().max()
    assert float(r.abs().max()) < tol * float(scale), float(r.abs().max() / scale)


def test_ns2d_initial_condition_matches_reference():
    p = get_problem("ns2d_decaying", n=64)
    grid = p.grid((16, 16, 2))
    ref = p.reference(grid)
    X = torch.tensor(np.stack(np.meshgrid(grid["x"], grid["y"], [0.0], indexing="ij"), -1).reshape(-1, 3))
    ic = p.initial_condition(X).numpy().reshape(16, 16, 2)
    assert np.abs(ic - ref[:, :, 0, :]).max() < 1e-12
    assert np.abs(ref[:, :, 1]).max() < np.abs(ref[:, :, 0]).max()  # unforced: decays


@pytest.mark.parametrize("key,kw,tol", [
    ("ns3d_taylor_green", {"n": 16, "nu": 0.1}, 1e-4),
    ("ns3d_isotropic", {"n": 32, "nu": 0.01, "k0": 2.0, "energy": 0.1}, 1e-3),
])
def test_3d_references_satisfy_velocity_pressure_residual(key, kw, tol):
    """Momentum (with the Smagorinsky term for the LES preset) and continuity hold for the
    reference's (u, v, w, p): validates the pressure and the eddy-viscosity force."""
    p = get_problem(key, **kw)
    times = [0.1 - 1e-4, 0.1, 0.1 + 1e-4]
    model = _spectral_in_space_quadratic_in_time(p.solve(times), times, p.length)
    X = p.sample(16, 1, 1, torch.Generator().manual_seed(0), dtype=F64)["pde"]
    X[:, 3] = times[1]
    f = Fields(model, X, p.axes)
    r = p.residual(f)
    scale = torch.stack([f.d("t", out=i) for i in range(3)]).abs().max()
    assert float(r[:, :3].abs().max()) < tol * float(scale), float(r[:, :3].abs().max() / scale)
    assert float(r[:, 3].abs().max()) < 1e-10
    grid_ic = fourier_interpolate_points(p.initial_velocity_grid(p.n), X[:, :3], p.length)
    assert (p.initial_condition(X) - grid_ic.transpose(0, 1)).abs().max() < 1e-12


def test_reference_shapes_and_caching_small_grids():
    p = get_problem("ns3d_taylor_green", n=16, t_end=0.2)
    grid = p.grid((8, 8, 8, 3))
    ref = p.reference(grid)
    assert ref.shape == (8, 8, 8, 3, 4)
    assert np.abs(p.reference(grid) - ref).max() == 0  # cached
    g = get_problem("gray_scott2d", n=32, t_end=2.0).reference({"x": np.linspace(-1, 1, 5),
                                                                "y": np.linspace(-1, 1, 7),
                                                                "t": np.array([2.0, 0.0, 1.0])})
    assert g.shape == (5, 7, 3, 2)
    assert abs(g[2, 3, 1, 0] - (1 - math.exp(-80 * (0.05**2 + 0.02**2)))) < 1e-3


def test_device_constants_are_built_once_per_device_and_parameter_values():
    """Data a loss needs on the device (Darcy's coefficient series, NS initial velocities) is
    held there, not copied per call: the same tensor until a parameter changes."""
    p = get_problem("darcy2d", modes=8)
    X = p.sample(16, 0, 0, torch.Generator().manual_seed(0))["pde"]
    a = p.coefficient(X)
    first = p.on_device("coeffs", p._coeffs, X.device)
    assert p.on_device("coeffs", p._coeffs, X.device) is first
    assert torch.equal(p.coefficient(X), a)
    p.seed = 1
    assert p.on_device("coeffs", p._coeffs, X.device) is not first
    ns = get_problem("ns2d_decaying")
    Xn = ns.sample(8, 8, 0, torch.Generator().manual_seed(0))["ic"]
    u0 = ns.initial_condition(Xn)
    assert torch.equal(ns.initial_condition(Xn), u0)
    assert len(ns.__dict__["_on_device"]) == 1
