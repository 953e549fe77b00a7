"""Fourier layer of the FNO: ``(K v)(x) = F^{-1}[ R(k) . F[v](k) ](x)`` on retained modes only.

Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021, eq. (5). ``R(k)`` is a
complex ``in x out`` matrix for each retained frequency ``k``; all other frequencies are
dropped. Conventions (the lab's one FFT convention, :mod:`lab.solvers.spectral`):

* ``modes[i] = m`` keeps the integer frequencies ``|f| < m`` along spatial axis ``i``: ``2m - 1``
  of them on leading axes, ``m`` on the last (real-FFT) axis. The kept set is symmetric and
  defined in physical frequencies, so the layer is the *same operator* on every grid that
  resolves it — the basis of zero-shot super-resolution. ``m <= n//2 + 1`` is required.
* Nyquist: on an even axis with ``m = n/2 + 1`` the frequencies ``+n/2`` and ``-n/2`` alias to
  one bin. The trigonometric interpolant of the samples splits that bin equally between
  them, so each of the two weight slots acts on the bin and the inverse transform takes half
  of each (the mean of the two weights); the real-FFT axis drops the imaginary part there
  (as ``irfft`` does), which equals sampling the finer-grid output. With these two rules the
  layer on a coarse grid is *exactly* the layer on any finer grid, sampled back
  (``tests/test_fno.py`` checks it to round-off).
* Transforms are matrix products with the DFT restricted to the retained modes
  (:func:`dft_matrices`): ``n x 2m`` real on the last axis, ``(2m-1) x n`` complex on the
  others, and their inverses. An FFT computes all ``n`` modes to keep ``m`` of them: its
  output, the truncation copy and the zero-padded inverse input are each as large as the
  activation, while a truncated DFT reads the activation once and writes ``2m/n`` of it
  (``O(n m)`` work per point instead of ``O(log n)``: the right trade for the few modes FNOs
  keep). Leading axes are left products on contiguous views, so no pass copies the grid. The
  mode mixing is one batched GEMM with the modes as the batch axis.
* Mixed precision: transforms run in float32 (or float64) with autocast disabled, so the
  layer is safe inside ``torch.autocast(dtype=torch.bfloat16)``.

Weights are stored as real tensors with a trailing ``(re, im)`` axis, so ``.to(dtype)``,
checkpoints (safetensors) and optimisers see ordinary real parameters. ``factorization``:
``"dense"`` (``in*out*M`` complex numbers, the original FNO), ``"cp"`` (rank-``r``
canonical-polyadic ``R = sum_r l_r a_r (x) b_r (x) c_r^(1) (x) ... `` , Kossaifi et al. 2023,
"Multi-grid tensorized FNO"; fewer parameters, same FLOPs after reconstruction) or
``"separable"`` (one complex number per channel and mode, in == out; depthwise).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

FACTORIZATIONS = ("dense", "cp", "separable")


def check_modes(modes: Sequence[int], shape: Sequence[int]) -> None:
    """Raise ``ValueError`` naming ``modes`` when a grid cannot resolve the retained modes."""
    if len(modes) != len(shape):
        raise ValueError(f"modes has {len(modes)} entries but the input has {len(shape)} spatial axes")
    for i, (m, n) in enumerate(zip(modes, shape)):
        if m > n // 2 + 1:
            raise ValueError(f"modes[{i}]={m} exceeds n//2+1={n // 2 + 1} for grid size n={n} "
                             f"along spatial axis {i}; use modes <= n//2+1 or a finer grid")


def _slots(m: int) -> torch.Tensor:
    """Frequencies of the weight slots of a leading axis: ``0..m-1, -(m-1)..-1``."""
    return torch.cat([torch.arange(m), torch.arange(-(m - 1), 0)])


def _phase(f: torch.Tensor, n: int) -> torch.Tensor:
    """``2 pi f j / n`` as ``(len(f), n)``, reduced mod ``n`` in integers so it stays exact."""
    return (2 * torch.pi / n) * ((f[:, None] * torch.arange(n)[None, :]) % n).double()


def dft_matrices(m: int, n: int, *, last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and inverse DFT matrices of one axis, restricted to the retained frequencies.

    Leading axis: complex ``(2m-1, n)`` forward and ``(n, 2m-1)`` inverse, the inverse scaled
    by ``1/n`` and by ``1/2`` on the two slots ``+-n/2`` when they alias to one bin (the
    Nyquist rule of the module docstring). Last axis (real input): forward ``(n, 2m)`` real,
    columns ``(cos, -sin)`` interleaved so the product views as ``m`` complex numbers; inverse
    ``(2m, n)`` real with ``irfft``'s weights ``1/n`` (DC, Nyquist) and ``2/n`` (others) — the
    imaginary parts of DC and Nyquist meet ``sin = 0`` and drop out as in ``irfft``. float64.
    """
    if last:
        theta = _phase(torch.arange(m), n)  # (m, n)
        fwd = torch.stack([theta.cos(), -theta.sin()], dim=1).reshape(2 * m, n).T
        c = torch.full((m, 1), 2.0 / n, dtype=torch.float64)
        c[0] = 1.0 / n
        if n % 2 == 0 and m == n // 2 + 1:
            c[-1] = 1.0 / n
        inv = torch.stack([c * theta.cos(), -c * theta.sin()], dim=1).reshape(2 * m, n)
        return fwd.contiguous(), inv
    f = _slots(m)
    theta = _phase(f, n)  # (2m-1, n)
    fwd = torch.polar(torch.ones_like(theta), -theta)
    c = torch.full((len(f),), 1.0 / n, dtype=torch.float64)
    if n % 2 == 0 and m == n // 2 + 1:
        c[(f.abs() == n // 2)] = 0.5 / n
    inv = (torch.polar(torch.ones_like(theta), theta) * c[:, None]).T
    return fwd, inv.contiguous()


def _along(mat: torch.Tensor, t: torch.Tensor, axis: int) -> torch.Tensor:
    """``mat`` applied along spatial ``axis`` of ``(channels, batch, *spatial)``.

    A left product on the view ``(before, n, after)``: one batched GEMM that reads and writes
    contiguous memory, where moving the axis last would copy the tensor twice.
    """
    p = 2 + axis
    lead, n = t.shape[:p], t.shape[p]
    out = torch.matmul(mat, t.reshape(math.prod(lead), n, -1))
    return out.reshape(*lead, mat.shape[0], *t.shape[p + 1:])


class SpectralConv(nn.Module):
    """Spectral convolution over the spatial axes of channel-major ``(in, batch, *spatial)``."""

    def __init__(self, in_channels: int, out_channels: int, modes: Sequence[int], *,
                 factorization: str = "dense", rank: int = 16, generator: torch.Generator | None = None):
        super().__init__()
        modes = tuple(int(m) for m in modes)
        if not 1 <= len(modes) <= 3:
            raise ValueError(f"modes must give 1 to 3 spatial axes, got {modes}")
        if min(modes) < 1:
            raise ValueError(f"modes must be >= 1 along every axis, got {modes}")
        if factorization not in FACTORIZATIONS:
            raise ValueError(f"factorization must be one of {list(FACTORIZATIONS)}, got {factorization!r}")
        if factorization == "separable" and in_channels != out_channels:
            raise ValueError("factorization='separable' needs in_channels == out_channels, got "
                             f"{in_channels} and {out_channels}")
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        self.in_channels, self.out_channels, self.modes = in_channels, out_channels, modes
        self.factorization, self.rank = factorization, rank
        self.ndim = len(modes)
        self.mode_shape = tuple(2 * m - 1 for m in modes[:-1]) + (modes[-1],)
        # Li et al.'s init: uniform in [0, 1/(in*out)) for both parts of each complex weight
        scale = 1.0 / (in_channels * out_channels)

        def param(*shape):
            return nn.Parameter(scale * torch.rand(*shape, 2, generator=generator))

        if factorization == "dense":
            self.weight = param(in_channels, out_channels, *self.mode_shape)
        elif factorization == "separable":
            self.weight = param(in_channels, *self.mode_shape)
        else:
            # CP factors scaled so that the reconstruction has the dense init's magnitude
            s = (scale / rank) ** (1.0 / (2 + self.ndim))
            self.factors = nn.ParameterList(
                [nn.Parameter(s * torch.rand(n, rank, 2, generator=generator))
                 for n in (in_channels, out_channels, *self.mode_shape)])
        self._dft: dict[tuple, list] = {}

    # ---- weights --------------------------------------------------------------------------
    def complex_weight(self) -> torch.Tensor:
        """The complex mixing tensor ``(in, out, *mode_shape)`` (``(in, *mode_shape)`` if separable)."""
        if self.factorization != "cp":
            return torch.view_as_complex(self.weight)
        fs = [torch.view_as_complex(f) for f in self.factors]
        letters = "ijklm"[: len(fs)]
        spec = ",".join(f"{c}r" for c in letters) + "->" + letters
        return torch.einsum(spec, *fs)

    def _matrices(self, shape: tuple[int, ...], device, real: torch.dtype) -> list:
        """The per-axis ``(forward, inverse)`` DFT matrices for this grid, made once per grid."""
        key = (shape, str(device), real)
        if key not in self._dft:
            cplx = torch.complex128 if real == torch.float64 else torch.complex64
            self._dft[key] = [
                tuple(t.to(device=device, dtype=real if i == self.ndim - 1 else cplx)
                      for t in dft_matrices(m, n, last=i == self.ndim - 1))
                for i, (m, n) in enumerate(zip(self.modes, shape))]
        return self._dft[key]

    def _mix(self, xh: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``y(k) = R(k) x(k)``: one batched complex GEMM with the modes as the batch axis."""
        if self.factorization == "separable":
            return xh * w[:, None]
        ms = xh.shape[2:]
        xm = xh.reshape(self.in_channels, xh.shape[1], -1).permute(2, 1, 0)       # (M, B, in)
        wm = w.reshape(self.in_channels, self.out_channels, -1).permute(2, 0, 1)  # (M, in, out)
        return torch.bmm(xm, wm).permute(2, 1, 0).reshape(self.out_channels, xh.shape[1], *ms)

    # ---- forward --------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, *, add: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """``K x`` (+ ``bias`` per output channel) (+ ``add``) on channel-major tensors.

        ``x`` is ``(in, batch, *spatial)``, the FNO's layout (its pointwise layers are then
        single GEMMs); the result is ``(out, batch, *spatial)``. ``add`` (same shape as the
        result) is summed by the last GEMM itself (``addmm``): the FNO passes its skip path
        here, which saves a pass over the largest tensor. ``bias`` enters as the
        zero-frequency coefficient, ``N * b``, so it costs nothing on the grid.
        """
        shape = tuple(x.shape[2:])
        check_modes(self.modes, shape)
        d = self.ndim
        real = torch.float64 if x.dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.to(real)
            w = self.complex_weight().to(torch.complex128 if real == torch.float64 else torch.complex64)
            mats = self._matrices(shape, x.device, real)
            # forward transform on the retained modes: real GEMM on the last axis, then the others
            rows = (x.reshape(-1, shape[-1]) @ mats[-1][0]).reshape(*x.shape[:-1], self.modes[-1], 2)
            xh = torch.view_as_complex(rows)
            for axis in range(d - 1):
                xh = _along(mats[axis][0], xh, axis)
            yh = self._mix(xh, w)
            if bias is not None:
                yh[(slice(None), slice(None)) + (0,) * d] += bias.to(real)[:, None] * math.prod(shape)
            for axis in reversed(range(d - 1)):
                yh = _along(mats[axis][1], yh, axis)
            yr = torch.view_as_real(yh.contiguous()).reshape(-1, 2 * self.modes[-1])
            if add is None:
                y = yr @ mats[-1][1]
            else:  # out of place: an in-place GEMM into a view costs autograd two grid copies
                y = torch.addmm(add.to(real).reshape(-1, shape[-1]), yr, mats[-1][1])
            return y.reshape(self.out_channels, x.shape[1], *shape)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, modes={self.modes}, "
                f"factorization={self.factorization!r}" + (f", rank={self.rank}" if
                                                          self.factorization == "cp" else ""))


__all__ = ["FACTORIZATIONS", "SpectralConv", "check_modes", "dft_matrices"]
