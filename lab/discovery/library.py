"""Candidate terms of an evolution equation ``u_t = Θ(u) ξ`` and the true ``ξ`` of a problem.

The library is PDE-FIND's (Rudy et al., Sci. Adv. 3, 2017): the powers ``1, u, …, u^P`` and
the products ``u^p ∂_x^k u`` with ``p ≤ P`` (``max_power``) and ``1 ≤ k ≤ order``, named as the
app and the CLI print them — ``"u*u_x"``, ``"u^2*u_xx"``, ``"u_xxx"``. Derivatives come from
the lab's engines (:class:`lab.autodiff.Fields` on a network), so a fitted PINN differentiates
its own smooth interpolant of noisy data instead of the noise.

:func:`true_coefficients` reads the truth off the problem's own residual: the residual
``u_t + N(u)`` is evaluated on random stand-ins for ``u``, ``u_t``, ``u_x``, … and ``N`` is
regressed on the library built from the same stand-ins — exact for any residual in the
library's span, so no second copy of an equation's coefficients exists.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lab.solvers.spectral import spectral_derivative


def _power(p: int) -> str:
    return {0: "1", 1: "u"}.get(p, f"u^{p}")


def _derivative(k: int) -> str:
    return "u_" + "x" * k


@dataclass(frozen=True)
class Library:
    """The candidate terms up to ``order`` x-derivatives and ``max_power`` powers of ``u``."""

    order: int = 3
    max_power: int = 2

    def __post_init__(self):
        if not 1 <= self.order <= 4:
            raise ValueError(f"Derivative order must be between 1 and 4, got {self.order}")
        if not 1 <= self.max_power <= 3:
            raise ValueError(f"Max power of u must be between 1 and 3, got {self.max_power}")

    @property
    def terms(self) -> list[tuple[int, int]]:
        """``(p, k)`` of every term ``u^p ∂_x^k u``, the powers (``k = 0``) first."""
        return [(p, 0) for p in range(self.max_power + 1)] + \
            [(p, k) for k in range(1, self.order + 1) for p in range(self.max_power + 1)]

    @property
    def names(self) -> list[str]:
        return [_power(p) if k == 0 else (_derivative(k) if p == 0 else f"{_power(p)}*{_derivative(k)}")
                for p, k in self.terms]

    def evaluate(self, u: torch.Tensor, derivatives: dict[int, torch.Tensor]) -> torch.Tensor:
        """``Θ`` of shape ``(N, K)`` from ``u`` and ``derivatives[k] = ∂_x^k u`` (each ``(N,)``)."""
        return torch.stack([u**p if k == 0 else u**p * derivatives[k] for p, k in self.terms], dim=1)

    def from_fields(self, f, space: str = "x") -> tuple[torch.Tensor, torch.Tensor]:
        """``(u_t, Θ)`` at the points of ``f`` (:class:`lab.autodiff.Fields` or alike)."""
        derivatives = {k: f.d(*(space,) * k) for k in range(1, self.order + 1)}
        return f.d("t"), self.evaluate(f(), derivatives)


class _Probe:
    """Stands in for :class:`lab.autodiff.Fields`: independent random values per partial."""

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator, self.values = n, generator, {}

    def __call__(self, out: int = 0) -> torch.Tensor:
        return self.d()

    def d(self, *axes: str, out: int = 0) -> torch.Tensor:
        key = tuple(sorted(axes))
        if key not in self.values:
            self.values[key] = torch.randn(self.n, generator=self.generator, dtype=torch.float64)
        return self.values[key]


def true_coefficients(problem, library: Library) -> dict[str, float]:
    """``ξ`` with ``u_t = Θ ξ`` for ``problem``'s residual ``u_t + N(u)`` (non-zero terms only).

    Raises ``ValueError`` when the residual is not of that form within ``library`` (a term of
    higher order or power, a forcing, a coefficient that varies in space or time)."""
    probe = _Probe(64, torch.Generator().manual_seed(0))
    residual = problem.residual(probe)
    if not ("t",) in probe.values:
        raise ValueError(f"{problem.key!r} has no time derivative u_t: not an evolution equation")
    rest = residual - probe.d("t")
    theta = library.evaluate(probe(), {k: probe.d(*("x",) * k) for k in range(1, library.order + 1)})
    xi = torch.linalg.lstsq(theta, -rest[:, None]).solution[:, 0]
    misfit = torch.linalg.vector_norm(theta @ xi + rest) / torch.linalg.vector_norm(rest).clamp_min(1e-300)
    if misfit > 1e-8:
        raise ValueError(f"the equation of {problem.key!r} is not in the library of "
                         f"{library.names} (derivative order {library.order}, max power "
                         f"{library.max_power}): raise them")
    return {name: float(c) for name, c in zip(library.names, xi) if abs(c) > 1e-12}


def reference_library(problem, library: Library, shape: tuple[int, int] = (256, 201)
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(u_t, Θ)`` of ``problem``'s reference on an ``(x, t)`` grid, flattened (float64).

    ``x`` derivatives are spectral (the reference must be periodic in ``x``, as for KdV,
    Kuramoto–Sivashinsky and Burgers' odd sine, whose solution stays 2-periodic); ``u_t`` is
    second-order central differences in ``t`` (one-sided at the ends): the exact library up to
    ``O(Δt²)``, what the regression stage recovers equations from in the tests."""
    (x0, x1), (t0, t1) = problem.bounds()["x"], problem.bounds()["t"]
    grid = {"x": np.linspace(x0, x1, shape[0], endpoint=False), "t": np.linspace(t0, t1, shape[1])}
    u = np.asarray(problem.reference(grid), dtype=np.float64).reshape(shape)
    ut = np.gradient(u, grid["t"], axis=1, edge_order=2)
    field = torch.as_tensor(u.T)  # (t, x): x last for the FFT
    derivatives = {k: spectral_derivative(field, (k,), x1 - x0).T.reshape(-1)
                   for k in range(1, library.order + 1)}
    theta = library.evaluate(torch.as_tensor(u).reshape(-1), derivatives)
    return ut.reshape(-1), theta.numpy()
