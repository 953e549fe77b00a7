"""Elliptic solvers: FFT Poisson/Helmholtz (periodic), sine-transform Dirichlet, sparse FD Darcy.

* :func:`helmholtz_periodic` solves ``(lap + lam) u = f`` on a periodic box by the FFT; exact
  (to round-off) for band-limited data, spectrally accurate otherwise.
* :func:`helmholtz_dirichlet` solves ``(lap + lam) u = f`` with ``u = 0`` on the boundary of a
  box, diagonalised by the type-I discrete sine transform (computed through an odd-extension
  FFT, so it runs on any torch device). ``scheme="spectral"`` uses the exact eigenvalues
  ``-(pi m / L)^2`` of the sine series (exact for finite sine series such as
  ``sin(a pi x) sin(b pi y)``); ``scheme="fd2"`` the 5-point-stencil eigenvalues
  ``-(4/h^2) sin^2(pi m / 2n)`` (second order).
* :func:`darcy_solve` solves ``-div(a grad u) = f`` on ``[0, 1]^2``, ``u = 0`` on the
  boundary, with the conservative 5-point finite-difference scheme (face coefficients are
  harmonic means of the nodal values: exact flux continuity across a jump of ``a``, second
  order for smooth ``a``) and a sparse LU factorisation (scipy, float64). It loops over a
  batch of coefficients, the FNO Darcy setting (Li et al., ICLR 2021): ``a`` = 12 where a
  GRF is ``>= 0`` and 3 elsewhere (:func:`darcy_coefficient`), ``f = 1``.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from lab.solvers.spectral import wavenumber_grid


def _lengths(lengths, d):
    if isinstance(lengths, (int, float)):
        lengths = (float(lengths),) * d
    lengths = tuple(float(v) for v in lengths)
    if len(lengths) != d or min(lengths) <= 0:
        raise ValueError(f"lengths must be {d} positive numbers, got {lengths}")
    return lengths


def helmholtz_periodic(f: torch.Tensor, lam: float = 0.0, *, ndim: int | None = None,
                       lengths: Sequence[float] | float = 2 * math.pi) -> torch.Tensor:
    """Solve ``lap u + lam u = f`` on the periodic box over the last ``ndim`` axes of ``f``.

    ``lam = 0`` (Poisson) needs zero-mean ``f`` and returns the zero-mean solution; a ``lam``
    equal to a Laplacian eigenvalue ``|k|^2`` is singular. Both raise ``ValueError``.
    """
    ndim = f.ndim if ndim is None else int(ndim)
    shape = tuple(f.shape[-ndim:])
    dims = tuple(range(-ndim, 0))
    ks = wavenumber_grid(shape, _lengths(lengths, ndim), device=f.device, dtype=f.dtype)
    symbol = lam - sum(k * k for k in ks)
    f_hat = torch.fft.rfftn(f, dim=dims)
    scale = f.abs().amax().clamp_min(torch.finfo(f.dtype).tiny) * math.prod(shape)
    if lam == 0:
        mean = f_hat.reshape(*f_hat.shape[:-ndim], -1)[..., 0].abs().max()
        if mean > 1e3 * torch.finfo(f.dtype).eps * scale:
            raise ValueError("f must have zero mean for the periodic Poisson problem (lam=0); "
                             f"its mean is {float(mean) / math.prod(shape):.3g}")
        symbol = symbol.clone()
        symbol.view(-1)[0] = 1.0
        f_hat = f_hat.clone()
        f_hat.reshape(*f_hat.shape[:-ndim], -1)[..., 0] = 0.0
    elif symbol.abs().min() < 1e-12 * max(1.0, abs(lam)):
        raise ValueError(f"lam={lam} is an eigenvalue |k|^2 of the periodic Laplacian: singular")
    return torch.fft.irfftn(f_hat / symbol, s=shape, dim=dims)


def dst1(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Type-I DST ``S_k = sum_j x_j sin(pi j k / n)`` (``j, k = 1..n-1``) along ``dim``.

    Its inverse is ``(2 / n) * dst1``. Computed from the FFT of the odd extension.
    """
    x = x.movedim(dim, -1)
    m = x.shape[-1]
    zero = torch.zeros(x.shape[:-1] + (1,), dtype=x.dtype, device=x.device)
    y = torch.cat([zero, x, zero, -x.flip(-1)], dim=-1)
    s = -0.5 * torch.fft.rfft(y, dim=-1).imag[..., 1:m + 1]
    return s.movedim(-1, dim)


def helmholtz_dirichlet(f: torch.Tensor, lam: float = 0.0, *, ndim: int | None = None,
                        lengths: Sequence[float] | float = 1.0, scheme: str = "spectral"
                        ) -> torch.Tensor:
    """Solve ``lap u + lam u = f``, ``u = 0`` on the boundary, over the last ``ndim`` axes.

    ``f`` holds the interior nodes of a uniform grid with ``n_i`` intervals per axis, shape
    ``(..., n_1 - 1, ..., n_d - 1)``; the result has the same layout.
    """
    schemes = ("spectral", "fd2")
    if scheme not in schemes:
        raise ValueError(f"scheme must be one of {list(schemes)}, got {scheme!r}")
    ndim = f.ndim if ndim is None else int(ndim)
    lengths = _lengths(lengths, ndim)
    symbol = torch.full((), float(lam), dtype=f.dtype, device=f.device)
    f_hat = f
    for axis in range(ndim):
        dim = f.ndim - ndim + axis
        n = f.shape[dim] + 1
        m = torch.arange(1, n, dtype=f.dtype, device=f.device)
        if scheme == "spectral":
            eig = -(math.pi * m / lengths[axis]) ** 2
        else:
            h = lengths[axis] / n
            eig = -(4 / h**2) * torch.sin(math.pi * m / (2 * n)) ** 2
        view = [1] * ndim
        view[axis] = n - 1
        symbol = symbol + eig.reshape(view)
        f_hat = dst1(f_hat, dim)
    if symbol.abs().min() < 1e-12 * max(1.0, abs(lam)):
        raise ValueError(f"lam={lam} is a Dirichlet eigenvalue of the {scheme} Laplacian: singular")
    u = f_hat / symbol
    for axis in range(ndim):
        dim = f.ndim - ndim + axis
        u = dst1(u, dim) * (2.0 / (f.shape[dim] + 1))
    return u


# ---- Darcy ----------------------------------------------------------------------------------
def darcy_coefficient(field: torch.Tensor, high: float = 12.0, low: float = 3.0) -> torch.Tensor:
    """Two-phase medium of the FNO Darcy data: ``high`` where ``field >= 0``, ``low`` elsewhere."""
    if not (high > 0 and low > 0):
        raise ValueError(f"high and low must be positive, got high={high}, low={low}")
    return torch.where(field >= 0, torch.full_like(field, high), torch.full_like(field, low))


def _darcy_matrix(a: np.ndarray) -> sp.csc_matrix:
    """5-point matrix of ``-div(a grad .)`` on the ``(n-2)^2`` interior nodes of ``[0,1]^2``."""
    n = a.shape[0]
    h2 = (1.0 / (n - 1)) ** 2
    m = n - 2
    idx = np.arange(m * m).reshape(m, m)
    c = a[1:-1, 1:-1]
    diag = np.zeros((m, m))
    rows, cols, vals = [], [], []
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nb = a[1 + di:n - 1 + di, 1 + dj:n - 1 + dj]
        face = 2 * c * nb / (c + nb)  # harmonic mean: flux continuity across jumps of a
        diag += face
        ii, jj = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
        ni, nj = ii + di, jj + dj
        inside = (ni >= 0) & (ni < m) & (nj >= 0) & (nj < m)
        rows.append(idx[inside])
        cols.append(idx[ni[inside], nj[inside]])
        vals.append(-face[inside])
    rows.append(idx.ravel())
    cols.append(idx.ravel())
    vals.append(diag.ravel())
    A = sp.coo_matrix((np.concatenate(vals) / h2, (np.concatenate(rows), np.concatenate(cols))),
                      shape=(m * m, m * m))
    return A.tocsc()


def darcy_solve(a, f=1.0, *, device=None, dtype=None) -> torch.Tensor:
    """Solve ``-div(a grad u) = f`` in ``[0,1]^2``, ``u = 0`` on the boundary; second order.

    ``a``: nodal coefficient on the uniform ``n x n`` grid including the boundary nodes
    (``x_i = i / (n - 1)``), shape ``(n, n)`` or ``(batch, n, n)``, positive. ``f``: a number or
    an array broadcastable to ``a``. Returns ``u`` with ``a``'s shape (boundary rows zero) on
    ``device``/``dtype`` (default: those of ``a`` if it is a tensor, else CPU float64).
    The solve itself is scipy SuperLU in float64 on the CPU, one factorisation per coefficient;
    the coefficients are solved on a thread per core (SuperLU releases the GIL).
    """
    if isinstance(a, torch.Tensor):
        device = a.device if device is None else device
        dtype = a.dtype if dtype is None else dtype
        a_np = a.detach().to("cpu", torch.float64).numpy()
    else:
        a_np = np.asarray(a, dtype=np.float64)
    dtype = torch.float64 if dtype is None else dtype
    if a_np.ndim not in (2, 3) or a_np.shape[-1] != a_np.shape[-2] or a_np.shape[-1] < 3:
        raise ValueError(f"a must have shape (n, n) or (batch, n, n) with n >= 3, got {a_np.shape}")
    if not np.all(np.isfinite(a_np)) or a_np.min() <= 0:
        raise ValueError("a must be finite and positive everywhere")
    f_np = f.detach().to("cpu", torch.float64).numpy() if isinstance(f, torch.Tensor) \
        else np.asarray(f, dtype=np.float64)
    batch = a_np.reshape(-1, *a_np.shape[-2:])
    f_b = np.broadcast_to(f_np, a_np.shape).reshape(batch.shape)
    out = np.zeros_like(batch)
    m = batch.shape[-1] - 2

    def solve(b):
        out[b, 1:-1, 1:-1] = spla.spsolve(_darcy_matrix(batch[b]), f_b[b, 1:-1, 1:-1].ravel()).reshape(m, m)

    with ThreadPoolExecutor(max(1, min(len(batch), os.cpu_count() or 1))) as pool:
        list(pool.map(solve, range(len(batch))))
    return torch.from_numpy(out.reshape(a_np.shape)).to(device=device, dtype=dtype)
