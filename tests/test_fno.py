"""FNO and its spectral layer: shapes, gradients, exact band-limited behaviour, Nyquist, rebuild."""
import math

import pytest
import torch

from lab.models import get_model_config
from lab.models.fno import FNO, FNOConfig, Pointwise
from lab.models.layers.spectral_conv import SpectralConv, check_modes
from lab.problems import get_problem
from lab.solvers.spectral import fourier_interpolate_points

GRIDS = {1: [(16,), (15,)], 2: [(12, 10), (11, 9)], 3: [(8, 8, 6), (7, 9, 5)]}
CASES = [(d, s) for d, shapes in GRIDS.items() for s in shapes]


def _fine_interpolant(x, fine):
    """Trigonometric interpolant of periodic samples ``x`` evaluated on the grid ``fine``."""
    axes = [torch.arange(n, dtype=torch.float64) * 2 * math.pi / n for n in fine]
    pts = torch.stack([g.reshape(-1) for g in torch.meshgrid(*axes, indexing="ij")], 1)
    return fourier_interpolate_points(x, pts).reshape(*x.shape[:2], *fine)


@pytest.mark.parametrize("d,shape", CASES)
def test_super_resolution_shape_and_gradients(d, shape):
    model = FNO(2, 3, tuple(n // 2 for n in shape), width=6, n_layers=2, projection_channels=8)
    fine = tuple(2 * n + 1 for n in shape)  # finer and of the other parity
    out = model(torch.randn(2, 2, *fine))
    assert out.shape == (2, 3, *fine)
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"parameters without gradient: {missing}"


@pytest.mark.parametrize("factorization", ["dense", "cp", "separable"])
@pytest.mark.parametrize("d,shape", CASES)
def test_layer_is_the_same_operator_on_a_finer_grid(d, shape, factorization):
    """All modes kept (modes = n//2+1, Nyquist included on even grids): the coarse-grid output
    equals the fine-grid output on the interpolated input, sampled back — to round-off."""
    gen = torch.Generator().manual_seed(0)
    layer = SpectralConv(3, 3, tuple(n // 2 + 1 for n in shape), factorization=factorization,
                         generator=gen).double()
    x = torch.randn(3, 2, *shape, dtype=torch.float64, generator=gen)  # channel-major
    fine = tuple(2 * n for n in shape)
    with torch.no_grad():
        y_coarse, y_fine = layer(x), layer(_fine_interpolant(x, fine))
    back = y_fine[(Ellipsis, *[slice(None, None, 2)] * d)]
    assert torch.allclose(back, y_coarse, atol=1e-12 * float(y_coarse.abs().max()))
    assert y_coarse.abs().max() > 1e-3  # a non-trivial output


def _fft_reference(layer, x):
    """The layer through full FFTs: weights scattered onto the FFT bins, the Nyquist pair averaged."""
    d = layer.ndim
    shape, dims = tuple(x.shape[-d:]), tuple(range(-d, 0))
    check_modes(layer.modes, shape)
    w = layer.complex_weight().detach().to(torch.complex128)
    lead = w.shape[:-d]
    half = (*shape[:-1], shape[-1] // 2 + 1)
    idx = [torch.cat([torch.arange(m), torch.arange(-(m - 1), 0)]) % n
           for m, n in zip(layer.modes[:-1], shape[:-1])] + [torch.arange(layer.modes[-1])]
    grid = torch.meshgrid(*idx, indexing="ij")
    k = len(lead)  # index_put_ takes leading indices only: channels go last and back
    full = torch.zeros(*half, *lead, dtype=torch.complex128).index_put_(
        grid, w.movedim(tuple(range(k)), tuple(range(d, d + k))), accumulate=True)
    full = full.movedim(tuple(range(d, d + k)), tuple(range(k)))
    count = torch.zeros(half, dtype=torch.float64).index_put_(grid, torch.ones(grid[0].shape, dtype=torch.float64),
                                                             accumulate=True)
    full = full / count.clamp_min(1)
    xh = torch.fft.rfftn(x.double(), dim=dims)
    yh = xh * full[:, None] if layer.factorization == "separable" else torch.einsum("ib...,io...->ob...", xh, full)
    return torch.fft.irfftn(yh, s=shape, dim=dims)


@pytest.mark.parametrize("factorization", ["dense", "cp", "separable"])
@pytest.mark.parametrize("d,shape", CASES)
@pytest.mark.parametrize("nyquist", [False, True])
def test_truncated_dft_layer_equals_the_fft_reference(d, shape, factorization, nyquist):
    """The GEMM transforms compute the FFT definition: to 1e-12 in float64 and 1e-5 in float32
    (relative to the output's norm), Nyquist modes included."""
    gen = torch.Generator().manual_seed(2)
    modes = tuple(n // 2 + 1 if nyquist else max(1, n // 3) for n in shape)
    layer = SpectralConv(3, 3, modes, factorization=factorization, generator=gen).double()
    x = torch.randn(3, 2, *shape, dtype=torch.float64, generator=gen)
    ref = _fft_reference(layer, x)
    with torch.no_grad():
        y64, y32 = layer(x), layer.float()(x.float())
    assert float((y64 - ref).norm() / ref.norm()) < 1e-12
    assert float((y32.double() - ref).norm() / ref.norm()) < 1e-5


@pytest.mark.parametrize("d,shape", CASES)
def test_fused_skip_and_bias_equal_the_separate_sum(d, shape):
    """``K(v, add=z, bias=b) = K v + z + b``, values and gradients (float64, to 1e-12)."""
    gen = torch.Generator().manual_seed(3)
    layer = SpectralConv(4, 3, tuple(max(1, n // 3) for n in shape), generator=gen).double()
    x = torch.randn(4, 2, *shape, dtype=torch.float64, generator=gen, requires_grad=True)
    z0 = torch.randn(3, 2, *shape, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, generator=gen, requires_grad=True)
    cot = torch.randn(3, 2, *shape, dtype=torch.float64, generator=gen)
    grads = []
    for fused in (True, False):
        z = z0 * 1.0  # a non-leaf, as the skip path's output is
        y = layer(x, add=z, bias=b) if fused else layer(x) + z + b.reshape(3, 1, *[1] * d)
        grads.append((y, *torch.autograd.grad((y * cot).sum(), (x, z0, b, layer.weight))))
    for a, r in zip(*grads):
        assert torch.allclose(a, r, rtol=0, atol=1e-12 * float(r.detach().abs().max()))


@pytest.mark.parametrize("d,shape", CASES)
def test_identity_weights_reproduce_band_limited_input(d, shape):
    modes = tuple(max(1, n // 2 - 1) for n in shape)
    layer = SpectralConv(2, 2, modes).double()
    with torch.no_grad():
        layer.weight.zero_()
        eye = torch.eye(2, dtype=torch.float64).reshape(2, 2, *[1] * d)
        layer.weight[..., 0] = eye  # real part: identity for every retained frequency
    # random band-limited field: frequencies |f| < modes on every axis
    coeff = torch.zeros(2, 2, *shape[:-1], shape[-1] // 2 + 1, dtype=torch.complex128)
    gen = torch.Generator().manual_seed(1)
    idx = []
    for axis, (m, n) in enumerate(zip(modes, shape)):
        f = torch.arange(m) if axis == d - 1 else torch.cat([torch.arange(m), torch.arange(n - m + 1, n)])
        idx.append(f)
    block = torch.randn(2, 2, *[len(i) for i in idx], 2, generator=gen, dtype=torch.float64)
    coeff[(Ellipsis, *torch.meshgrid(*idx, indexing="ij"))] = torch.view_as_complex(block)
    x = torch.fft.irfftn(coeff, s=shape, dim=tuple(range(-d, 0)))
    assert torch.allclose(layer(x), x, atol=1e-13)
    # and a frequency just above the band is removed
    high = torch.cos(2 * math.pi * modes[0] * torch.arange(shape[0], dtype=torch.float64) / shape[0])
    xh = high.reshape(1, 1, -1, *[1] * (d - 1)).expand(2, 1, *shape).contiguous()
    assert layer(xh).abs().max() < 1e-13


def test_pointwise_is_a_linear_map_per_point_on_channel_major_tensors():
    """``(c_in, batch, *s)`` in, ``(c_out, batch, *s)`` out: each point mapped by ``W x + b``,
    as :class:`torch.nn.Linear` maps it in ``(batch, *s, c)``; gradients too."""
    gen = torch.Generator().manual_seed(4)
    layer = Pointwise(4, 5).double()
    lin = torch.nn.Linear(4, 5).double()
    lin.load_state_dict({"weight": layer.weight.detach(), "bias": layer.bias.detach()})
    x = torch.randn(4, 3, 6, 7, dtype=torch.float64, generator=gen)
    y = layer(x)
    assert y.shape == (5, 3, 6, 7)
    assert torch.allclose(y, lin(x.movedim(0, -1)).movedim(-1, 0), atol=1e-14)
    assert torch.allclose(layer(x, bias=False), y - layer.bias[:, None, None, None], atol=1e-14)
    assert torch.autograd.gradcheck(lambda t: layer(t), (x[:, :2, :3, :2].clone().requires_grad_(),))


def test_modes_beyond_the_grid_raise_naming_modes():
    layer = SpectralConv(1, 1, (9,))
    layer(torch.randn(1, 1, 16))  # 16 // 2 + 1 = 9 is allowed
    with pytest.raises(ValueError, match="modes"):
        layer(torch.randn(1, 1, 15))
    problem = get_problem("darcy_operator", resolution=15, solve_resolution=29)
    with pytest.raises(ValueError, match="modes"):
        FNOConfig(modes=9).build(problem)


def test_saved_model_rebuilds_from_its_config():
    problem = get_problem("darcy_operator", resolution=15, solve_resolution=29)
    cfg = get_model_config("fno", modes=5, width=8, n_layers=2, factorization="cp", rank=4)
    model = cfg.build(problem)
    x = torch.randn(2, 1, 15, 15)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    again = get_model_config("fno", **cfg.to_dict()).build(problem)
    again.load_state_dict(state)
    assert torch.equal(again(x), model(x))
    twin = FNO.from_config(model.config)
    twin.load_state_dict(state)
    assert torch.equal(twin(x), model(x))


def test_bf16_autocast_keeps_ffts_in_float32():
    model = FNO(1, 1, (4, 4), width=8, n_layers=2, projection_channels=8, mixed_precision=True)
    ref = FNO(1, 1, (4, 4), width=8, n_layers=2, projection_channels=8)
    ref.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 16, 16)
    out = model(x)
    assert out.dtype == torch.float32
    with torch.no_grad():
        rel = float((out - ref(x)).norm() / ref(x).norm())
    assert 0 < rel < 0.05  # bf16 pointwise layers: ~1e-2 relative, not garbage


def test_deeponet_queries_any_output_grid():
    problem = get_problem("burgers_operator", resolution=32, solve_resolution=64)
    model = get_model_config("deeponet", branch_width=16, trunk_width=16, basis=8).build(problem)
    x = torch.randn(3, 1, 32)
    assert model(x).shape == (3, 1, 32)
    fine = model(x, out_shape=(128,))
    assert fine.shape == (3, 1, 128)
    assert torch.allclose(fine[..., ::4], model(x), atol=1e-6)  # same points, same values
    with pytest.raises(ValueError, match="sensor"):
        model(torch.randn(3, 1, 64))
