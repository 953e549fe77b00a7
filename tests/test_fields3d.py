"""Vorticity and Q-criterion of Taylor–Green and ABC flows against their closed forms."""
import math

import numpy as np
import pytest
import torch

from lab.diagnostics.fields3d import (downsample, q_criterion, velocity_gradient, vorticity,
                                      vorticity_magnitude)

F64 = torch.float64
TOL = 1e-12  # spectral derivatives of these band-limited fields are exact to round-off


def grid3(n, length=2 * math.pi):
    x = torch.arange(n, dtype=F64) * length / n
    return torch.meshgrid(x, x, x, indexing="ij")


def taylor_green(n):
    x, y, z = grid3(n)
    u = torch.stack([torch.sin(x) * torch.cos(y) * torch.cos(z),
                     -torch.cos(x) * torch.sin(y) * torch.cos(z), torch.zeros_like(x)])
    return (x, y, z), u


@pytest.mark.parametrize("n", [16, 15])
def test_taylor_green_vorticity_and_q(n):
    (x, y, z), u = taylor_green(n)
    w = vorticity(u)
    exact = torch.stack([-torch.cos(x) * torch.sin(y) * torch.sin(z),
                         -torch.sin(x) * torch.cos(y) * torch.sin(z),
                         2 * torch.sin(x) * torch.sin(y) * torch.cos(z)])
    assert w.shape == (3, n, n, n)
    assert (w - exact).abs().max() < TOL
    assert (vorticity_magnitude(u) - exact.norm(dim=0)).abs().max() < TOL
    q_exact = torch.cos(z) ** 2 * (torch.sin(x) ** 2 * torch.sin(y) ** 2
                                   - torch.cos(x) ** 2 * torch.cos(y) ** 2)
    assert (q_criterion(u) - q_exact).abs().max() < TOL
    # incompressible: the trace of the velocity gradient vanishes
    A = velocity_gradient(u)
    assert (A[0, 0] + A[1, 1] + A[2, 2]).abs().max() < TOL


def test_abc_flow_is_beltrami_in_a_batch_and_scaled_box():
    """ABC flow (Dombre et al. 1986) is a Beltrami field: curl u = (2 pi / L) u."""
    A, B, C, L, n = 1.0, math.sqrt(2 / 3), math.sqrt(1 / 3), 3.0, 12
    x, y, z = grid3(n, L)
    s = 2 * math.pi / L
    u = torch.stack([A * torch.sin(s * z) + C * torch.cos(s * y),
                     B * torch.sin(s * x) + A * torch.cos(s * z),
                     C * torch.sin(s * y) + B * torch.cos(s * x)])
    batch = torch.stack([u, 2 * u])
    w = vorticity(batch, L)
    assert w.shape == (2, 3, n, n, n)
    assert (w - s * batch).abs().max() < TOL * s * 2


def test_2d_vorticity_and_q():
    n = 20
    x = torch.arange(n, dtype=F64) * 2 * math.pi / n
    X, Y = torch.meshgrid(x, x, indexing="ij")
    u = torch.stack([torch.sin(X) * torch.cos(Y), -torch.cos(X) * torch.sin(Y)])
    assert (vorticity(u, ndim=2) - 2 * torch.sin(X) * torch.sin(Y)).abs().max() < TOL
    q = torch.sin(X) ** 2 * torch.sin(Y) ** 2 - torch.cos(X) ** 2 * torch.cos(Y) ** 2
    assert (q_criterion(u, ndim=2) - q).abs().max() < TOL


def test_downsample_returns_the_factor():
    f = np.arange(64 ** 3, dtype=np.float32).reshape(64, 64, 64)
    small, s = downsample(f, 40_000)
    assert s == 2 and small.shape == (32, 32, 32) and small[1, 1, 1] == f[2, 2, 2]
    t = torch.zeros(3, 50, 50, 50)
    small, s = downsample(t, 10_000)
    assert small.shape[0] == 3 and math.prod(small.shape[1:]) <= 10_000 and s == 3
    assert math.prod(downsample(t, 10_000 * 8)[0].shape[1:]) > 10_000  # s is the smallest factor
    same, s = downsample(t, 10 ** 6)
    assert s == 1 and same.shape == t.shape
    with pytest.raises(ValueError, match="max_points"):
        downsample(t, 0)


def test_layout_errors():
    with pytest.raises(ValueError, match=r"3D velocity must be laid out \(\.\.\., 3, n1, n2, n3\)"):
        vorticity(torch.zeros(2, 8, 8, 8))
    with pytest.raises(ValueError, match="ndim must be 2 or 3"):
        vorticity(torch.zeros(1, 8), ndim=1)
