"""Attractor diagnostics: Lyapunov exponents, dimensions, and statistics for comparing trajectories.

A vector field here is any batched autonomous callable ``f(x) -> dx/dt`` on tensors ``(B, d)``
written with torch operations (so ``torch.func.jvp`` can differentiate it); integration uses
the lab's RK4 (:func:`lab.solvers.ode.rk4`) in the dtype and on the device of ``x0``.

* :func:`lyapunov_spectrum` — Benettin et al. (1980) / Shimada & Nagashima (1979): evolve ``k``
  tangent vectors with ``dQ/dt = J(x) Q`` alongside ``x``, re-orthonormalise by QR every few
  steps and average ``log |R_ii|`` (Gram–Schmidt, QR). ``k = 1`` is the classic largest-exponent algorithm.
* :func:`separation_exponent` — the largest exponent from two nearby trajectories (Benettin,
  Galgani & Strelcyn 1976): no Jacobian, so it serves any field, a learned one included.
* :func:`kaplan_yorke_dimension` — Kaplan & Yorke (1979).
* :func:`correlation_dimension` — Grassberger & Procaccia (1983), with an automatically chosen
  scaling region and a Theiler (1986) window against temporal correlation.
* :func:`rosenstein_exponent` — largest exponent from a time series, Rosenstein, Collins &
  De Luca (1993), after :func:`delay_embed` (Takens 1981).
* :func:`density_distance` and :func:`power_spectrum_distance` — Hellinger / KL distances of
  invariant densities and of normalised power spectra, the statistics by which a learned model
  of a chaotic system is judged once pointwise forecasts have decorrelated.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import jvp

from lab.solvers.ode import rk4

Field = Callable[[torch.Tensor], torch.Tensor]


def _batch(x0: torch.Tensor) -> torch.Tensor:
    x0 = torch.as_tensor(x0)
    if x0.ndim == 1:
        x0 = x0[None]
    if x0.ndim != 2 or not x0.is_floating_point():
        raise ValueError(f"x0 must be a float tensor (d,) or (B, d), got {x0.dtype} {tuple(x0.shape)}")
    return x0


def _positive_int(name: str, value: int, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _advance(rhs, x: torch.Tensor, dt: float, n_steps: int, chunk: int = 256) -> torch.Tensor:
    """``x`` after ``n_steps`` RK4 steps, integrated in chunks so memory stays ``O(chunk)``."""
    while n_steps > 0:
        m = min(chunk, n_steps)
        x = rk4(rhs, x, dt * torch.arange(m + 1, dtype=x.dtype, device=x.device))[-1]
        n_steps -= m
    return x


def sample_attractor(f: Field, x0: torch.Tensor, dt: float, n_samples: int, *, every: int = 1,
                     n_transient: int = 0) -> torch.Tensor:
    """States ``(n_samples, B, d)`` every ``every`` RK4 steps of size ``dt``, after a transient."""
    x = _batch(x0)
    every = _positive_int("every", every)
    n_samples = _positive_int("n_samples", n_samples)
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    rhs = lambda t, y: f(y)  # noqa: E731 - autonomous field in rk4's (t, y) form
    x = _advance(rhs, x, dt, n_transient)
    t = dt * torch.arange((n_samples - 1) * every + 1, dtype=x.dtype, device=x.device)
    return rk4(rhs, x, t)[::every] if n_samples > 1 else x[None]


def _tangent_rhs(f: Field, k: int):
    """``d/dt [x | Q] = [f(x) | J(x) Q]`` on the packed state ``(B, d, 1 + k)``; ``J Q`` by ``jvp``."""
    def rhs(t, y):
        B, d = y.shape[0], y.shape[1]
        x, Q = y[..., 0], y[..., 1:]
        x_rep = x[:, None, :].expand(B, k, d).reshape(B * k, d).contiguous()
        fx, JQ = jvp(f, (x_rep,), (Q.transpose(1, 2).reshape(B * k, d),))
        return torch.cat([fx.reshape(B, k, d)[:, :1], JQ.reshape(B, k, d)], 1).transpose(1, 2)
    return rhs


def _gram_schmidt(Q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Thin QR of ``(B, d, k)`` by modified Gram–Schmidt: ``(Q', |diag R|)``.

    For the few tangent vectors of a Lyapunov computation this is a handful of batched vector
    operations, far cheaper than a batched LAPACK QR of many tiny matrices.
    """
    cols, norms = [], []
    for j in range(Q.shape[-1]):
        v = Q[..., j]
        for q in cols:
            v = v - (q * v).sum(-1, keepdim=True) * q
        n = v.norm(dim=-1)
        cols.append(v / n[..., None])
        norms.append(n)
    return torch.stack(cols, -1), torch.stack(norms, -1)


def lyapunov_spectrum(f: Field, x0: torch.Tensor, dt: float, n_steps: int, *, k: int | None = None,
                      renorm_every: int = 10, n_transient: int = 0) -> torch.Tensor:
    """The ``k`` largest Lyapunov exponents ``(B, k)`` of ``dx/dt = f(x)`` from each of ``B`` starts.

    Tangent vectors start as the first ``k`` unit vectors; every ``renorm_every`` RK4 steps
    ``Q = Q' R`` (QR) and ``log |R_ii|`` is accumulated, so
    ``lambda_i = (1 / T) sum log |R_ii|`` over ``T = n_steps dt`` (after ``n_transient`` steps
    that let ``x`` reach the attractor and ``Q`` align, whose growth is discarded). The
    estimate's bias is ``O(1 / T)`` and its spread ``O(T^-1/2)``; averaging the batch
    reduces the latter. The sum of all ``d`` exponents equals the time average of
    ``tr J`` (volume contraction), a sharp check of the tangent dynamics.
    """
    x = _batch(x0)
    d = x.shape[1]
    k = d if k is None else _positive_int("k", k)
    if k > d:
        raise ValueError(f"k must be at most the state dimension {d}, got {k}")
    renorm_every = _positive_int("renorm_every", renorm_every)
    n_intervals = _positive_int("n_steps // renorm_every", n_steps // renorm_every)
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    rhs = _tangent_rhs(f, k)
    t = dt * torch.arange(renorm_every + 1, dtype=x.dtype, device=x.device)
    Q = torch.eye(d, k, dtype=x.dtype, device=x.device).expand(x.shape[0], d, k)
    log_growth = torch.zeros(x.shape[0], k, dtype=x.dtype, device=x.device)
    n_skip = n_transient // renorm_every
    for i in range(n_skip + n_intervals):
        y = rk4(rhs, torch.cat([x[..., None], Q], -1), t)[-1]
        x = y[..., 0]
        Q, r_diag = _gram_schmidt(y[..., 1:])
        if i >= n_skip:
            log_growth += r_diag.log()
    return log_growth / (n_intervals * renorm_every * dt)


def largest_lyapunov(f: Field, x0: torch.Tensor, dt: float, n_steps: int, *,
                     renorm_every: int = 10, n_transient: int = 0) -> torch.Tensor:
    """Largest exponent ``(B,)`` by Benettin's single-vector method (``k = 1`` above)."""
    return lyapunov_spectrum(f, x0, dt, n_steps, k=1, renorm_every=renorm_every,
                             n_transient=n_transient)[:, 0]


def separation_exponent(f: Field, x0: torch.Tensor, dt: float, n_steps: int, *, renorm_every: int = 10,
                        n_transient: int = 0, d0: float = 1e-8) -> torch.Tensor:
    """Largest Lyapunov exponent ``(B,)`` by the two-trajectory method (Benettin, Galgani &
    Strelcyn 1976).

    A companion state starts ``d0`` away from each ``x0`` (along ``(1, ..., 1) / sqrt(d)``);
    both are advanced by RK4 and every ``renorm_every`` steps the separation ``d`` is logged
    as ``log(d / d0)`` and rescaled back to ``d0`` along its current direction, so
    ``lambda_1 = sum log(d / d0) / (n_steps dt)``. For ``d0`` small enough to stay in the
    linear regime this is Benettin's tangent method with a finite-difference tangent, at the
    cost of plain integration (no Jacobian): the tracker of a learned field during training,
    where :func:`largest_lyapunov`'s ``jvp`` per stage costs some fifty times more on a CPU.
    Runs in ``x0``'s dtype: use float64.
    """
    x = x0.reshape(-1, x0.shape[-1])
    B, d = x.shape
    rhs = lambda t, y: f(y)  # noqa: E731 - autonomous field in rk4's (t, y) form
    t = dt * torch.arange(renorm_every + 1, dtype=x.dtype, device=x.device)
    y = torch.cat([x, x + d0 / math.sqrt(d)])
    total = torch.zeros(B, dtype=x.dtype, device=x.device)
    n_skip, n_keep = n_transient // renorm_every, max(n_steps // renorm_every, 1)
    for i in range(n_skip + n_keep):
        y = rk4(rhs, y, t)[-1]
        sep = y[B:] - y[:B]
        dist = sep.norm(dim=-1)
        if i >= n_skip:
            total += (dist / d0).log()
        y = torch.cat([y[:B], y[:B] + sep * (d0 / dist)[:, None]])
    return total / (n_keep * renorm_every * dt)


#: published Lyapunov spectra at a flow's standard parameters, to compare an estimate with:
#: Lorenz-63 at sigma=10, rho=28, beta=8/3 (Sprott, *Chaos and Time-Series Analysis*, 2003)
REFERENCE_SPECTRA = {"lorenz63": ({"sigma": 10.0, "rho": 28.0, "beta": 8 / 3},
                                  (0.9056, 0.0, -14.5723))}


def reference_spectrum(key: str, params: dict) -> tuple[float, ...] | None:
    """The published spectrum of problem ``key`` if ``params`` are those it was published at."""
    if key not in REFERENCE_SPECTRA:
        return None
    at, spectrum = REFERENCE_SPECTRA[key]
    same = all(math.isclose(float(params.get(k, math.nan)), v, rel_tol=1e-9) for k, v in at.items())
    return spectrum if same else None


@dataclass
class SpectrumEstimate:
    """Lyapunov exponents averaged over independent starts, with a confidence interval."""

    exponents: torch.Tensor   # (k,) mean over the starts
    half_width: torch.Tensor  # (k,) half width of the interval of the mean
    per_start: torch.Tensor   # (B, k)
    confidence: float


def lyapunov_estimate(f: Field, x0: torch.Tensor, dt: float, n_steps: int, *, n_starts: int = 8,
                      spacing: float = 2.0, n_transient: int = 0,
                      confidence: float = 0.95) -> SpectrumEstimate:
    """The spectrum from ``n_starts`` points of the attractor ``spacing`` time units apart (after
    ``n_transient`` steps from ``x0``, a single state), each followed for ``n_steps`` steps, and
    a Student-t interval of their mean.

    Finite-time exponents fluctuate as ``O(T^-1/2)`` (Lorenz-63 at ``T = 20``: several tenths), so
    one trajectory's value says little without its spread; the interval covers that spread,
    not the ``O(1/T)`` bias of a finite average.
    """
    from scipy.stats import t as student_t

    n_starts = _positive_int("n_starts", n_starts, minimum=2)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    every = max(1, int(round(spacing / dt)))
    starts = sample_attractor(f, x0, dt, n_starts, every=every, n_transient=n_transient)[:, 0]
    lam = lyapunov_spectrum(f, starts, dt, n_steps, n_transient=every)
    q = float(student_t.ppf(0.5 + confidence / 2, n_starts - 1))
    half = q * lam.std(0) / math.sqrt(n_starts)
    return SpectrumEstimate(lam.mean(0), half, lam, confidence)


def kaplan_yorke_dimension(exponents) -> float:
    """``D_KY = j + (lambda_1 + ... + lambda_j) / |lambda_{j+1}|``, ``j`` the largest index with a
    non-negative partial sum (exponents sorted descending; ``d`` if every partial sum is >= 0)."""
    lam = torch.sort(torch.as_tensor(exponents, dtype=torch.float64).reshape(-1), descending=True).values
    partial = torch.cumsum(lam, 0)
    j = int((partial >= 0).sum())
    if j == lam.numel():
        return float(j)
    if j == 0:
        return 0.0
    return j + float(partial[j - 1] / lam[j].abs())


def _pair_distances(x: torch.Tensor, theiler: int, chunk: int = 2048) -> torch.Tensor:
    """All ``|x_i - x_j|`` with ``j - i > theiler`` (chunked ``cdist``), as one flat tensor."""
    n = x.shape[0]
    idx = torch.arange(n, device=x.device)
    out = []
    for s in range(0, n, chunk):
        rows = torch.cdist(x[s:s + chunk], x)
        keep = idx[None, :] - idx[s:s + chunk, None] > theiler
        out.append(rows[keep])
    return torch.cat(out)


@dataclass
class CorrelationDimension:
    """Grassberger–Procaccia estimate and the curve it was fitted on."""

    dimension: float
    #: radii bounding the chosen scaling region
    r_range: tuple[float, float]
    log_r: torch.Tensor
    log_c: torch.Tensor


def correlation_dimension(points: torch.Tensor, *, theiler: int = 0, n_radii: int = 40,
                          c_range: tuple[float, float] = (1e-4, 1e-1),
                          fit_decades: float = 1.0) -> CorrelationDimension:
    """Correlation dimension ``D_2 = d log C(r) / d log r`` of a sampled attractor ``(N, d)``.

    ``C(r)`` is the fraction of point pairs (``|i - j| > theiler`` in sample order) closer than
    ``r``, evaluated on ``n_radii`` log-spaced radii between the distances at which
    ``C = c_range``. The scaling region is the window spanning ``fit_decades`` decades of ``r``
    over which a straight line fits ``log C`` best (least RMS residual): below it the count is
    starved of pairs, above it the attractor's finite size bends ``C`` over. ``D_2`` is that
    line's slope. Memory grows as ``N^2``; a few thousand points suffice.
    """
    x = torch.as_tensor(points)
    if x.ndim != 2:
        raise ValueError(f"points must be (N, d), got shape {tuple(x.shape)}")
    lo, hi = c_range
    if not 0 < lo < hi < 1:
        raise ValueError(f"c_range must satisfy 0 < c_range[0] < c_range[1] < 1, got {c_range}")
    if theiler < 0:
        raise ValueError(f"theiler must be >= 0, got {theiler}")
    dist = torch.sort(_pair_distances(x, int(theiler))).values
    n_pairs = dist.numel()
    if n_pairs * lo < 10:
        raise ValueError(f"{n_pairs} pairs are too few to resolve C = {lo}; use more points or a "
                         f"larger c_range[0]")
    r_lo, r_hi = dist[int(lo * n_pairs)], dist[int(hi * n_pairs)]
    if not r_lo > 0:
        raise ValueError("points repeat exactly at the smallest scales; drop duplicate samples")
    log_r = torch.linspace(float(r_lo.log()), float(r_hi.log()), n_radii,
                           dtype=torch.float64, device=x.device)
    counts = torch.searchsorted(dist.to(torch.float64), log_r.exp())
    log_c = (counts.to(torch.float64) / n_pairs).log()
    step = float(log_r[1] - log_r[0])
    width = int(round(fit_decades * math.log(10) / step)) + 1
    if not 3 <= width <= n_radii:
        raise ValueError(f"fit_decades={fit_decades} spans {width} radii; need 3..{n_radii} "
                         f"(c_range covers {float(log_r[-1] - log_r[0]) / math.log(10):.2f} decades)")
    best = None
    for s in range(n_radii - width + 1):
        xr, yc = log_r[s:s + width], log_c[s:s + width]
        A = torch.stack([xr, torch.ones_like(xr)], 1)
        coef = torch.linalg.lstsq(A, yc[:, None]).solution[:, 0]
        rms = float((A @ coef - yc).square().mean().sqrt())
        if best is None or rms < best[0]:
            best = (rms, float(coef[0]), s)
    _, slope, s = best
    return CorrelationDimension(slope, (float(log_r[s].exp()), float(log_r[s + width - 1].exp())),
                                log_r, log_c)


def delay_embed(x: torch.Tensor, dim: int, lag: int) -> torch.Tensor:
    """Takens delay vectors ``[x(t), x(t + lag), ..., x(t + (dim - 1) lag)]``.

    ``x``: ``(N,)`` or ``(N, c)``; returns ``(N - (dim - 1) lag, dim * c)`` (delays of a channel
    adjacent).
    """
    x = torch.as_tensor(x)
    x = x[:, None] if x.ndim == 1 else x
    dim, lag = _positive_int("dim", dim), _positive_int("lag", lag)
    n = x.shape[0] - (dim - 1) * lag
    if x.ndim != 2 or n < 1:
        raise ValueError(f"x of shape {tuple(x.shape)} is too short for dim={dim}, lag={lag}")
    return torch.stack([x[i * lag:i * lag + n] for i in range(dim)], -1).reshape(n, -1)


@dataclass
class RosensteinResult:
    """Largest exponent and the mean log-divergence curve it was fitted on."""

    exponent: float
    times: torch.Tensor
    mean_log_divergence: torch.Tensor


def rosenstein_exponent(x: torch.Tensor, dt: float, *, theiler: int, horizon: int,
                        fit: tuple[int, int], chunk: int = 2048) -> RosensteinResult:
    """Largest Lyapunov exponent of a (delay-embedded) series ``x`` ``(N, m)`` sampled every ``dt``.

    Each point's nearest neighbour at least ``theiler`` samples away is followed for ``horizon``
    steps; ``y(s) = < log |x_{i+s} - x_{nn(i)+s}| >_i`` grows like ``lambda_1 s dt`` until it
    saturates at the attractor size. ``lambda_1`` is the least-squares slope of ``y`` over the
    steps ``fit = (s0, s1)`` (inclusive), which should lie in that linear stretch: take
    ``theiler`` around one mean orbital period.
    """
    x = torch.as_tensor(x)
    x = x[:, None] if x.ndim == 1 else x
    horizon = _positive_int("horizon", horizon)
    if theiler < 0:
        raise ValueError(f"theiler must be >= 0, got {theiler}")
    s0, s1 = fit
    if not 0 <= s0 < s1 <= horizon:
        raise ValueError(f"fit must satisfy 0 <= fit[0] < fit[1] <= horizon={horizon}, got {fit}")
    n = x.shape[0] - horizon
    if n <= 2 * theiler + 1:
        raise ValueError(f"series of length {x.shape[0]} is too short for horizon={horizon} "
                         f"and theiler={theiler}")
    base = x[:n]
    idx = torch.arange(n, device=x.device)
    nn_idx = torch.empty(n, dtype=torch.long, device=x.device)
    for s in range(0, n, chunk):
        d = torch.cdist(base[s:s + chunk], base)
        d[(idx[None, :] - idx[s:s + chunk, None]).abs() <= theiler] = float("inf")
        nn_idx[s:s + chunk] = d.argmin(1)
    steps = torch.arange(horizon + 1, device=x.device)
    sep = (x[idx[:, None] + steps] - x[nn_idx[:, None] + steps]).norm(dim=-1)  # (n, horizon+1)
    logs = torch.where(sep > 0, sep, torch.full_like(sep, float("nan"))).log()
    y = logs.nanmean(0).to(torch.float64)
    times = steps.to(torch.float64) * dt
    tt, yy = times[s0:s1 + 1], y[s0:s1 + 1]
    slope = float(((tt - tt.mean()) * (yy - yy.mean())).sum() / (tt - tt.mean()).square().sum())
    return RosensteinResult(slope, times, y)


def _histogram(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bins: int) -> torch.Tensor:
    """Normalised ``bins^d`` histogram of ``(N, d)`` samples on the box ``[lo, hi]`` (any device)."""
    cell = ((x - lo) / (hi - lo) * bins).floor().long().clamp_(0, bins - 1)
    flat = (cell * (bins ** torch.arange(x.shape[1] - 1, -1, -1, device=x.device))).sum(1)
    counts = torch.bincount(flat, minlength=bins ** x.shape[1]).to(torch.float64)
    return counts / counts.sum()


def _distance(p: torch.Tensor, q: torch.Tensor, metric: str, pseudocount: float) -> float:
    if metric == "hellinger":  # sqrt(1 - sum sqrt(p q)), in [0, 1]
        return float((1 - (p * q).sqrt().sum()).clamp(min=0).sqrt())
    if metric == "kl":  # KL(p || q) after additive smoothing so empty bins of q stay finite
        p = (p + pseudocount) / (1 + pseudocount * p.numel())
        q = (q + pseudocount) / (1 + pseudocount * q.numel())
        return float((p * (p / q).log()).sum())
    raise ValueError(f"metric must be 'hellinger' or 'kl', got {metric!r}")


def density_distance(a: torch.Tensor, b: torch.Tensor, *, bins: int = 32,
                     bounds: tuple | None = None, metric: str = "hellinger",
                     pseudocount: float = 1e-10) -> float:
    """Distance between the invariant densities of two sample sets ``(N, d)`` and ``(M, d)``.

    Both are histogrammed on one box (``bounds = (lo, hi)`` per dimension, default: the
    joint min/max) with ``bins`` cells per axis; ``"hellinger"`` gives
    ``H = sqrt(1 - sum_i sqrt(p_i q_i))`` (0 = identical, 1 = disjoint supports), ``"kl"`` gives
    ``KL(p || q)`` with ``pseudocount`` added to every cell.
    """
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    a, b = (a[:, None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must be (N, d) with one d, got {tuple(a.shape)} and {tuple(b.shape)}")
    bins = _positive_int("bins", bins, 2)
    if bins ** a.shape[1] > 10 ** 7:
        raise ValueError(f"bins={bins} in {a.shape[1]} dimensions makes {bins ** a.shape[1]} cells "
                         f"(limit 1e7); lower bins")
    b = b.to(a)
    if bounds is None:
        lo = torch.minimum(a.min(0).values, b.min(0).values)
        hi = torch.maximum(a.max(0).values, b.max(0).values)
    else:
        lo, hi = (torch.as_tensor(v, dtype=a.dtype, device=a.device).reshape(-1) for v in bounds)
    if not bool((hi > lo).all()):
        raise ValueError("every dimension needs bounds hi > lo (the samples do not spread along one)")
    return _distance(_histogram(a, lo, hi, bins), _histogram(b, lo, hi, bins), metric, pseudocount)


def power_spectrum(x: torch.Tensor, dt: float, *, segment: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Welch estimate ``(f, P)`` of a series ``(N,)`` or ``(N, c)`` summed over channels.

    Hann-windowed segments of ``segment`` samples with 50 % overlap, each mean-removed;
    ``f`` in cycles per unit time (``segment // 2 + 1`` frequencies). Welch (1967).
    """
    x = torch.as_tensor(x)
    x = x[:, None] if x.ndim == 1 else x
    segment = _positive_int("segment", segment, 4)
    if x.shape[0] < segment:
        raise ValueError(f"series of length {x.shape[0]} is shorter than segment={segment}")
    seg = x.unfold(0, segment, segment // 2)  # (n_seg, c, segment)
    seg = seg - seg.mean(-1, keepdim=True)
    window = torch.hann_window(segment, periodic=False, dtype=x.dtype, device=x.device)
    P = torch.fft.rfft(seg * window, dim=-1).abs().square().mean(0).sum(0)
    return torch.fft.rfftfreq(segment, d=dt, dtype=x.dtype, device=x.device), P


def power_spectrum_distance(a: torch.Tensor, b: torch.Tensor, dt: float, *, segment: int = 256,
                            metric: str = "hellinger", pseudocount: float = 1e-10) -> float:
    """Distance between the normalised Welch power spectra of two series sampled every ``dt``."""
    _, pa = power_spectrum(a, dt, segment=segment)
    _, pb = power_spectrum(torch.as_tensor(b).to(torch.as_tensor(a)), dt, segment=segment)
    pa, pb = pa.to(torch.float64), pb.to(torch.float64)
    return _distance(pa / pa.sum(), pb / pb.sum(), metric, pseudocount)
