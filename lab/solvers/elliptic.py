"""Elliptic solvers: FFT Poisson/Helmholtz (periodic), sine-transform Dirichlet, FD Darcy.

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
  order for smooth ``a``; :func:`darcy_operator`): by sparse LU (scipy) per coefficient, or
  by conjugate gradients preconditioned with the sine-transform Laplacian, a whole batch of
  coefficients at once on any torch device (the GPU route for paper-sized data).
  That is the FNO Darcy setting (Li et al., ICLR 2021): ``a`` = 12 where a GRF is ``>= 0``
  and 3 elsewhere (:func:`darcy_coefficient`), ``f = 1``.
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

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"


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


def _darcy_faces(a):
    """``((di, dj), face)`` for the 4 neighbours of the interior nodes of nodal ``a`` (``(..., n, n)``).

    The face coefficient is the harmonic mean of the two nodal values: the flux is then
    continuous across a jump of ``a`` (and the scheme second order for smooth ``a``).
    Works on numpy arrays and tensors alike, so the sparse matrix and the matrix-free
    operator share it.
    """
    n = a.shape[-1]
    c = a[..., 1:-1, 1:-1]
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nb = a[..., 1 + di:n - 1 + di, 1 + dj:n - 1 + dj]
        yield (di, dj), 2 * c * nb / (c + nb)


def darcy_operator(a: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``-div(a grad u)`` at the interior nodes of the uniform grid on ``[0, 1]^2``.

    The conservative 5-point scheme (:func:`_darcy_faces`). ``a`` and ``u`` are ``(..., n, n)``
    including the boundary nodes; returns ``(..., n-2, n-2)``.
    """
    n = u.shape[-1]
    uc = u[..., 1:-1, 1:-1]
    flux = torch.zeros_like(uc)
    for (di, dj), face in _darcy_faces(a):
        flux = flux + face * (uc - u[..., 1 + di:n - 1 + di, 1 + dj:n - 1 + dj])
    return flux * (n - 1) ** 2


def _darcy_matrix(a: np.ndarray) -> sp.csc_matrix:
    """The sparse matrix of :func:`darcy_operator` on the ``(n-2)^2`` interior nodes."""
    n = a.shape[0]
    m = n - 2
    idx = np.arange(m * m).reshape(m, m)
    ii, jj = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    diag = np.zeros((m, m))
    rows, cols, vals = [], [], []
    for (di, dj), face in _darcy_faces(a):
        diag += face
        ni, nj = ii + di, jj + dj
        inside = (ni >= 0) & (ni < m) & (nj >= 0) & (nj < m)
        rows.append(idx[inside])
        cols.append(idx[ni[inside], nj[inside]])
        vals.append(-face[inside])
    rows.append(idx.ravel())
    cols.append(idx.ravel())
    vals.append(diag.ravel())
    A = sp.coo_matrix((np.concatenate(vals) * (n - 1) ** 2, (np.concatenate(rows), np.concatenate(cols))),
                      shape=(m * m, m * m))
    return A.tocsc()


DARCY_METHODS = ("auto", "lu", "pcg")


def darcy_solve(a, f=1.0, *, device=None, dtype=None, method: str = "auto", rtol: float = 1e-12) -> torch.Tensor:
    """Solve ``-div(a grad u) = f`` in ``[0,1]^2``, ``u = 0`` on the boundary (:func:`darcy_operator`).

    ``a``: nodal coefficient on the uniform ``n x n`` grid including the boundary nodes
    (``x_i = i / (n - 1)``), shape ``(n, n)`` or ``(batch, n, n)``, positive. ``f``: a number or
    an array broadcastable to ``a``. Returns ``u`` with ``a``'s shape (boundary rows zero) on
    ``device``/``dtype`` (default: those of ``a`` if it is a tensor, else CPU float64).

    ``method``: ``"lu"`` factorises each system (scipy SuperLU, float64, a thread per core),
    exact to round-off and the quicker on a CPU; ``"pcg"`` runs conjugate gradients on
    ``a``'s device for the whole batch at once, preconditioned by the constant-coefficient
    5-point Laplacian (a sine-transform solve): every face coefficient lies in
    ``[min a, max a]``, so the preconditioned condition number is at most ``max a / min a``
    on any grid (4 for the FNO medium: about 30 iterations to the relative residual
    ``rtol``), which makes a paper-sized set at ``n = 421`` take seconds on a GPU.
    ``"auto"``: ``pcg`` for a CUDA tensor, else ``lu``.
    """
    if method not in DARCY_METHODS:
        raise ValueError(f"method must be one of {list(DARCY_METHODS)}, got {method!r}")
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must be in (0, 1), got {rtol}")
    on_gpu = isinstance(a, torch.Tensor) and a.device.type == "cuda"
    if isinstance(a, torch.Tensor):
        device = a.device if device is None else device
        dtype = a.dtype if dtype is None else dtype
        a_t = a.detach().to(torch.float64)
    else:
        a_t = torch.as_tensor(np.asarray(a, dtype=np.float64))
    dtype = torch.float64 if dtype is None else dtype
    if a_t.ndim not in (2, 3) or a_t.shape[-1] != a_t.shape[-2] or a_t.shape[-1] < 3:
        raise ValueError(f"a must have shape (n, n) or (batch, n, n) with n >= 3, got {tuple(a_t.shape)}")
    if not bool(torch.isfinite(a_t).all()) or float(a_t.min()) <= 0:
        raise ValueError("a must be finite and positive everywhere")
    f_t = torch.as_tensor(f.detach() if isinstance(f, torch.Tensor) else np.asarray(f, dtype=np.float64),
                          dtype=torch.float64, device=a_t.device)
    batch = a_t.reshape(-1, *a_t.shape[-2:])
    b = torch.broadcast_to(f_t, a_t.shape).reshape(batch.shape)[:, 1:-1, 1:-1]
    u = torch.zeros_like(batch)
    if method == "pcg" or (method == "auto" and on_gpu):
        u[:, 1:-1, 1:-1] = _darcy_pcg(batch, b, rtol)
    else:
        a_np, b_np, u_np = batch.cpu().numpy(), b.cpu().numpy(), u.cpu().numpy()

        def solve(i):
            u_np[i, 1:-1, 1:-1] = spla.spsolve(_darcy_matrix(a_np[i]), b_np[i].ravel()).reshape(b_np[i].shape)

        with ThreadPoolExecutor(max(1, min(len(batch), os.cpu_count() or 1))) as pool:
            list(pool.map(solve, range(len(batch))))
        u = torch.from_numpy(u_np)
    return u.reshape(a_t.shape).to(device=device, dtype=dtype)


def _darcy_pcg(a: torch.Tensor, b: torch.Tensor, rtol: float) -> torch.Tensor:
    """Interior solution of ``darcy_operator(a, u) = b`` for a batch ``(B, n, n)`` of ``a``."""
    kappa = float((a.amax((-2, -1)) / a.amin((-2, -1))).max())
    rate = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    # CG's error bound 2 rate^k, times cond(A) ~ n^2 kappa between error and residual, twice over
    # for round-off: a guaranteed stop, not the expected count
    bound = math.log(rtol / (2 * a.shape[-1] ** 2 * kappa))
    maxiter = 2 * int(math.ceil(bound / math.log(rate))) + 20 if rate > 0 else 20
    full = torch.zeros_like(a)

    def apply(v):
        full[:, 1:-1, 1:-1] = v
        return darcy_operator(a, full)

    def precondition(r):  # (-lap_h)^{-1} r, the 5-point Laplacian with the same boundary
        return -helmholtz_dirichlet(r, 0.0, ndim=2, lengths=1.0, scheme="fd2")

    def dot(x, y):  # per sample; never 0 as a divisor (a sample with b = 0 stays at x = 0)
        return (x * y).sum((-2, -1), keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)

    x = torch.zeros_like(b)
    r = b.clone()
    z = precondition(r)
    p = z.clone()
    rz = dot(r, z)
    stop = rtol * b.flatten(1).norm(dim=1)
    for _ in range(maxiter):
        if bool((r.flatten(1).norm(dim=1) <= stop).all()):
            return x
        q = apply(p)
        alpha = rz / dot(p, q)
        x = x + alpha * p
        r = r - alpha * q
        z = precondition(r)
        rz, rz_old = dot(r, z), rz
        p = z + (rz / rz_old) * p
    res = float((r.flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1).clamp_min(1e-300)).max())
    raise RuntimeError(f"Darcy conjugate gradients did not reach rtol={rtol:g} in {maxiter} iterations "
                       f"(relative residual {res:.2e}; coefficient contrast max a / min a = {kappa:.3g})")
