"""Sparse regression ``u_t ≈ Θ ξ`` by sequentially thresholded least squares (STLSQ).

STLSQ (Brunton, Proctor & Kutz, PNAS 113, 2016; the ridge variant STRidge of Rudy et al. 2017)
alternates a ridge fit with dropping every term whose coefficient is below a threshold. The
optimiser is ``pysindy``'s :class:`~pysindy.optimizers.STLSQ` (the ``discovery`` extra). Terms
live on very different scales (``u_xxxx`` of a KS cell is ~10⁴ times ``u``), so the fit runs
on a library whose columns and target are scaled to unit norm: a coefficient is then the
share of ``‖u_t‖`` its term carries, and one ``threshold`` (e.g. 0.05: terms carrying less
than 5 % are dropped) serves every equation. Coefficients are scaled back afterwards.
"""
from __future__ import annotations

import numpy as np


def _stlsq(threshold: float, alpha: float):
    try:
        from pysindy.optimizers import STLSQ
    except ImportError as err:  # the lab core stays light: pysindy is an optional extra
        raise ImportError("equation discovery needs pysindy: pip install 'sciml-lab[discovery]'") from err
    return STLSQ(threshold=threshold, alpha=alpha, max_iter=20, normalize_columns=False, unbias=True)


def sparse_regression(theta: np.ndarray, ut: np.ndarray, *, threshold: float = 0.05,
                      alpha: float = 1e-5, active: np.ndarray | None = None) -> np.ndarray:
    """``ξ`` (``K``,) with few non-zeros such that ``Θ ξ ≈ u_t``; ``Θ`` is ``(N, K)``.

    ``threshold`` is the smallest share of ``‖u_t‖`` a kept term carries (see the module);
    ``alpha`` the ridge weight on the scaled coefficients; ``active`` (boolean ``K``) restricts
    the fit to terms still in play — the alternating fit never brings a dropped term back."""
    theta, ut = np.asarray(theta, dtype=np.float64), np.asarray(ut, dtype=np.float64).reshape(-1)
    if theta.ndim != 2 or theta.shape[0] != ut.shape[0]:
        raise ValueError(f"library of shape {theta.shape} does not match {ut.shape[0]} values of u_t")
    if not np.isfinite(theta).all() or not np.isfinite(ut).all():
        raise ValueError("the library or u_t holds NaN or infinite values")
    if not 0 < threshold < 1:
        raise ValueError(f"Threshold must be between 0 and 1 (a share of ‖u_t‖), got {threshold}")
    keep = np.ones(theta.shape[1], bool) if active is None else np.asarray(active, bool)
    xi = np.zeros(theta.shape[1])
    norms = np.linalg.norm(theta, axis=0)
    keep &= norms > 0
    scale = np.linalg.norm(ut)
    if not keep.any() or scale == 0:
        return xi
    opt = _stlsq(threshold, alpha).fit(theta[:, keep] / norms[keep], ut / scale)
    xi[keep] = np.asarray(opt.coef_).reshape(-1) * scale / norms[keep]
    return xi
