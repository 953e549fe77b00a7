"""Shared Fourier-spectral operators on periodic boxes.

Every spectral solver, PINO loss and spectrum in the lab takes its wavenumbers, derivatives
and de-aliasing masks from here, so there is exactly one place where the FFT conventions
live: angular wavenumbers ``k = 2*pi/L * m`` with ``m`` in FFT order, real transforms along
the last axis, and the Nyquist mode of an even grid zeroed for odd derivatives (it has no
well-defined sign, see Trefethen, *Spectral Methods in MATLAB*, ch. 3).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"


def wavenumbers(n: int, length: float = 2 * math.pi, *, real: bool = False,
                device=None, dtype=torch.float64) -> torch.Tensor:
    """Angular wavenumbers of an ``n``-point periodic grid of period ``length``.

    ``real=True`` gives the ``rfft`` half spectrum (``n//2 + 1`` entries).
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if length <= 0:
        raise ValueError(f"length must be positive, got {length}")
    d = length / n
    # float64 frequencies: torch's default float32 would cap k at ~1e-7 relative accuracy. Built
    # on the target device, so a loss that calls this copies nothing from the host per step (a
    # CUDA graph cannot capture such a copy); MPS has no float64 and builds them on the host.
    device = torch.device("cpu") if device is None else torch.device(device)
    home = torch.device("cpu") if device.type == "mps" else device
    freq = torch.fft.rfftfreq if real else torch.fft.fftfreq
    m = freq(n, d=d, dtype=torch.float64, device=home)
    return (2 * math.pi * m).to(device=device, dtype=dtype)


def wavenumber_grid(shape: Sequence[int], lengths: Sequence[float] | float = 2 * math.pi, *,
                    device=None, dtype=torch.float64) -> tuple[torch.Tensor, ...]:
    """Broadcastable wavenumber arrays for ``torch.fft.rfftn`` over the last ``len(shape)`` axes.

    The last axis uses the real half spectrum. Each returned tensor has the full spectral
    rank with singleton dimensions elsewhere, so ``kx * u_hat`` broadcasts.
    """
    shape = tuple(int(s) for s in shape)
    if isinstance(lengths, (int, float)):
        lengths = (float(lengths),) * len(shape)
    if len(lengths) != len(shape):
        raise ValueError(f"lengths has {len(lengths)} entries but shape has {len(shape)} axes")
    ks = []
    for axis, (n, length) in enumerate(zip(shape, lengths)):
        k = wavenumbers(n, length, real=axis == len(shape) - 1, device=device, dtype=dtype)
        view = [1] * len(shape)
        view[axis] = k.numel()
        ks.append(k.reshape(view))
    return tuple(ks)


def _nyquist(n: int, dtype, k: torch.Tensor) -> torch.Tensor:
    """Largest |k| on an even grid: the Nyquist wavenumber in the units of ``k``."""
    return k.abs().max().to(dtype)


def dealias_mask(shape: Sequence[int], *, fraction: float = 2 / 3, device=None) -> torch.Tensor:
    """Orszag's 2/3-rule mask (rfftn layout): keep modes with ``|m| < fraction * n/2`` per axis.

    Built on ``device`` (the host when ``None``), like :func:`wavenumbers`.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    shape = tuple(int(s) for s in shape)
    mask = None
    for axis, n in enumerate(shape):
        real = axis == len(shape) - 1
        m = (torch.fft.rfftfreq if real else torch.fft.fftfreq)(n, d=1.0 / n, device=device)
        keep = m.abs() < fraction * n / 2
        view = [1] * len(shape)
        view[axis] = keep.numel()
        keep = keep.reshape(view)
        mask = keep if mask is None else mask & keep
    return mask


def spectral_derivative(u: torch.Tensor, orders: Sequence[int], lengths: Sequence[float] | float
                        = 2 * math.pi) -> torch.Tensor:
    """Derivative of a real periodic field over its last ``len(orders)`` axes.

    ``orders[i]`` is the derivative order along axis ``i`` of those axes, e.g. ``(0, 2)`` is
    ``d^2/dy^2`` of a field laid out ``(..., x, y)``. Exact for band-limited fields.
    """
    orders = tuple(int(o) for o in orders)
    shape = u.shape[-len(orders):]
    dims = tuple(range(-len(orders), 0))
    ks = wavenumber_grid(shape, lengths, device=u.device, dtype=u.dtype)
    u_hat = torch.fft.rfftn(u, dim=dims)
    factor = torch.ones((), dtype=u_hat.dtype, device=u.device)
    for axis, (k, order) in enumerate(zip(ks, orders)):
        if order % 2 == 1 and shape[axis] % 2 == 0:
            k = k * (k.abs() != _nyquist(shape[axis], u_hat.real.dtype, k))
        if order:
            factor = factor * (1j * k) ** order
    return torch.fft.irfftn(u_hat * factor, s=shape, dim=dims)


def fourier_interpolate(u: torch.Tensor, x: torch.Tensor, length: float = 2 * math.pi,
                        origin: float = 0.0) -> torch.Tensor:
    """Evaluate the trigonometric interpolant of periodic samples at arbitrary points.

    ``u[..., j]`` are samples at ``origin + j * length / n``; returns ``(..., len(x))``. This
    is the exact band-limited continuation of the samples (the Nyquist mode of an even grid
    enters as a cosine), so a spectral solution keeps its spectral accuracy between nodes;
    differentiable in ``u`` and ``x``.
    """
    n = u.shape[-1]
    k = wavenumbers(n, length, real=True, device=u.device, dtype=u.dtype)
    weight = torch.full_like(k, 2.0)
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    c = torch.fft.rfft(u, dim=-1) * (weight / n)
    phase = torch.exp(1j * (x.to(device=u.device, dtype=u.dtype) - origin)[:, None] * k[None, :])
    return (c @ phase.transpose(0, 1)).real


def fourier_interpolate_points(u: torch.Tensor, points: torch.Tensor,
                               lengths: Sequence[float] | float = 2 * math.pi,
                               origins: Sequence[float] | float = 0.0) -> torch.Tensor:
    """Trigonometric interpolant of periodic samples at scattered points.

    ``u[..., j_1, ..., j_d]`` are samples at ``origin_i + j_i * L_i / n_i``; ``points`` is
    ``(P, d)``; returns ``(..., P)``. The multi-dimensional counterpart of
    :func:`fourier_interpolate` (same Nyquist convention: a cosine on every even axis), at a
    cost of ``O(P * n_1 ... n_d)``: meant for initial conditions of modest resolution, e.g. a
    band-limited field resampled onto a coarse grid first. Differentiable in ``u``.
    """
    d = points.shape[-1]
    shape = tuple(u.shape[-d:])
    if isinstance(lengths, (int, float)):
        lengths = (float(lengths),) * d
    if isinstance(origins, (int, float)):
        origins = (float(origins),) * d
    ks = wavenumber_grid(shape, lengths, device=u.device, dtype=u.dtype)
    c = torch.fft.rfftn(u, dim=tuple(range(-d, 0))) / math.prod(shape)
    n_last = shape[-1]
    # weights and masks from comparisons on the device: an item assignment would copy a host
    # scalar per call, which a CUDA graph cannot capture
    j = torch.arange(n_last // 2 + 1, device=u.device)
    once = (j == 0) | ((j == n_last // 2) & (n_last % 2 == 0))  # DC and Nyquist: counted once
    c = c * torch.where(once, 1.0, 2.0).to(u.dtype)
    flat = c.reshape(*c.shape[:-d], -1)
    pts = points.to(device=u.device, dtype=u.dtype)
    chunk = max(1, 2**22 // flat.shape[-1])  # bound the (points x modes) phase matrix
    out = []
    for start in range(0, pts.shape[0], chunk):
        p = pts[start:start + chunk]
        phase = None
        for axis, (k, n) in enumerate(zip(ks, shape)):
            k = k.reshape(-1)
            xk = (p[:, axis:axis + 1] - origins[axis]) * k  # (P, m_axis)
            f = torch.exp(1j * xk)
            if n % 2 == 0:  # out of place: the points may carry autograd
                nyq = torch.arange(k.numel(), device=u.device) == (n // 2 if axis < d - 1 else k.numel() - 1)
                f = torch.where(nyq, torch.cos(xk).to(f.dtype), f)
            view = [p.shape[0]] + [1] * d
            view[axis + 1] = k.numel()
            f = f.reshape(view)
            phase = f if phase is None else phase * f
        out.append((flat @ phase.reshape(p.shape[0], -1).transpose(0, 1)).real)
    return torch.cat(out, dim=-1)
