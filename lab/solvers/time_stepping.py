"""One protocol for semilinear equations, step factories for it, and one time loop.

A *semilinear equation* ``u_t = L u + N(u)`` with ``L`` diagonal in a spectral basis is any
object with (:class:`SemilinearEquation`)

* ``linear`` — the symbol of ``L``, a tensor broadcastable against the spectral state,
* ``nonlinear(v_hat)`` — ``N`` in spectral space (de-aliased by the equation),
* ``to_spectral(u)`` / ``to_physical(v_hat)`` — the transforms.

A *step factory* turns an equation and a step size into a step ``v_hat(t) -> v_hat(t + dt)``,
after jax-cfd's ``spectral/time_stepping.py`` (``(equation, dt) -> step``):

* :func:`etdrk4` — exponential time differencing RK4 (Cox & Matthews 2002, *J. Comput.
  Phys.* 176, 430) with the contour-integral coefficients of Kassam & Trefethen (2005),
  *SIAM J. Sci. Comput.* 26, 1214: fourth order, accurate for stiff diffusion, dispersion and
  the zero mode alike;
* :func:`lawson_rk4` — integrating-factor RK4 (Lawson 1967, *SIAM J. Numer. Anal.* 4, 372):
  RK4 on ``w = e^{-tL} v``; fourth order, cheaper per step, its step bounded by the explicit
  nonlinear part only.

Both integrate ``L`` exactly: a single Fourier mode of a linear equation evolves as
``e^{tL}`` to round-off whatever the step. :func:`solve` lands on requested output times;
:func:`trajectory` is the fixed-step loop for states recorded every few steps.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

import torch

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"

Step = Callable[[torch.Tensor], torch.Tensor]


class SemilinearEquation(Protocol):
    """``u_t = L u + N(u)``, ``L`` diagonal in the basis of :meth:`to_spectral`."""

    #: the symbol of ``L`` (real or complex), broadcastable against the spectral state
    linear: torch.Tensor

    def nonlinear(self, v_hat: torch.Tensor) -> torch.Tensor: ...

    def to_spectral(self, u: torch.Tensor) -> torch.Tensor: ...

    def to_physical(self, v_hat: torch.Tensor) -> torch.Tensor: ...


StepFactory = Callable[[SemilinearEquation, float], Step]


def _complex(t: torch.Tensor) -> torch.Tensor:
    """``t`` as the complex dtype of its precision (float64 -> complex128)."""
    return t.to(torch.promote_types(t.dtype, torch.complex64))


def _check_dt(dt: float) -> None:
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")


def etdrk4_coefficients(linear: torch.Tensor, dt: float, contour_points: int = 64):
    """``E = e^{hL}, E2 = e^{hL/2}, Q = h φ₁(hL/2)/2`` and the update weights ``f1, f2, f3``.

    Kassam & Trefethen (2005), eq. (2.5) for the weights; each ``φ`` is averaged over
    ``contour_points`` points of the unit circle centred on ``hL`` (a Cauchy integral: no
    cancellation for small ``|hL|``, about 1e-13 accurate for every ``hL``).
    """
    hL = dt * linear.to(torch.complex128)
    j = torch.arange(contour_points, device=hL.device, dtype=torch.float64)
    r = torch.exp(2j * math.pi * (j + 0.5) / contour_points)
    z = hL[..., None] + r
    ez, ez2 = torch.exp(z), torch.exp(z / 2)
    q = dt * ((ez2 - 1) / z).mean(-1)
    f1 = dt * ((-4 - z + ez * (4 - 3 * z + z**2)) / z**3).mean(-1)
    f2 = dt * ((2 + z + ez * (z - 2)) / z**3).mean(-1)
    f3 = dt * ((-4 - 3 * z - z**2 + ez * (4 - z)) / z**3).mean(-1)
    out = (torch.exp(hL), torch.exp(hL / 2), q, f1, f2, f3)
    return tuple(c.to(linear.dtype) for c in out)


def etdrk4(equation: SemilinearEquation, dt: float, *, contour_points: int = 64) -> Step:
    """One ETDRK4 step ``v_hat(t) -> v_hat(t + dt)``; fourth order in ``dt`` (Cox & Matthews)."""
    _check_dt(dt)
    E, E2, Q, f1, f2, f3 = etdrk4_coefficients(equation.linear, dt, contour_points)
    N = equation.nonlinear

    def step(v: torch.Tensor) -> torch.Tensor:
        Nv = N(v)
        a = E2 * v + Q * Nv
        Na = N(a)
        b = E2 * v + Q * Na
        Nb = N(b)
        c = E2 * a + Q * (2 * Nb - Nv)
        Nc = N(c)
        return E * v + f1 * Nv + 2 * f2 * (Na + Nb) + f3 * Nc

    step.equation, step.dt = equation, dt
    return step


def lawson_rk4_stages(v: torch.Tensor, dt: float, nonlinear: Callable[[torch.Tensor], torch.Tensor],
                      e_half: torch.Tensor, k1: torch.Tensor | None = None) -> torch.Tensor:
    """The four stages of one Lawson step; ``e_half = exp(L dt / 2)`` broadcastable against ``v``.

    ``k1 = nonlinear(v)`` may be passed when the caller already has it."""
    e2 = e_half * e_half
    k1 = nonlinear(v) if k1 is None else k1
    k2 = nonlinear(e_half * (v + (0.5 * dt) * k1))
    k3 = nonlinear(e_half * v + (0.5 * dt) * k2)
    k4 = nonlinear(e2 * v + dt * (e_half * k3))
    return e2 * v + (dt / 6) * (e2 * k1 + 2 * e_half * (k2 + k3) + k4)


def lawson_rk4(equation: SemilinearEquation, dt: float) -> Step:
    """One integrating-factor RK4 step ``v_hat(t) -> v_hat(t + dt)``; fourth order in ``dt``."""
    _check_dt(dt)
    e_half = _complex(torch.exp(equation.linear * (0.5 * dt)))
    nonlinear = equation.nonlinear

    def step(v: torch.Tensor) -> torch.Tensor:
        return lawson_rk4_stages(v, dt, nonlinear, e_half)

    step.equation, step.dt = equation, dt
    return step


def output_times(times: Sequence[float] | torch.Tensor) -> list[float]:
    """Validate output times: non-empty, finite, non-decreasing, starting at ``t >= 0``."""
    ts = [float(t) for t in torch.as_tensor(times, dtype=torch.float64).reshape(-1)]
    if not ts or ts[0] < 0 or any(not math.isfinite(t) for t in ts) \
            or any(b < a for a, b in zip(ts, ts[1:])):
        raise ValueError("times must be a non-empty, finite, non-decreasing sequence with "
                         f"times[0] >= 0, got {ts[:5]}{'...' if len(ts) > 5 else ''}")
    return ts


def solve(equation: SemilinearEquation, u0: torch.Tensor, times: Sequence[float] | torch.Tensor, *,
          dt: float | Callable[[torch.Tensor], float], method: StepFactory = etdrk4,
          check: Callable[[torch.Tensor, float], None] | None = None) -> torch.Tensor:
    """Physical solution at the non-decreasing ``times`` from ``u0`` at ``t = 0``.

    ``dt`` bounds the step: each interval between outputs is split into equal steps no longer
    than ``dt``, so every output time is hit exactly (no interpolation, no tiny last step), and
    the step of each length is made once by ``method`` (:func:`etdrk4`, :func:`lawson_rk4` or
    another factory). A callable ``dt(v_hat)`` (a CFL bound) is asked again before every step,
    and the time left to the next output is split equally under it. ``check(v_hat, h)``, if
    given, runs before every step and raises ``ValueError`` when the state has become too fast
    for ``h``. Returns ``(len(times), *u0.shape)``: time first.
    """
    adaptive = callable(dt)
    if not adaptive:
        _check_dt(dt)
    steps: dict[float, Step] = {}

    def advance(v, h):
        if h not in steps:
            if adaptive:
                steps.clear()  # the step changes often: keep the last one only
            steps[h] = method(equation, h)
        if check is not None:
            check(v, h)
        return steps[h](v)

    v, t, frames = equation.to_spectral(u0), 0.0, []
    for target in output_times(times):
        if adaptive:
            while target - t > 1e-12 * max(1.0, target):
                gap = target - t
                h = gap / max(1, math.ceil(gap / dt(v) - 1e-9))
                v = advance(v, h)
                t = target if h == gap else t + h
        elif target > t:
            gap = target - t
            m = max(1, math.ceil(gap / dt - 1e-9))
            h = round(gap / m, 15)
            for _ in range(m):
                v = advance(v, h)
            t = target
        frames.append(equation.to_physical(v))
    return torch.stack(frames)


def trajectory(step: Step, state: torch.Tensor, n_steps: int, save_every: int = 1,
               post_process: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Apply ``step`` ``n_steps`` times; stack the initial and every ``save_every``-th state.

    Returns ``(..., n_steps // save_every + 1, *state_dims)`` with the time axis inserted just
    before the last state axis (``(B, T, n)`` for a batch of 1D fields).
    """
    if n_steps < 0 or save_every < 1 or n_steps % save_every:
        raise ValueError(f"need n_steps >= 0 divisible by save_every >= 1, got n_steps={n_steps}, "
                         f"save_every={save_every}")
    post = post_process or (lambda s: s)
    frames = [post(state)]
    for i in range(1, n_steps + 1):
        state = step(state)
        if i % save_every == 0:
            frames.append(post(state))
    return torch.stack(frames, dim=-2)
