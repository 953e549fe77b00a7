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
  them, so the bin is multiplied by the mean of the two weights; the real-FFT axis drops
  the imaginary part there (``irfft``), which equals sampling the finer-grid output. With
  these two rules the layer on a coarse grid is *exactly* the layer on any finer grid,
  sampled back (``tests/test_fno.py`` checks it to round-off).
* Only the retained modes are transformed on leading axes: ``rfft`` along the last axis is
  truncated to ``m`` columns before the complex FFTs of the other axes, and the inverse
  mirrors that (``irfft`` zero-pads), which saves most of the FFT work in 2D/3D.
* Mixed precision: FFTs run in float32 (or float64) with autocast disabled — cuFFT has no
  bfloat16 — so the layer is safe inside ``torch.autocast(dtype=torch.bfloat16)``.

Weights are stored as real tensors with a trailing ``(re, im)`` axis, so ``.to(dtype)``,
checkpoints (safetensors) and optimisers see ordinary real parameters. ``factorization``:
``"dense"`` (``in*out*M`` complex numbers, the original FNO), ``"cp"`` (rank-``r``
canonical-polyadic ``R = sum_r l_r a_r (x) b_r (x) c_r^(1) (x) ... `` , Kossaifi et al. 2023,
"Multi-grid tensorized FNO"; fewer parameters, same FLOPs after reconstruction) or
``"separable"`` (one complex number per channel and mode, in == out; depthwise).
"""
from __future__ import annotations

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


def _bins(m: int, n: int, device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """FFT bins of frequencies ``0..m-1, -(m-1)..-1`` on ``n`` points, and the Nyquist merge.

    Returns the distinct bins and, when ``+n/2`` and ``-n/2`` share a bin, the index map from
    the ``2m - 1`` weight slots onto the distinct bins (else ``None``).
    """
    f = torch.cat([torch.arange(m), torch.arange(-(m - 1), 0)])
    b = f % n
    if n % 2 == 0 and m == n // 2 + 1:
        distinct = torch.cat([torch.arange(m), torch.arange(n - (m - 1) + 1, n)])
        slot_to_bin = torch.searchsorted(distinct, b)
        return distinct.to(device), slot_to_bin.to(device)
    return b.to(device), None


class SpectralConv(nn.Module):
    """Spectral convolution over the last ``len(modes)`` axes of ``(batch, in, *spatial)``."""

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
        self._plan: dict[tuple[int, ...], list] = {}

    # ---- weights --------------------------------------------------------------------------
    def complex_weight(self) -> torch.Tensor:
        """The complex mixing tensor ``(in, out, *mode_shape)`` (``(in, *mode_shape)`` if separable)."""
        if self.factorization != "cp":
            return torch.view_as_complex(self.weight)
        fs = [torch.view_as_complex(f) for f in self.factors]
        letters = "ijklm"[: len(fs)]
        spec = ",".join(f"{c}r" for c in letters) + "->" + letters
        return torch.einsum(spec, *fs)

    def _plan_for(self, shape: tuple[int, ...], device) -> list:
        key = (shape, str(device))
        if key not in self._plan:
            self._plan[key] = [_bins(m, n, device) for m, n in zip(self.modes[:-1], shape[:-1])]
        return self._plan[key]

    # ---- forward --------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape[-self.ndim:])
        check_modes(self.modes, shape)
        d = self.ndim
        real = torch.float64 if x.dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.to(real)
            w = self.complex_weight()
            w = w.to(torch.complex128 if real == torch.float64 else torch.complex64)
            plan = self._plan_for(shape, x.device)
            # forward transform, retained modes only: last axis first, then the others
            xh = torch.fft.rfft(x, dim=-1)[..., : self.modes[-1]]
            for axis, (bins, _) in enumerate(plan):
                dim = axis - d
                xh = torch.fft.fft(xh, dim=dim).index_select(dim, bins)
            # Nyquist merge: the bin shared by +n/2 and -n/2 gets the mean of their weights
            for axis, (bins, merge) in enumerate(plan):
                if merge is not None:
                    dim = w.ndim - d + axis
                    count = torch.zeros(len(bins), device=x.device, dtype=real).index_add_(
                        0, merge, torch.ones(len(merge), device=x.device, dtype=real))
                    w = torch.zeros(*w.shape[:dim], len(bins), *w.shape[dim + 1:], dtype=w.dtype,
                                    device=w.device).index_add(dim, merge, w)
                    view = [1] * w.ndim
                    view[dim] = len(bins)
                    w = w / count.reshape(view)
            if self.factorization == "separable":
                yh = xh * w
            else:
                yh = torch.einsum("bi...,io...->bo...", xh, w)
            # inverse: scatter into each leading axis and transform back, then irfft (zero-pads)
            for axis in reversed(range(d - 1)):
                bins = plan[axis][0]
                dim = axis - d
                full = list(yh.shape)
                full[dim] = shape[axis]
                out = torch.zeros(full, dtype=yh.dtype, device=yh.device)
                out.index_copy_(yh.ndim + dim, bins, yh)
                yh = torch.fft.ifft(out, dim=dim)
            return torch.fft.irfft(yh, n=shape[-1], dim=-1)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, modes={self.modes}, "
                f"factorization={self.factorization!r}" + (f", rank={self.rank}" if
                                                          self.factorization == "cp" else ""))


__all__ = ["FACTORIZATIONS", "SpectralConv", "check_modes"]
