"""How far a predictive distribution can be trusted: calibration of Gaussian predictions.

A method that returns a mean ``mu`` and a standard deviation ``sigma`` at every point of a
field (a deep ensemble, MC dropout, a Laplace approximation; :mod:`lab.uq`) is judged against
the true values ``y`` by proper scores and by coverage, the measures of "Evaluating
uncertainty quantification approaches for neural PDEs in scientific applications" (2023):

* coverage of the central interval of nominal level ``p``: the fraction of points with
  ``|y - mu| <= z_p sigma``, ``z_p = Phi^{-1}((1 + p) / 2)``; a calibrated model gives ``p``,
  an over-confident one less;
* the Gaussian negative log-likelihood ``1/2 log(2 pi sigma^2) + (y - mu)^2 / (2 sigma^2)``;
* the CRPS of ``N(mu, sigma^2)`` in closed form (Gneiting & Raftery 2007, eq. 21):
  ``sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)]``, ``z = (y - mu) / sigma`` — in the units
  of ``y``, and equal to the absolute error when ``sigma -> 0``;
* the Pearson correlation of ``|y - mu|`` with ``sigma``: whether the spread points at the
  error, which coverage alone cannot tell.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

#: the nominal levels every table reports
LEVELS = (0.5, 0.9, 0.95)


def _check(y, mu, sigma) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, mu, sigma = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (y, mu, sigma))
    if not (y.shape == mu.shape == sigma.shape) or y.size == 0:
        raise ValueError(f"truth, mean and spread need one non-zero size, got {y.size}, {mu.size}, {sigma.size}")
    if not (np.isfinite(sigma).all() and (sigma > 0).all()):
        raise ValueError("the predicted standard deviation must be finite and > 0 at every point")
    return y, mu, sigma


def coverage(y, mu, sigma, level: float) -> float:
    """Fraction of points inside the central ``level`` interval of ``N(mu, sigma^2)``."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"nominal level must be in (0, 1), got {level}")
    y, mu, sigma = _check(y, mu, sigma)
    z = stats.norm.ppf(0.5 + level / 2)
    return float(np.mean(np.abs(y - mu) <= z * sigma))


def gaussian_nll(y, mu, sigma) -> float:
    """Mean negative log-likelihood of ``y`` under ``N(mu, sigma^2)`` (nats per point)."""
    y, mu, sigma = _check(y, mu, sigma)
    return float(np.mean(0.5 * np.log(2 * np.pi * sigma**2) + (y - mu) ** 2 / (2 * sigma**2)))


def crps_gaussian(y, mu, sigma) -> float:
    """Mean continuous ranked probability score of ``N(mu, sigma^2)`` at ``y`` (closed form)."""
    y, mu, sigma = _check(y, mu, sigma)
    z = (y - mu) / sigma
    return float(np.mean(sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))))


def spread_error_correlation(y, mu, sigma) -> float:
    """Pearson correlation of the absolute error with the predicted spread (NaN if either is constant)."""
    y, mu, sigma = _check(y, mu, sigma)
    err = np.abs(y - mu)
    if err.std() == 0 or sigma.std() == 0:
        return float("nan")
    return float(np.corrcoef(err, sigma)[0, 1])


@dataclass(frozen=True)
class Calibration:
    """Every score of one predictive field against its truth."""

    coverage: dict[float, float]    # nominal level -> observed fraction
    nll: float
    crps: float
    spread_error_corr: float
    rmse: float
    mean_sigma: float

    def row(self) -> dict[str, float]:
        """A flat table row: ``cov50``, ``cov90``, ``cov95``, then the scores."""
        out = {f"cov{round(100 * p)}": c for p, c in self.coverage.items()}
        out.update(nll=self.nll, crps=self.crps, spread_error_corr=self.spread_error_corr,
                   rmse=self.rmse, mean_sigma=self.mean_sigma)
        return out


def calibration(y, mu, sigma, levels=LEVELS) -> Calibration:
    """All scores of ``N(mu, sigma^2)`` against ``y`` (any shapes with one number of points)."""
    y, mu, sigma = _check(y, mu, sigma)
    return Calibration({p: coverage(y, mu, sigma, p) for p in levels}, gaussian_nll(y, mu, sigma),
                       crps_gaussian(y, mu, sigma), spread_error_correlation(y, mu, sigma),
                       float(np.sqrt(np.mean((y - mu) ** 2))), float(sigma.mean()))


def coverage_curve(y, mu, sigma, levels=None) -> tuple[np.ndarray, np.ndarray]:
    """``(nominal, observed)`` coverage at ``levels`` (default 0.05, 0.10, ..., 0.95): the
    reliability diagram of the central intervals; a calibrated model lies on the diagonal."""
    levels = np.round(np.arange(0.05, 0.951, 0.05), 2) if levels is None else np.asarray(levels, dtype=float)
    return levels, np.array([coverage(y, mu, sigma, p) for p in levels])
