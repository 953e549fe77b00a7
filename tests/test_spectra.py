"""Energy spectra: exact shell placement, Parseval, prescribed spectra, band errors."""
import math

import pytest
import torch

from lab.diagnostics.spectra import (band_errors, dissipation_spectrum, energy_spectrum,
                                     power_law_guide)
from lab.solvers.spectral import wavenumber_grid

F64 = torch.float64


def grid(n, ndim, length=2 * math.pi):
    x = torch.arange(n, dtype=F64) * length / n
    return torch.meshgrid(*([x] * ndim), indexing="ij")


@pytest.mark.parametrize("n", [16, 17])
def test_single_mode_1d_lands_in_its_shell(n):
    (x,) = grid(n, 1)
    u = 3.0 * torch.cos(5 * x + 0.3)
    k, E = energy_spectrum(u, 1)
    assert torch.argmax(E) == 5 and k[5] == 5
    assert E[5].item() == pytest.approx(9.0 / 4, rel=1e-13)  # 0.5 <u^2> = A^2 / 4
    assert (E.sum() - E[5]).abs() < 1e-26


@pytest.mark.parametrize("n", [16, 15])
def test_single_mode_2d_and_3d_vector(n):
    x, y = grid(n, 2)
    u = torch.sin(3 * x + 4 * y)  # |k| = 5, modes (3, 4) and (-3, -4): one across the rfft cut
    k, E = energy_spectrum(u, 2)
    assert E[5].item() == pytest.approx(0.25, rel=1e-13) and (E.sum() - E[5]).abs() < 1e-26
    x, y, z = grid(n, 3)
    v = torch.stack([torch.cos(2 * z), torch.sin(2 * x) * 2, torch.zeros_like(x)])  # |k| = 2
    k, E = energy_spectrum(v[None], 3, vector=True)
    assert E.shape == (1, k.numel())
    assert E[0, 2].item() == pytest.approx(0.25 + 1.0, rel=1e-13)
    assert (E.sum() - E[0, 2]).abs() < 1e-25


def test_box_length_scales_wavenumbers():
    L = 3.0
    (x,) = grid(32, 1, L)
    _, E = energy_spectrum(torch.cos(2 * math.pi * 4 * x / L), 1, L)
    k, _ = energy_spectrum(torch.cos(x), 1, L)
    assert torch.argmax(E) == 4 and k[4].item() == pytest.approx(8 * math.pi / L, rel=1e-14)


@pytest.mark.parametrize("shape,ndim,vector", [((3, 33), 1, False), ((2, 20, 17), 2, False),
                                               ((2, 3, 12, 9, 10), 3, True),
                                               ((3, 16, 16, 16), 3, True)])
def test_parseval(shape, ndim, vector):
    g = torch.Generator().manual_seed(0)
    u = torch.randn(shape, generator=g, dtype=F64)
    lengths = (1.0, 2.0, 3.5)[:ndim]
    k, E = energy_spectrum(u, ndim, lengths, vector=vector)
    spatial = tuple(range(-ndim, 0))
    energy = 0.5 * u.square().mean(dim=spatial)
    if vector:
        energy = energy.sum(-1)
    assert E.shape == (*energy.shape, k.numel())
    assert torch.allclose(E.sum(-1), energy, rtol=1e-12, atol=0)


def test_prescribed_spectrum_recovered():
    """Random-phase field with shells scaled to von Karman's E(k) = k^4 / (1 + k^2)^(17/6)."""
    n = 48
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(2, n, n, generator=g, dtype=F64)
    kx, ky = wavenumber_grid((n, n))
    idx = torch.round(torch.sqrt(kx ** 2 + ky ** 2)).long()
    k, E_noise = energy_spectrum(noise, 2)
    target = k ** 4 / (1 + k ** 2) ** (17 / 6)
    scale = torch.sqrt(target / E_noise)  # per batch entry and shell
    u_hat = torch.fft.rfftn(noise, dim=(-2, -1)) * torch.gather(
        scale, 1, idx.reshape(1, -1).expand(2, -1)).reshape(2, *idx.shape)
    u = torch.fft.irfftn(u_hat, s=(n, n), dim=(-2, -1))
    _, E = energy_spectrum(u, 2)
    assert torch.allclose(E, target.expand(2, -1), rtol=1e-12, atol=1e-30)


def test_dissipation_spectrum_sums_to_dissipation_rate():
    """Modes on integer |k| (1, 5, 2, 3): sum_k 2 nu k^2 E(k) == nu <|grad u|^2> exactly."""
    nu = 0.01
    x, y, z = grid(20, 3)
    u = torch.stack([torch.cos(x) + torch.sin(3 * x + 4 * y), torch.sin(2 * z),
                     torch.cos(2 * x + 2 * y + z)])
    k, E = energy_spectrum(u, 3, vector=True)
    D = dissipation_spectrum(k, E, nu)
    assert D.shape == E.shape
    assert D.sum().item() == pytest.approx(nu * 0.5 * (1 + 25 + 4 + 9), rel=1e-12)
    with pytest.raises(ValueError, match="nu"):
        dissipation_spectrum(k, E, 0.0)


def test_band_errors_isolate_the_perturbed_band():
    n = 64
    x, y = grid(n, 2)
    ref = torch.sin(x) + 0.5 * torch.cos(6 * y) + 0.1 * torch.sin(20 * x + 3 * y)
    pred = ref + 0.01 * torch.sin(6 * x)  # error only at |k| = 6
    err = band_errors(pred, ref, 2, edges=(4, 12))
    assert err["low"] < 1e-14 and err["high"] < 1e-14  # FFT round-off only
    # band energy of ref in [4, 12): 0.5 * 0.5^2 / 2 ; of the error: 0.5 * 0.01^2 / 2
    assert err["mid"].item() == pytest.approx(0.01 / 0.5, rel=1e-12)
    tot = band_errors(pred, ref, 2, edges=(4, 12), relative_to="total")
    rel_l2 = ((pred - ref).norm() / ref.norm()).item()
    assert sum(v ** 2 for v in tot.values()).sqrt().item() == pytest.approx(rel_l2, rel=1e-12)
    # a reference with (round-off) energy only in the low band: "total" stays meaningful
    tot = band_errors(torch.sin(x) + 0.01 * torch.sin(30 * x), torch.sin(x), 2, (4, 12),
                      relative_to="total")
    assert tot["high"].item() == pytest.approx(0.01, rel=1e-12) and tot["low"] < 1e-14


def test_power_law_guide():
    k = torch.arange(10, dtype=F64)
    E = torch.rand(2, 10, dtype=F64, generator=torch.Generator().manual_seed(0))
    line = power_law_guide(k, E, anchor=3)
    assert torch.isnan(line[:, 0]).all()
    assert torch.allclose(line[:, 3], E[:, 3])
    assert torch.allclose(line[:, 6] / line[:, 3], torch.tensor(2.0, dtype=F64) ** (-5 / 3))


def test_errors_are_clear():
    with pytest.raises(ValueError, match="2D scalar spectrum needs u"):
        energy_spectrum(torch.zeros(16), 2)
    with pytest.raises(ValueError, match="3D vector spectrum"):
        energy_spectrum(torch.zeros(16, 16, 16), 3, vector=True)
    with pytest.raises(ValueError, match="ndim must be 1, 2 or 3"):
        energy_spectrum(torch.zeros(4, 4, 4, 4), 4)
    with pytest.raises(ValueError, match="lengths has 1 entries"):
        energy_spectrum(torch.zeros(8, 8), 2, (1.0,))
    with pytest.raises(ValueError, match="pred shape"):
        band_errors(torch.zeros(8, 8), torch.zeros(8, 9), 2, (1, 2))
    with pytest.raises(ValueError, match="edges"):
        band_errors(torch.zeros(8, 8), torch.zeros(8, 8), 2, (3, 2))
    with pytest.raises(ValueError, match="real floating-point"):
        energy_spectrum(torch.zeros(8, dtype=torch.complex128), 1)
