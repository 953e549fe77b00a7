"""Derived fields of periodic velocity fields for 3D views: vorticity, Q-criterion, down-sampling.

Velocities are laid out ``(*batch, d, n_1, ..., n_d)`` (component axis before the ``d``
spatial axes, ``d`` = 2 or 3) on a periodic box; derivatives are spectral
(:func:`lab.solvers.spectral.spectral_derivative`), exact for band-limited fields. The view
layer turns the results into meshes; nothing here imports a renderer.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from lab.solvers.spectral import spectral_derivative


def _velocity(u, ndim: int) -> torch.Tensor:
    u = torch.as_tensor(u)
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3, got {ndim}")
    if u.ndim < ndim + 1 or u.shape[-ndim - 1] != ndim:
        raise ValueError(f"a {ndim}D velocity must be laid out (..., {ndim}, "
                         + ", ".join(f"n{i + 1}" for i in range(ndim)) + f"), got shape {tuple(u.shape)}")
    if not u.is_floating_point():
        raise ValueError(f"velocity must be real floating point, got {u.dtype}")
    return u


def velocity_gradient(u, lengths: Sequence[float] | float = 2 * math.pi, *, ndim: int = 3) -> torch.Tensor:
    """``A_ij = du_i / dx_j`` with shape ``(*batch, d, d, n_1, ..., n_d)`` (spectral, one FFT pair per ``j``)."""
    u = _velocity(u, ndim)
    cols = [spectral_derivative(u, tuple(int(i == j) for i in range(ndim)), lengths) for j in range(ndim)]
    return torch.stack(cols, -ndim - 1)


def vorticity(u, lengths: Sequence[float] | float = 2 * math.pi, *, ndim: int = 3) -> torch.Tensor:
    """``omega = curl u``: ``(*batch, 3, nx, ny, nz)`` in 3D, the scalar ``dv/dx - du/dy`` in 2D."""
    A = velocity_gradient(u, lengths, ndim=ndim)
    c = -ndim - 2  # the first of the two component axes of A
    a = lambda i, j: A.select(c, i).select(c + 1, j)  # noqa: E731 - A_ij (negative axes)
    if ndim == 2:
        return a(1, 0) - a(0, 1)
    return torch.stack([a(2, 1) - a(1, 2), a(0, 2) - a(2, 0), a(1, 0) - a(0, 1)], -4)


def vorticity_magnitude(u, lengths: Sequence[float] | float = 2 * math.pi) -> torch.Tensor:
    """``|curl u|`` of a 3D velocity, ``(*batch, nx, ny, nz)``."""
    return torch.linalg.vector_norm(vorticity(u, lengths, ndim=3), dim=-4)


def q_criterion(u, lengths: Sequence[float] | float = 2 * math.pi, *, ndim: int = 3) -> torch.Tensor:
    """Hunt, Wray & Moin (1988): ``Q = (||Omega||^2 - ||S||^2) / 2 = -A_ij A_ji / 2``.

    ``S`` and ``Omega`` are the symmetric and antisymmetric parts of the velocity gradient;
    ``Q > 0`` marks vortex cores where rotation dominates strain.
    """
    A = velocity_gradient(u, lengths, ndim=ndim)
    c = -ndim - 2
    return -0.5 * (A * A.transpose(c, c + 1)).sum(dim=(c, c + 1))


def downsample(field, max_points: int, *, ndim: int = 3):
    """Stride the last ``ndim`` axes by the smallest factor ``s`` leaving at most ``max_points``.

    Returns ``(field[..., ::s, ::s, ::s], s)`` (numpy array or tensor, a view where the type
    allows); ``s = 1`` when the field already fits. Striding keeps grid values exact, which
    matters for the isosurfaces drawn from them.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    shape = tuple(field.shape[-ndim:])
    if len(field.shape) < ndim:
        raise ValueError(f"field of shape {tuple(field.shape)} has fewer than ndim={ndim} axes")
    s = max(1, math.floor((math.prod(shape) / max_points) ** (1 / ndim)))
    while math.prod(-(-n // s) for n in shape) > max_points:
        s += 1
    index = (Ellipsis,) + (slice(None, None, s),) * ndim
    return field[index], s
