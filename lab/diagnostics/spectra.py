"""Shell-averaged energy spectra of periodic fields, and errors per wavenumber band.

For a real field ``u`` on an ``n_1 x ... x n_d`` periodic grid with Fourier coefficients
``u_hat = rfftn(u) / N`` (``N = n_1 ... n_d``), Parseval's theorem reads

    0.5 <|u|^2> = sum_k 0.5 |u_hat(k)|^2,

the sum running over the *full* spectrum. The ``rfftn`` half spectrum stores each mode of the
last axis with ``0 < m < n/2`` once for itself and once for its complex conjugate, so those
modes carry weight 2 and the ``m = 0`` and (even ``n``) Nyquist planes weight 1. Summing the
weighted modal energies into shells ``|k| in [(j - 1/2) dk, (j + 1/2) dk)`` with
``dk = min_i 2 pi / L_i`` gives the shell spectrum ``E(k_j)`` with

    sum_j E(k_j) = 0.5 <|u|^2>                                   (exact, to round-off)

(the corners of the box beyond the Nyquist sphere are kept in outer shells so that this holds).
``E`` is a sum per shell, i.e. a density in ``k`` times ``dk``; in a ``2 pi`` box ``dk = 1`` and
the two agree. Wavenumbers come from :mod:`lab.solvers.spectral`, the lab's one FFT convention.
See Pope, *Turbulent Flows* (2000), sec. 6.5.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from lab.solvers.spectral import wavenumber_grid

BANDS = ("low", "mid", "high")


def _as_field(u, ndim: int, vector: bool, name: str = "u") -> torch.Tensor:
    u = torch.as_tensor(u)
    if ndim not in (1, 2, 3):
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim}")
    if not u.is_floating_point():
        raise ValueError(f"{name} must be a real floating-point field, got dtype {u.dtype}")
    need = ndim + int(vector)
    if u.ndim < need:
        layout = "(..., C, " if vector else "(..., "
        layout += ", ".join(f"n{i + 1}" for i in range(ndim)) + ")"
        kind = "vector" if vector else "scalar"
        raise ValueError(f"a {ndim}D {kind} spectrum needs {name} laid out {layout} with at least "
                         f"{need} axes, got shape {tuple(u.shape)}")
    if min(u.shape[-ndim:]) < 2:
        raise ValueError(f"every spatial axis of {name} needs at least 2 points, "
                         f"got spatial shape {tuple(u.shape[-ndim:])}")
    return u


def _lengths(lengths, ndim: int) -> tuple[float, ...]:
    if isinstance(lengths, (int, float)):
        lengths = (float(lengths),) * ndim
    lengths = tuple(float(x) for x in lengths)
    if len(lengths) != ndim:
        raise ValueError(f"lengths has {len(lengths)} entries but the spectrum is {ndim}D")
    if min(lengths) <= 0:
        raise ValueError(f"lengths must be positive, got {lengths}")
    return lengths


def modal_energy(u, ndim: int, lengths: Sequence[float] | float = 2 * math.pi, *,
                 vector: bool = False) -> torch.Tensor:
    """Weighted modal energy ``0.5 w |u_hat|^2`` in the ``rfftn`` layout, summed over components.

    ``u`` is ``(*batch, n_1, ..., n_d)`` (scalar) or ``(*batch, C, n_1, ..., n_d)`` (``vector``);
    ``w`` is 2 for last-axis modes with a conjugate partner outside the half spectrum, 1
    otherwise. The result sums to ``0.5 <|u|^2>`` over the spectral axes.
    """
    u = _as_field(u, ndim, vector)
    _lengths(lengths, ndim)
    shape = u.shape[-ndim:]
    dims = tuple(range(-ndim, 0))
    u_hat = torch.fft.rfftn(u, dim=dims)
    n_last = shape[-1]
    w = torch.full((n_last // 2 + 1,), 2.0, dtype=u.dtype, device=u.device)
    w[0] = 1.0
    if n_last % 2 == 0:
        w[-1] = 1.0
    e = 0.5 * w * u_hat.abs().square() / float(math.prod(shape)) ** 2
    return e.sum(dim=-ndim - 1) if vector else e


def _shell_index(shape: Sequence[int], lengths: tuple[float, ...], device, dtype):
    ks = wavenumber_grid(shape, lengths, device=device, dtype=dtype)
    kmag = torch.sqrt(sum(k.square() for k in ks))
    dk = min(2 * math.pi / length for length in lengths)
    idx = torch.round(kmag / dk).long().reshape(-1)
    n_shells = int(idx.max()) + 1
    k_shells = dk * torch.arange(n_shells, device=device, dtype=dtype)
    return idx, k_shells


def energy_spectrum(u, ndim: int, lengths: Sequence[float] | float = 2 * math.pi, *,
                    vector: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Shell-summed kinetic energy spectrum ``(k, E)`` of a periodic field.

    ``u``: ``(*batch, n_1, ..., n_d)`` for a scalar, ``(*batch, C, n_1, ..., n_d)`` for a vector
    field (``vector=True``; ``E`` sums the components). Returns the shell wavenumbers
    ``k_j = j dk`` (``(n_shells,)``) and ``E`` of shape ``(*batch, n_shells)`` with
    ``E.sum(-1) == 0.5 <|u|^2>`` to round-off. Runs on the field's device and dtype.
    """
    lengths = _lengths(lengths, ndim)
    e = modal_energy(u, ndim, lengths, vector=vector)
    idx, k = _shell_index(torch.as_tensor(u).shape[-ndim:], lengths, e.device, e.dtype)
    batch = e.shape[:-ndim]
    E = torch.zeros(*batch, k.numel(), dtype=e.dtype, device=e.device)
    E.index_add_(-1, idx, e.reshape(*batch, -1))
    return k, E


def dissipation_spectrum(k: torch.Tensor, E: torch.Tensor, nu: float) -> torch.Tensor:
    """``D(k) = 2 nu k^2 E(k)``; its sum is the dissipation rate ``nu <|grad u|^2>`` (Pope eq. 6.191)."""
    if not nu > 0:
        raise ValueError(f"nu must be positive, got {nu}")
    if E.shape[-1] != k.shape[-1]:
        raise ValueError(f"E has {E.shape[-1]} shells but k has {k.shape[-1]}")
    return 2 * nu * k.square() * E


def band_errors(pred, ref, ndim: int, edges: tuple[float, float],
                lengths: Sequence[float] | float = 2 * math.pi, *, vector: bool = False,
                relative_to: str = "band") -> dict[str, torch.Tensor]:
    """Relative error of ``pred`` against ``ref`` in low / mid / high wavenumber bands.

    With shell spectra ``E_err`` of ``pred - ref`` and ``E_ref`` of ``ref``, band ``b`` gives
    ``sqrt(sum_{k in b} E_err / sum_{k in b} E_ref)`` (``relative_to="band"``: how wrong the
    prediction is *at those scales*; meaningless where the reference holds only round-off
    energy in the band, use ``"total"`` there) or ``sqrt(sum_{k in b} E_err / sum_k E_ref)`` (``relative_to="total"``:
    the bands' squares add up to the squared relative L2 error). Bands are
    ``low: k < edges[0]``, ``mid: edges[0] <= k < edges[1]``, ``high: k >= edges[1]`` on the
    shell wavenumbers. Returns ``{"low", "mid", "high"} -> (*batch,)`` tensors.
    """
    pred, ref = torch.as_tensor(pred), torch.as_tensor(ref)
    if pred.shape != ref.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} != ref shape {tuple(ref.shape)}")
    if relative_to not in ("band", "total"):
        raise ValueError(f"relative_to must be 'band' or 'total', got {relative_to!r}")
    lo, hi = (float(e) for e in edges)
    if not 0 < lo < hi:
        raise ValueError(f"edges must satisfy 0 < edges[0] < edges[1], got {tuple(edges)}")
    ref = ref.to(pred)
    k, E_err = energy_spectrum(pred - ref, ndim, lengths, vector=vector)
    _, E_ref = energy_spectrum(ref, ndim, lengths, vector=vector)
    masks = {"low": k < lo, "mid": (k >= lo) & (k < hi), "high": k >= hi}
    total = E_ref.sum(-1)
    out = {}
    for band in BANDS:
        err = (E_err * masks[band]).sum(-1)
        denom = (E_ref * masks[band]).sum(-1) if relative_to == "band" else total
        out[band] = torch.where(err == 0, torch.zeros_like(err), err / denom).sqrt()
    return out


def power_law_guide(k: torch.Tensor, E: torch.Tensor, anchor: float, slope: float = -5 / 3
                    ) -> torch.Tensor:
    """Guide line ``C k^slope`` through ``E`` at the shell nearest ``anchor`` (Kolmogorov: -5/3).

    ``C`` is per batch entry of ``E`` (``(*batch, n_shells)``); shells with ``k <= 0`` get NaN
    (a power law has no value there).
    """
    if not anchor > 0:
        raise ValueError(f"anchor must be a positive wavenumber, got {anchor}")
    if E.shape[-1] != k.shape[-1]:
        raise ValueError(f"E has {E.shape[-1]} shells but k has {k.shape[-1]}")
    j = int(torch.argmin((k - anchor).abs()))
    if not k[j] > 0:
        raise ValueError(f"anchor {anchor} falls in the k = 0 shell; pick a larger wavenumber")
    line = E[..., j:j + 1] * (k / k[j]).pow(slope)
    return torch.where(k > 0, line, torch.full_like(line, float("nan")))
