"""The fused Navier–Stokes step (lab/solvers/ns_fused.py) equals the reference step to round-off."""
import math

import pytest
import torch

from lab.solvers.grf import grf
from lab.solvers.mhd import MHD2D
from lab.solvers.navier_stokes import (NavierStokes2D, NavierStokes3D, abc_flow, isotropic_turbulence,
                                       kolmogorov_forcing)

F64 = torch.float64
CUDA = torch.cuda.is_available()


def vorticity(n, batch, seed, dtype=F64):
    return 5 * grf((n, n), 2.5, 7.0, batch, torch.Generator().manual_seed(seed), dtype=F64).to(dtype)


def pair_2d(fused, dtype=F64, device=None, n=32):
    kw = dict(nu=1e-3, drag=0.1, forcing=kolmogorov_forcing(n, dtype=dtype, device=device), dtype=dtype,
              device=device)
    return NavierStokes2D(n, fused="off", **kw), NavierStokes2D(n, fused=fused, **kw)


def pair_3d(fused, cs, dtype=F64, device=None, n=16):
    force = 0.3 * torch.randn((3, n, n, n), generator=torch.Generator().manual_seed(5), dtype=F64)
    kw = dict(nu=1e-2, cs=cs, forcing=force.to(device=device, dtype=dtype), dtype=dtype, device=device)
    return NavierStokes3D(n, fused="off", **kw), NavierStokes3D(n, fused=fused, **kw)


def relative_gap(a, b):
    return float((a - b).abs().max() / a.abs().max())


@pytest.mark.parametrize("dtype,tol", [(F64, 1e-14), (torch.float32, 1e-6)])
def test_a_fused_2d_step_with_forcing_and_drag_equals_the_reference(dtype, tol):
    ref, fused = pair_2d("eager", dtype)
    v = ref.to_spectral(vorticity(32, 2, 0, dtype))
    dt = 0.8 * ref.max_stable_dt(v)
    assert fused.fused == "eager"
    assert relative_gap(ref.step(v, dt), fused.step(v, dt)) < tol
    assert fused.max_velocity(v) == pytest.approx(ref.max_velocity(v), rel=tol)


@pytest.mark.parametrize("cs", [0.0, 0.17])
@pytest.mark.parametrize("dtype,tol", [(F64, 1e-14), (torch.float32, 1e-6)])
def test_a_fused_3d_step_with_and_without_smagorinsky_equals_the_reference(cs, dtype, tol):
    ref, fused = pair_3d("eager", cs, dtype)
    g = torch.Generator().manual_seed(2)
    v = ref.project(ref.to_spectral(isotropic_turbulence(16, batch=2, generator=g, dtype=dtype)))
    dt = 0.8 * ref.max_stable_dt(v)
    step = ref.step(v, dt)
    assert relative_gap(step, fused.step(v, dt)) < tol
    assert relative_gap(step, v) > 1e3 * tol  # the step moved the state: the comparison can fail
    assert fused.max_velocity(v) == pytest.approx(ref.max_velocity(v), rel=tol)


def test_fused_solves_equal_the_reference_solves():
    """Adaptive CFL steps to several output times: the step sizes and the frames agree."""
    ref, fused = pair_2d("eager")
    w0 = vorticity(32, 2, 1)
    a, b = ref.solve(w0, [0.1, 0.3], cfl=1.5), fused.solve(w0, [0.1, 0.3], cfl=1.5)
    assert relative_gap(a, b) < 1e-12
    ref3, fused3 = pair_3d("eager", 0.17)
    u0 = isotropic_turbulence(16, batch=1, generator=torch.Generator().manual_seed(4))
    assert relative_gap(ref3.solve(u0, [0.05]), fused3.solve(u0, [0.05])) < 1e-12


def test_a_fused_step_keeps_exact_solutions():
    """A Beltrami flow decays as exp(-nu k^2 t) and a Fourier mode of the 2D equation as
    exp(-(nu k^2 + drag) t), to round-off, through the fused arithmetic alone."""
    nu = 0.1
    ns = NavierStokes3D(16, nu=nu, fused="eager")
    u0 = abc_flow(16, k=2, a=0.5, b=1.0, c=0.3)
    assert (ns.solve(u0, [0.5])[-1] - u0 * math.exp(-4 * nu * 0.5)).abs().max() < 1e-13
    ns2 = NavierStokes2D(32, nu=nu, drag=0.2, fused="eager")
    x = torch.arange(32, dtype=F64) * 2 * math.pi / 32
    w0 = torch.cos(3 * x[:, None] + 4 * x[None, :])
    assert (ns2.solve(w0, [1.0], dt=0.05)[-1] - w0 * math.exp(-(25 * nu + 0.2))).abs().max() < 1e-13


def test_the_fused_option_is_checked_and_auto_keeps_the_reference_on_a_cpu():
    assert NavierStokes2D(16, nu=0.1).fused == "off"
    assert NavierStokes3D(16, nu=0.1, fused="auto").fused == "off"
    with pytest.raises(ValueError, match="fused must be one of"):
        NavierStokes2D(16, nu=0.1, fused="fast")
    with pytest.raises(ValueError, match="fused='graphs' needs a CUDA device"):
        NavierStokes3D(16, nu=0.1, fused="graphs", device="cpu")
    assert MHD2D(16, nu=0.1, eta=0.1).fused == "off"  # no fused MHD step: the reference


def test_the_benchmark_runs_quickly_on_a_cpu(tmp_path):
    """``benchmarks/ns_fused_gpu.py --quick``: every row measured, none failed, fields agree."""
    import json

    from benchmarks import ns_fused_gpu

    ns_fused_gpu.main(["--quick", "--repeats", "1", "--data-samples", "2", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "ns_fused_gpu.json").read_text())["results"]
    assert not [r for r in rows if "error" in r or "skipped" in r]
    steps = [r for r in rows if "step_ms" in r]
    assert {r["fused"] for r in steps} == {"off", "eager"} and len(steps) == 6
    assert all(r["max_abs_diff_vs_reference"] < 1e-5 * r["max_abs_field"] for r in steps)
    compare = next(r for r in rows if r["case"] == "ns2d_data_compare")
    assert max(compare["max_abs_diff_per_frame"]) < 1e-5 * compare["max_abs_field"]


@pytest.mark.skipif(not CUDA, reason="torch.compile and CUDA graphs are checked on a CUDA device")
@pytest.mark.parametrize("mode", ["compile", "graphs"])
def test_compiled_steps_on_cuda_equal_the_reference(mode):
    ref, fused = pair_2d(mode, device="cuda")
    v = ref.to_spectral(vorticity(32, 2, 0).cuda())
    for dt in (0.01, 0.02):  # a new step size reuses the compiled step
        assert relative_gap(ref.step(v, dt), fused.step(v, dt)) < 1e-13
    for cs in (0.0, 0.17):
        ref3, fused3 = pair_3d(mode, cs, device="cuda")
        u = ref3.project(ref3.to_spectral(isotropic_turbulence(
            16, batch=1, generator=torch.Generator().manual_seed(2), device="cuda")))
        assert relative_gap(ref3.step(u, 0.01), fused3.step(u, 0.01)) < 1e-13


def test_a_step_starts_from_the_speed_measurement_of_its_own_state_only():
    """The adaptive loop measures max|u| of a state and steps from it; the step reuses that
    transform, but not for another state or one changed in place since."""
    _, fused = pair_2d("eager")
    v = fused.to_spectral(vorticity(32, 1, 3))
    dt = 0.5 * fused.max_stable_dt(v)
    plain = fused.step(v, dt)
    fused.max_velocity(v)
    assert relative_gap(plain, fused.step(v, dt)) < 1e-15
    w = v.clone()
    fused.max_velocity(w)
    w.mul_(2)
    assert relative_gap(fused.step(2 * v, dt), fused.step(w, dt)) < 1e-15


def test_auto_compiles_only_states_large_enough_to_pay_for_the_compile(monkeypatch):
    from lab.solvers import navier_stokes, ns_fused

    monkeypatch.setattr(navier_stokes, "default_fused", lambda device: "compile")
    monkeypatch.setattr(ns_fused, "runner", lambda *a: pytest.fail("a small state was compiled for"))
    ns, ref = NavierStokes2D(32, nu=1e-3), NavierStokes2D(32, nu=1e-3, fused="off")
    assert ns.fused == "compile"
    v = ref.to_spectral(vorticity(32, 2, 0))
    assert v.numel() < navier_stokes.AUTO_COMPILE_MIN
    assert torch.equal(ns.step(v, 0.01), ref.step(v, 0.01))
    assert ns.max_velocity(v) == ref.max_velocity(v)
    with pytest.raises(pytest.fail.Exception, match="compiled"):
        NavierStokes2D(32, nu=1e-3, fused="compile").step(v, 0.01)  # asked for: compiled
