"""Gaussian random fields ``N(0, sigma^2 (-lap + tau^2 I)^(-alpha))``, the FNO input measures.

Li et al. (ICLR 2021, "Fourier Neural Operator") draw their inputs from this family: Burgers
``alpha = 2, tau = 5`` (1D), Darcy ``alpha = 2, tau = 3`` (thresholded), Navier–Stokes
``alpha = 2.5, tau = 7``, with ``sigma = tau^(alpha - d/2)`` by default, which makes the
field's amplitude O(1) whatever ``tau``. The mean (``k = 0``) mode is zero.

:func:`grf` samples periodic fields on a uniform grid of ``[0, L)^d`` by the FFT: real
white noise ``xi`` on ``N = n_1...n_d`` points has ``E|xi_hat_k|^2 = N``, so
``u = ifft(xi_hat * sqrt(N) * sigma * lambda_k^(-alpha/2))`` with
``lambda_k = |k|^2 + tau^2`` has exactly the covariance
``sum_k sigma^2 lambda_k^(-alpha) e^{i k (x - y)}`` of the truncated field (Nyquist included).
The same law as the FNO sampler (complex coefficients, real part); the random streams differ.

:func:`grf_cosine_coefficients` / :func:`cosine_series` give the Neumann (cosine-series)
variant on ``[0, 1]^2`` used for the FNO Darcy coefficients; being a finite series it can be
evaluated exactly at any point, so a thresholded coefficient is a known function everywhere.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from lab.solvers.spectral import wavenumber_grid

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"


def _validate(alpha, tau, batch):
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch}")


def grf(shape: Sequence[int], alpha: float, tau: float, batch: int, generator: torch.Generator,
        *, sigma: float | None = None, lengths: Sequence[float] | float = 1.0, device=None,
        dtype=torch.float64) -> torch.Tensor:
    """``batch`` periodic samples of shape ``(batch, *shape)`` on ``[0, L)^d`` (``d = len(shape)``).

    The noise is drawn on the CPU in float64 from ``generator`` and then moved, so a seed gives
    the same field on every device and dtype.
    """
    _validate(alpha, tau, batch)
    shape = tuple(int(s) for s in shape)
    if not 1 <= len(shape) <= 3 or min(shape) < 2:
        raise ValueError(f"shape must have 1 to 3 axes of at least 2 points, got {shape}")
    d = len(shape)
    sigma = tau ** (alpha - d / 2) if sigma is None else float(sigma)
    dims = tuple(range(-d, 0))
    noise = torch.randn((batch,) + shape, generator=generator, dtype=torch.float64)
    noise = noise.to(device=device, dtype=dtype)
    ks = wavenumber_grid(shape, lengths, device=noise.device, dtype=dtype)
    lam = sum(k * k for k in ks) + tau**2
    sqrt_cov = math.sqrt(math.prod(shape)) * sigma * lam ** (-alpha / 2)
    sqrt_cov.view(-1)[0] = 0.0  # zero-mean field
    return torch.fft.irfftn(torch.fft.rfftn(noise, dim=dims) * sqrt_cov, s=shape, dim=dims)


def grf_cosine_coefficients(modes: int, alpha: float, tau: float, batch: int,
                            generator: torch.Generator, *, device=None,
                            dtype=torch.float64) -> torch.Tensor:
    """Coefficients ``c[b, i, j]`` of ``sum c_ij cos(pi i x) cos(pi j y)`` on ``[0, 1]^2``.

    ``c_ij = tau^(alpha-1) (pi^2 (i^2 + j^2) + tau^2)^(-alpha/2) xi_ij``, ``c_00 = 0``, as in
    the FNO Darcy data generator (``GRF.m``), truncated to ``modes x modes`` terms.
    """
    _validate(alpha, tau, batch)
    if int(modes) != modes or modes < 2:
        raise ValueError(f"modes must be an integer >= 2, got {modes}")
    xi = torch.randn((batch, modes, modes), generator=generator, dtype=torch.float64)
    m = torch.arange(modes, dtype=torch.float64)
    lam = math.pi**2 * (m[:, None] ** 2 + m[None, :] ** 2) + tau**2
    c = tau ** (alpha - 1) * lam ** (-alpha / 2) * xi
    c[:, 0, 0] = 0.0
    return c.to(device=device, dtype=dtype)


def cosine_series(coeffs: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Evaluate ``sum c_ij cos(pi i x) cos(pi j y)``.

    ``x`` and ``y`` are 1-D: returns the tensor-product values ``(batch, len(x), len(y))``;
    scattered points are served by :func:`cosine_series_points`.
    """
    m = torch.arange(coeffs.shape[-1], device=coeffs.device, dtype=coeffs.dtype)
    cx = torch.cos(math.pi * x.to(coeffs)[:, None] * m)  # (nx, modes)
    cy = torch.cos(math.pi * y.to(coeffs)[:, None] * m)
    return cx @ coeffs @ cy.transpose(0, 1)


def cosine_series_points(coeffs: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The series at scattered points ``(x_p, y_p)`` for one coefficient set ``(modes, modes)``."""
    m = torch.arange(coeffs.shape[-1], device=coeffs.device, dtype=coeffs.dtype)
    cx = torch.cos(math.pi * x.to(coeffs)[:, None] * m)
    cy = torch.cos(math.pi * y.to(coeffs)[:, None] * m)
    return ((cx @ coeffs) * cy).sum(-1)
