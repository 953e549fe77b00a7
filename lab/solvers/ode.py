"""Explicit Runge–Kutta integrators for ``dy/dt = f(t, y)`` in torch (batched, any device).

* :func:`rk4` — classical fourth-order Runge–Kutta on a given time grid (one step per
  interval): global error ``O(h⁴)``.
* :func:`dopri5` — Dormand & Prince (1980) 5(4) pair with adaptive step size: the fifth-order
  solution is propagated (local extrapolation) and the embedded fourth-order one gives the
  local error estimate, ``O(h⁵)`` per step. Step-size control and the starting step follow
  Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.4. Output times are hit exactly by
  shortening the step in front of them (no dense-output interpolation error).

``y`` may have any shape ``(..., d)``; leading dims are a batch that shares one step size,
chosen so that *every* member meets the tolerance (error norm = max over the batch of the
RMS over ``d``). Results are stacked with time first, ``(len(t), *y0.shape)``, as in
torchdiffeq.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"

#: ``f(t, y)``; ``t`` is a Python float (dopri5) or a 0-dim tensor (rk4)
VectorField = Callable[[float | torch.Tensor, torch.Tensor], torch.Tensor]

# Dormand–Prince 5(4) tableau (Hairer–Nørsett–Wanner, Table II.5.2)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_E = tuple(b5 - b4 for b5, b4 in zip(_B5, _B4))


def _time_grid(t, y0: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=y0.dtype, device=y0.device).reshape(-1)
    if t.numel() < 1 or bool((t[1:] <= t[:-1]).any()):
        raise ValueError("t must be a non-empty, strictly increasing sequence of times")
    return t


def rk4(f: VectorField, y0: torch.Tensor, t) -> torch.Tensor:
    """Classical RK4 with one step per interval of ``t``; returns ``(len(t), *y0.shape)``."""
    t = _time_grid(t, y0)
    y, out = y0, [y0]
    for t0, t1 in zip(t[:-1], t[1:]):
        h = t1 - t0
        k1 = f(t0, y)
        k2 = f(t0 + h / 2, y + h / 2 * k1)
        k3 = f(t0 + h / 2, y + h / 2 * k2)
        k4 = f(t1, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(y)
    return torch.stack(out)


def _tableau(y: torch.Tensor):
    """The Butcher coefficients as tensors on ``y``'s device: ``(A, c, b5, e)``."""
    A = torch.zeros(7, 7, dtype=y.dtype)
    for i, row in enumerate(_A):
        A[i, :len(row)] = torch.tensor(row, dtype=y.dtype) if row else 0.0
    return tuple(v.to(y.device) for v in (A, torch.tensor(_C, dtype=y.dtype),
                                          torch.tensor(_B5, dtype=y.dtype),
                                          torch.tensor(_E, dtype=y.dtype)))


def dopri5_step(f: VectorField, t, y: torch.Tensor, h, k1: torch.Tensor | None = None,
                tableau=None):
    """One Dormand–Prince step: ``(y5, error_estimate, f(t + h, y5))``.

    ``y5`` is fifth order; ``error_estimate = y5 − y4`` is the local error of the embedded
    fourth-order solution, ``O(h⁵)``. The last stage equals ``f(t + h, y5)`` (FSAL), so it
    is returned for reuse as the next step's ``k1``. Stages are combined with one
    matrix-vector product each (the step is dominated by per-operation overhead for the
    small states of chaotic ODEs).
    """
    A, _, b5, e = tableau if tableau is not None else _tableau(y)
    t, h = float(t), float(h)
    shape, flat = y.shape, y.ndim == 1
    y_flat = y if flat else y.reshape(-1)
    K = y.new_empty((7, y_flat.numel()))
    k1 = f(t, y) if k1 is None else k1
    K[0] = k1 if flat else k1.reshape(-1)
    for i in range(1, 7):
        yi = torch.addmv(y_flat, K[:i].T, A[i, :i], alpha=h)
        k = f(t + _C[i] * h, yi if flat else yi.reshape(shape))
        K[i] = k if flat else k.reshape(-1)
    y5 = torch.addmv(y_flat, K.T, b5, alpha=h)
    err = torch.mv(K.T, e).mul_(h)
    if not flat:
        y5, err = y5.reshape(shape), err.reshape(shape)
    return y5, err, k


@torch.no_grad()
def _error_norm(err: torch.Tensor, y: torch.Tensor, y_new: torch.Tensor, rtol: float,
                atol: float) -> float:
    scale = atol + rtol * torch.maximum(y.abs(), y_new.abs())
    rms = (err / scale).pow(2).mean(-1).sqrt() if err.ndim else (err / scale).abs()
    return float(rms.max())


@torch.no_grad()
def _initial_step(f, t0, y0, f0, rtol, atol) -> float:
    """Starting step of Hairer–Nørsett–Wanner (II.4): ``h`` with ``h⁵ ‖y''‖ ≈ 0.01``."""
    scale = atol + rtol * y0.abs()
    d0 = float((y0 / scale).pow(2).mean().sqrt())
    d1 = float((f0 / scale).pow(2).mean().sqrt())
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    f1 = f(t0 + h0, y0 + h0 * f0)
    d2 = float(((f1 - f0) / scale).pow(2).mean().sqrt()) / h0
    h1 = max(1e-6, h0 * 1e-3) if max(d1, d2) <= 1e-15 else (0.01 / max(d1, d2)) ** (1 / 5)
    return min(100 * h0, h1)


def dopri5(f: VectorField, y0: torch.Tensor, t, *, rtol: float = 1e-7, atol: float = 1e-9,
           first_step: float | None = None, max_steps: int = 1_000_000,
           stats: dict | None = None) -> torch.Tensor:
    """Adaptive Dormand–Prince 5(4) solution at the times ``t``: ``(len(t), *y0.shape)``.

    A step is accepted when ``‖err / (atol + rtol·|y|)‖_RMS ≤ 1``; the next step is
    ``h · clip(0.9 · norm^(-1/5), 0.2, 10)``. ``stats``, if given, receives the numbers of
    accepted and rejected steps. Raises ``RuntimeError`` past ``max_steps``.
    """
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be positive, got rtol={rtol}, atol={atol}")
    t = _time_grid(t, y0)
    times = [float(s) for s in t]
    y, tc = y0, times[0]
    k1 = f(times[0], y)
    h = first_step or _initial_step(f, times[0], y0, k1, rtol, atol)
    tableau = _tableau(y0)
    out, accepted, rejected = [y0], 0, 0
    for target in times[1:]:
        while tc < target:
            if accepted + rejected >= max_steps:
                raise RuntimeError(f"dopri5 exceeded max_steps={max_steps} at t={tc:.6g}")
            clamped = tc + h >= target
            h_try = target - tc if clamped else h
            y_new, err, k_new = dopri5_step(f, tc, y, h_try, k1, tableau)
            norm = _error_norm(err, y, y_new, rtol, atol)
            factor = min(10.0, max(0.2, 0.9 * norm ** -0.2)) if norm > 0 else 10.0
            if norm <= 1.0:
                accepted += 1
                tc = target if clamped else tc + h_try
                y, k1 = y_new, k_new
                # a step shortened to hit an output time says little about the next one
                h = max(h, h_try * factor) if clamped else h_try * factor
            else:
                rejected += 1
                h = h_try * max(0.2, factor)
        out.append(y)
    if stats is not None:
        stats.update(accepted=accepted, rejected=rejected)
    return torch.stack(out)
