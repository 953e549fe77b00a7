"""Closed-form solutions of the 1D model problems (numpy, float64, broadcasting).

Each function takes coordinate arrays that broadcast against each other (e.g. ``x[:, None]``
and ``t[None, :]``) and returns the solution with the broadcast shape. They are the
references of the linear problems and the ground truth of solver tests.
"""
from __future__ import annotations

import numpy as np

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"


def convection_sine(x, t, beta: float):
    """``u_t + β u_x = 0``, ``u(x, 0) = sin x``: ``u = sin(x − β t)``."""
    return np.sin(np.asarray(x) - beta * np.asarray(t))


def logistic_reaction(u0, t, rho: float):
    """``u_t = ρ u (1 − u)`` pointwise: ``u = u0 e^{ρt} / (u0 e^{ρt} + 1 − u0)``."""
    growth = u0 * np.exp(rho * np.asarray(t))
    return growth / (growth + 1.0 - u0)


def heat_sine_series(x, t, kappa: float, coefficients, length: float = 1.0):
    """``u_t = κ u_xx`` on ``[0, L]``, ``u = 0`` at both ends, ``u(x, 0) = Σ b_n sin(nπx/L)``:

    ``u = Σ b_n exp(−κ (nπ/L)² t) sin(nπx/L)`` (separation of variables; ``n`` from 1).
    """
    x, t = np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64)
    u = np.zeros(np.broadcast_shapes(x.shape, t.shape))
    for n, b in enumerate(coefficients, start=1):
        k = n * np.pi / length
        u = u + b * np.exp(-kappa * k**2 * t) * np.sin(k * x)
    return u


def wave_standing(x, t, c: float, coefficients, length: float = 1.0):
    """``u_tt = c² u_xx`` on ``[0, L]``, fixed ends, ``u(x,0) = Σ a_n sin(nπx/L)``, ``u_t(x,0) = 0``:

    ``u = Σ a_n sin(nπx/L) cos(c nπ t/L)`` — the d'Alembert solution ``(F(x−ct) + F(x+ct))/2``
    of the odd periodic extension ``F`` of the initial shape.
    """
    x, t = np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64)
    u = np.zeros(np.broadcast_shapes(x.shape, t.shape))
    for n, a in enumerate(coefficients, start=1):
        k = n * np.pi / length
        u = u + a * np.sin(k * x) * np.cos(c * k * t)
    return u


def kdv_soliton(x, t, speed: float, eta: float = 1.0, mu: float = 1.0, x0: float = 0.0):
    """Single soliton of ``u_t + η u u_x + μ² u_xxx = 0`` on the line:

    ``u = (3c/η) sech²(√c (x − x0 − c t) / (2μ))``, travelling right at speed ``c > 0``.
    """
    xi = np.sqrt(speed) * (np.asarray(x) - x0 - speed * np.asarray(t)) / (2 * mu)
    return 3 * speed / eta / np.cosh(xi) ** 2
