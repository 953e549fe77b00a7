"""ETDRK4 for stiff semilinear PDEs ``u_t = L u + N(u)`` on a periodic interval.

The linear part ``L`` is diagonal in Fourier space and integrated exactly; the nonlinear part
is treated by the fourth-order exponential Runge–Kutta scheme of Cox & Matthews (2002),
*J. Comput. Phys.* 176, 430. Its coefficients ``h·φ_k(hL)`` cancel catastrophically for
small ``|hL|``; following Kassam & Trefethen (2005), *SIAM J. Sci. Comput.* 26, 1214, they
are evaluated as means over a circle of radius 1 around each ``hL`` in the complex plane
(Cauchy integral), which is accurate to about 1e-13 for every ``hL`` — real (diffusion),
imaginary (dispersion, KdV) or zero (the mean mode).

Layout, after jax-cfd's ``spectral`` package: an *equation* precomputes its wavenumbers,
de-aliasing mask and linear symbol; ``etdrk4(equation, dt)`` returns a ``step`` acting on the
real-FFT state ``u_hat`` of shape ``(..., n//2 + 1)`` (any leading batch dims: many initial
conditions at once); :func:`trajectory` is the generic time loop and :func:`solve_at` steps
to arbitrary output times. Quadratic and polynomial nonlinearities are de-aliased with the
2/3 rule (:func:`lab.solvers.spectral.dealias_mask`) on input and output.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from lab.solvers.spectral import dealias_mask, wavenumbers

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"

Step = Callable[[torch.Tensor], torch.Tensor]


class PeriodicEquation:
    """``u_t = L u + N(u)`` on ``n`` points of ``[origin, origin + length)``.

    Subclasses implement :meth:`linear_symbol` (the Fourier multiplier of ``L``) and
    :meth:`nonlinear` (``N`` in spectral space, de-aliased). Odd-order terms vanish on the
    Nyquist mode of an even grid, the convention of :mod:`lab.solvers.spectral`.
    """

    def __init__(self, n: int, length: float = 2 * math.pi, *, origin: float = 0.0,
                 device=None, dtype=torch.float64):
        if n < 4:
            raise ValueError(f"n must be at least 4, got {n}")
        if not length > 0:
            raise ValueError(f"length must be positive, got {length}")
        self.n, self.length, self.origin = int(n), float(length), float(origin)
        self.device, self.dtype = torch.device(device or "cpu"), dtype
        self.k = wavenumbers(n, length, real=True, device=self.device, dtype=dtype)
        k_odd = self.k.clone()
        if n % 2 == 0:
            k_odd[-1] = 0.0
        #: ``i k`` with the Nyquist mode zeroed: the symbol of d/dx
        self.ik = 1j * k_odd
        self.mask = dealias_mask((n,), device=self.device)
        self._half_ik_masked = 0.5 * self.ik * self.mask
        self.linear = self.linear_symbol().to(torch.complex128 if dtype == torch.float64
                                              else torch.complex64)

    def linear_symbol(self) -> torch.Tensor:
        raise NotImplementedError

    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Spectral ``N(u)``; zero for a linear equation."""
        return torch.zeros_like(u_hat)

    # ---- transforms -----------------------------------------------------------------------
    def grid(self) -> torch.Tensor:
        return self.origin + self.length / self.n * torch.arange(self.n, device=self.device,
                                                                 dtype=self.dtype)

    def to_spectral(self, u: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft(u.to(device=self.device, dtype=self.dtype), dim=-1)

    def to_physical(self, u_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft(u_hat, n=self.n, dim=-1)

    def time_derivative(self, u_hat: torch.Tensor) -> torch.Tensor:
        """``L u + N(u)`` in spectral space (diagnostics, residual checks)."""
        return self.linear * u_hat + self.nonlinear(u_hat)

    # ---- de-aliased nonlinear building blocks ---------------------------------------------
    def _dealiased_physical(self, u_hat: torch.Tensor) -> torch.Tensor:
        return self.to_physical(u_hat * self.mask)

    def _flux_derivative(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Spectral ``(u²/2)_x = u u_x`` in conservation form (conserves the mean exactly)."""
        u = self._dealiased_physical(u_hat)
        return self._half_ik_masked * torch.fft.rfft(u * u, dim=-1)


class AdvectionDiffusion(PeriodicEquation):
    """``u_t + c u_x = ν u_xx`` (linear: ETDRK4 is exact, ``u_hat ← exp(h L) u_hat``)."""

    def __init__(self, n, length=2 * math.pi, *, velocity=0.0, diffusivity=0.0, **kw):
        if diffusivity < 0:
            raise ValueError(f"diffusivity must be >= 0, got {diffusivity}")
        self.velocity, self.diffusivity = float(velocity), float(diffusivity)
        super().__init__(n, length, **kw)

    def linear_symbol(self):
        return -self.velocity * self.ik - self.diffusivity * self.k**2


class Burgers(PeriodicEquation):
    """``u_t + u u_x = ν u_xx``."""

    def __init__(self, n, length=2 * math.pi, *, viscosity=0.01, **kw):
        if viscosity < 0:
            raise ValueError(f"viscosity must be >= 0, got {viscosity}")
        self.viscosity = float(viscosity)
        super().__init__(n, length, **kw)

    def linear_symbol(self):
        return -self.viscosity * self.k**2 + 0j

    def nonlinear(self, u_hat):
        return -self._flux_derivative(u_hat)


class KuramotoSivashinsky(PeriodicEquation):
    """``u_t + α u u_x + β u_xx + γ u_xxxx = 0``: ``L = β k² − γ k⁴``, ``N = −α (u²/2)_x``.

    The mean of ``u`` is conserved exactly (``L(0) = 0`` and ``N`` is a derivative).
    """

    def __init__(self, n, length=32 * math.pi, *, alpha=1.0, beta=1.0, gamma=1.0, **kw):
        if gamma <= 0:
            raise ValueError(f"gamma (hyper-diffusion) must be > 0, got {gamma}")
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        super().__init__(n, length, **kw)

    def linear_symbol(self):
        return self.beta * self.k**2 - self.gamma * self.k**4 + 0j

    def nonlinear(self, u_hat):
        return -self.alpha * self._flux_derivative(u_hat)


class KdV(PeriodicEquation):
    """Korteweg–de Vries ``u_t + η u u_x + μ² u_xxx = 0``: ``L = i μ² k³`` (purely dispersive)."""

    def __init__(self, n, length=2.0, *, eta=1.0, mu=0.022, **kw):
        self.eta, self.mu = float(eta), float(mu)
        super().__init__(n, length, **kw)

    def linear_symbol(self):
        return -self.mu**2 * self.ik**3

    def nonlinear(self, u_hat):
        return -self.eta * self._flux_derivative(u_hat)


class ReactionDiffusion(PeriodicEquation):
    """``u_t = D u_xx + a u + b u² + c u³``, the linear reaction rate folded into ``L``.

    Fisher–KPP ``ρ u (1 − u)`` is ``a = ρ, b = −ρ``; Allen–Cahn ``γ (u − u³)`` is
    ``a = γ, c = −γ``.
    """

    def __init__(self, n, length=2 * math.pi, *, diffusivity=0.0, linear=0.0, quadratic=0.0,
                 cubic=0.0, **kw):
        if diffusivity < 0:
            raise ValueError(f"diffusivity must be >= 0, got {diffusivity}")
        self.diffusivity = float(diffusivity)
        self.a, self.b, self.c = float(linear), float(quadratic), float(cubic)
        super().__init__(n, length, **kw)

    def linear_symbol(self):
        return self.a - self.diffusivity * self.k**2 + 0j

    def nonlinear(self, u_hat):
        u = self._dealiased_physical(u_hat)
        return self.mask * torch.fft.rfft(u * u * (self.b + self.c * u), dim=-1)


def etdrk4_coefficients(linear: torch.Tensor, dt: float, contour_points: int = 64):
    """``E = e^{hL}, E2 = e^{hL/2}, Q = h φ₁(hL/2)/2`` and the update weights ``f1, f2, f3``.

    Kassam & Trefethen (2005), eq. (2.5) for the weights; each ``φ`` is averaged over
    ``contour_points`` points of the unit circle centred on ``hL``.
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


def etdrk4(equation: PeriodicEquation, dt: float, *, contour_points: int = 64) -> Step:
    """One ETDRK4 step ``u_hat(t) -> u_hat(t + dt)``; fourth order in ``dt`` (Cox & Matthews)."""
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
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


def solve_at(equation: PeriodicEquation, u0: torch.Tensor, times: Sequence[float] | torch.Tensor,
             max_dt: float, *, contour_points: int = 64) -> torch.Tensor:
    """Physical solution at the given non-decreasing ``times`` (``times[0] >= 0``, start at 0).

    Each interval between outputs is split into equal steps no longer than ``max_dt`` so every
    output time is hit exactly (no interpolation in time); steppers are reused across
    intervals of equal length. ``u0``: ``(..., n)``; returns ``(..., len(times), n)``.
    """
    times = [float(t) for t in torch.as_tensor(times, dtype=torch.float64).reshape(-1)]
    if not times or times[0] < 0 or any(b < a for a, b in zip(times, times[1:])):
        raise ValueError("times must be a non-empty, non-decreasing sequence starting at t >= 0")
    if not max_dt > 0:
        raise ValueError(f"max_dt must be positive, got {max_dt}")
    steppers: dict[float, Step] = {}
    v, t, frames = equation.to_spectral(u0), 0.0, []
    for target in times:
        gap = target - t
        if gap > 0:
            m = max(1, math.ceil(gap / max_dt - 1e-9))
            h = round(gap / m, 15)
            if h not in steppers:
                steppers[h] = etdrk4(equation, h, contour_points=contour_points)
            for _ in range(m):
                v = steppers[h](v)
            t = target
        frames.append(equation.to_physical(v))
    return torch.stack(frames, dim=-2)
