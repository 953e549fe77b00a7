"""The time loop of the pseudo-spectral Navier–Stokes solvers (:mod:`lab.solvers.navier_stokes`).

Lawson's integrating-factor RK4 step (:func:`lawson_rk4`) is the one of
:mod:`lab.solvers.time_stepping`, where the semilinear-equation protocol, its step factories
and its ``solve`` live; :func:`advance_to` lands exactly on requested output times, choosing
the step from a callback (a CFL estimate) or using a fixed step that a callback has validated
(the last step of each interval shortened).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from lab.solvers.time_stepping import lawson_rk4_stages as lawson_rk4
from lab.solvers.time_stepping import output_times

__all__ = ["CFL_LIMIT", "advance_to", "check_cfl", "lawson_rk4"]

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"

#: advective CFL bound on a user's step (RK4 is stable on the imaginary axis to 2*sqrt(2))
CFL_LIMIT = 2.5


def check_cfl(c: float, dt: float) -> None:
    """Raise ``ValueError`` naming ``dt`` when its advective CFL number ``c`` exceeds
    :data:`CFL_LIMIT`, with the largest step that would do."""
    if not c <= CFL_LIMIT:
        raise ValueError(f"dt={dt:g} is unstable: advective CFL number {c:.3g} exceeds "
                         f"{CFL_LIMIT} (use dt <= {dt * CFL_LIMIT / c:.3g}, or dt=None for an "
                         f"automatic CFL step)")


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
