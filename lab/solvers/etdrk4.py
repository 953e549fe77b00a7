"""Stiff semilinear PDEs ``u_t = L u + N(u)`` on a periodic interval, stepped by ETDRK4.

The linear part ``L`` is diagonal in Fourier space and integrated exactly; the nonlinear part
is treated by the fourth-order exponential Runge–Kutta scheme of Cox & Matthews (2002) with
the contour-integral coefficients of Kassam & Trefethen (2005), accurate for every ``hL`` —
real (diffusion), imaginary (dispersion, KdV) or zero (the mean mode).

Layout, after jax-cfd's ``spectral`` package: an *equation* precomputes its wavenumbers,
de-aliasing mask and linear symbol and fulfils the semilinear protocol of
:mod:`lab.solvers.time_stepping`, whose ``etdrk4(equation, dt)`` returns a ``step`` acting on
the real-FFT state ``u_hat`` of shape ``(..., n//2 + 1)`` (any leading batch dims: many
initial conditions at once), whose :func:`trajectory` is the fixed-step loop and whose
``solve`` steps to arbitrary output times (:func:`solve_at` here). Quadratic and polynomial nonlinearities are de-aliased with the
2/3 rule (:func:`lab.solvers.spectral.dealias_mask`) on input and output.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import torch

from lab.solvers.spectral import dealias_mask, wavenumbers
from lab.solvers.time_stepping import etdrk4, solve, trajectory

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"


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


def solve_at(equation: PeriodicEquation, u0: torch.Tensor, times: Sequence[float] | torch.Tensor,
             max_dt: float, *, contour_points: int = 64) -> torch.Tensor:
    """:func:`lab.solvers.time_stepping.solve` by ETDRK4 with steps no longer than ``max_dt``,
    laid out ``(..., len(times), n)`` (the time axis before the grid axis)."""
    method = partial(etdrk4, contour_points=contour_points)
    return solve(equation, u0, times, dt=max_dt, method=method).movedim(0, -2)


__all__ = ["AdvectionDiffusion", "Burgers", "KdV", "KuramotoSivashinsky", "PeriodicEquation",
           "ReactionDiffusion", "etdrk4", "solve_at", "trajectory"]
