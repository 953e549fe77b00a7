"""The shared spectral helpers: exact on band-limited fields, correct Nyquist handling."""
import math

import pytest
import torch

from lab.solvers.spectral import dealias_mask, spectral_derivative, wavenumber_grid, wavenumbers


@pytest.mark.parametrize("n", [16, 17])
def test_derivatives_of_a_trig_polynomial_are_exact(n):
    L = 3.0
    x = torch.arange(n, dtype=torch.float64) * L / n
    k = 2 * math.pi / L
    u = torch.sin(3 * k * x) + 0.5 * torch.cos(2 * k * x)
    du = 3 * k * torch.cos(3 * k * x) - k * torch.sin(2 * k * x)
    d2u = -(3 * k) ** 2 * torch.sin(3 * k * x) - 0.5 * (2 * k) ** 2 * torch.cos(2 * k * x)
    assert torch.allclose(spectral_derivative(u, (1,), L), du, atol=1e-11)
    assert torch.allclose(spectral_derivative(u, (2,), L), d2u, atol=1e-10)


def test_mixed_2d_derivative_and_batch_dims():
    n = 24
    x = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    X, Y = torch.meshgrid(x, x, indexing="ij")
    u = torch.sin(2 * X) * torch.cos(3 * Y)
    batch = torch.stack([u, 2 * u])
    uxy = spectral_derivative(batch, (1, 1))
    expected = -6 * torch.cos(2 * X) * torch.sin(3 * Y)
    assert torch.allclose(uxy[0], expected, atol=1e-11)
    assert torch.allclose(uxy[1], 2 * expected, atol=1e-11)


def test_odd_derivative_drops_the_nyquist_mode():
    n = 8
    x = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    u = torch.cos(4 * x)  # the Nyquist mode: its derivative is not representable
    assert spectral_derivative(u, (1,)).abs().max() < 1e-13
    # the second derivative of the Nyquist mode is representable and kept
    assert torch.allclose(spectral_derivative(u, (2,)), -16 * u, atol=1e-10)


def test_wavenumbers_and_masks():
    k = wavenumbers(8, 2 * math.pi)
    assert k.tolist() == [0, 1, 2, 3, -4, -3, -2, -1]
    kx, ky = wavenumber_grid((6, 8))
    assert kx.shape == (6, 1) and ky.shape == (1, 5)
    mask = dealias_mask((12, 12))
    assert mask.shape == (12, 7)
    kept = torch.fft.fftfreq(12, 1 / 12).abs() < 4
    assert mask[:, 0].tolist() == kept.tolist()
    with pytest.raises(ValueError, match="length"):
        wavenumbers(8, -1.0)
