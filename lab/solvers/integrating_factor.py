"""Integrating-factor Runge–Kutta 4 for ``v' = L v + N(v)`` with diagonal (Fourier) ``L``.

Lawson's scheme (Lawson 1967, *SIAM J. Numer. Anal.* 4, 372) substitutes ``w = e^{-tL} v`` and
applies classical RK4 to ``w' = e^{-tL} N(e^{tL} w)``. The stiff linear part (viscosity,
diffusion, linear drag) is integrated exactly, so a single Fourier mode of a linear problem
decays exactly as ``e^{tL}`` to round-off whatever the step, and the time step is limited only
by the explicit nonlinear part (the advective CFL condition). Fourth order in ``dt``.
Only ``e^{L dt/2}`` is needed; callers cache it per step size.

The time loop :func:`advance_to` lands exactly on requested output times, choosing the step
from a callback (a CFL estimate) or using a fixed step that a callback has validated.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"

Nonlinear = Callable[[torch.Tensor], torch.Tensor]


def lawson_rk4(v: torch.Tensor, dt: float, nonlinear: Nonlinear, e_half: torch.Tensor,
               k1: torch.Tensor | None = None) -> torch.Tensor:
    """One step ``v(t) -> v(t + dt)``; ``e_half = exp(L dt / 2)`` broadcastable against ``v``.

    ``k1 = nonlinear(v)`` may be passed when the caller already has it.
    """
    e2 = e_half * e_half
    k1 = nonlinear(v) if k1 is None else k1
    k2 = nonlinear(e_half * (v + (0.5 * dt) * k1))
    k3 = nonlinear(e_half * v + (0.5 * dt) * k2)
    k4 = nonlinear(e2 * v + dt * (e_half * k3))
    return e2 * v + (dt / 6) * (e2 * k1 + 2 * e_half * (k2 + k3) + k4)


def output_times(times: Sequence[float] | torch.Tensor) -> list[float]:
    """Validate output times: non-empty, finite, non-decreasing, starting at ``t >= 0``."""
    ts = [float(t) for t in torch.as_tensor(times, dtype=torch.float64).reshape(-1)]
    if not ts or ts[0] < 0 or any(not math.isfinite(t) for t in ts) \
            or any(b < a for a, b in zip(ts, ts[1:])):
        raise ValueError("times must be a non-empty, finite, non-decreasing sequence with "
                         f"times[0] >= 0, got {ts[:5]}{'...' if len(ts) > 5 else ''}")
    return ts


def advance_to(v: torch.Tensor, times: Sequence[float], step: Callable[[torch.Tensor, float], torch.Tensor],
               max_dt: Callable[[torch.Tensor], float], out: Callable[[torch.Tensor], torch.Tensor],
               dt: float | None = None, check_dt: Callable[[torch.Tensor, float], None] | None = None
               ) -> torch.Tensor:
    """Step from ``t = 0`` through ``times``; stack ``out(v)`` at each, time axis first.

    ``dt=None``: each step is ``min(max_dt(v), time left to the next output)``, shortened so
    the output is hit exactly. A fixed ``dt`` is checked by ``check_dt(v, dt)`` before every
    step (it raises ``ValueError`` when the flow has become too fast for it); the last step
    of each interval is shortened to land on the output time.
    """
    t, frames = 0.0, []
    for target in output_times(times):
        while target - t > 1e-12 * max(1.0, target):
            gap = target - t
            if dt is None:
                h = max_dt(v)
                m = max(1, math.ceil(gap / h - 1e-9))
                h = gap / m  # equal steps to the output: avoids a tiny last step
            else:
                if check_dt is not None:
                    check_dt(v, dt)
                h = min(dt, gap)
            v = step(v, h)
            t = target if h == gap else t + h
        frames.append(out(v))
    return torch.stack(frames)
