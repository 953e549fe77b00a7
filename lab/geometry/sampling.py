"""Points in and on a :class:`~lab.geometry.shapes.Geometry`.

Interior points come by rejection from the bounding box (uniform in the domain); boundary
points uniformly by arc length (area in 3D) over the primitives' pieces, keeping those on the
composite's boundary; each with its outward normal and boundary part. Randomness is a
``torch.Generator`` passed in, drawn in float64 on the CPU, as :mod:`lab.sampling` does (also
under a ``torch.device("meta")`` default, where a model is built to check its memory).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lab.geometry.shapes import Geometry

CPU = torch.device("cpu")
#: fewer accepted candidates than this fraction of those drawn: the domain is too small to sample
MIN_FILL = 1e-4


@dataclass(frozen=True)
class BoundaryPoints:
    points: torch.Tensor    # (n, d)
    normals: torch.Tensor   # (n, d), unit, outward
    parts: torch.Tensor     # (n,) index into ``geometry.parts``


def _need(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"number of points must be an integer >= 1, got {n!r}")


def sample_interior(geometry: Geometry, n: int, generator: torch.Generator, *, device=None,
                    dtype=torch.float32) -> torch.Tensor:
    """``n`` points uniform in the domain; a domain filling less than ``MIN_FILL`` of its box
    (empty, or thinner than the candidates resolve) raises ``ValueError``."""
    _need(n)
    lo, hi = (torch.tensor(c, dtype=torch.float64, device=CPU) for c in geometry.bbox())
    kept, drawn, accepted = [], 0, 0
    while accepted < n:
        m = max(2 * (n - accepted), 1024)
        cand = lo + (hi - lo) * torch.rand(m, geometry.dim, generator=generator, dtype=torch.float64, device=CPU)
        cand = cand[geometry.sdf(cand) < 0]
        drawn, accepted = drawn + m, accepted + len(cand)
        kept.append(cand)
        if drawn >= 1024 / MIN_FILL * 0.01 and accepted < MIN_FILL * drawn:
            raise ValueError(f"the domain fills {accepted / drawn:.2g} of its bounding box "
                             f"(under {MIN_FILL:g}): it is empty or smaller than the sampling "
                             "resolution; enlarge it or check its construction")
    return torch.cat(kept)[:n].to(device=device, dtype=dtype)


def sample_boundary(geometry: Geometry, n: int, generator: torch.Generator, *, device=None,
                    dtype=torch.float32) -> BoundaryPoints:
    """``n`` points uniform by arc length (area) on the boundary, with normals and parts."""
    _need(n)
    pieces = geometry.pieces()
    weights = torch.tensor([p.measure for p in pieces], dtype=torch.float64, device=CPU)
    names = geometry.parts
    pts, nrm, prt, got, drawn = [], [], [], 0, 0
    while got < n:
        m = max(2 * (n - got), 256)
        which = torch.multinomial(weights, m, replacement=True, generator=generator)
        u = torch.rand(m, 2, generator=generator, dtype=torch.float64, device=CPU)
        for i, piece in enumerate(pieces):
            sel = which == i
            if not bool(sel.any()):
                continue
            X = piece.at(u[sel, :piece.params])
            X = X[geometry.on_boundary(i, X)]
            pts.append(X)
            nrm.append(piece.normal(X))
            prt.append(torch.full((len(X),), names.index(piece.part), device=CPU))
            got += len(X)
        drawn += m
        if drawn > 1000 * n and got < n:
            raise ValueError("the domain's boundary could not be sampled: its pieces lie almost "
                             "entirely inside other shapes")
    perm = torch.randperm(got, generator=generator, device=CPU)[:n]  # mixed pieces, exactly n
    cat = lambda xs: torch.cat(xs)[perm]  # noqa: E731
    return BoundaryPoints(cat(pts).to(device=device, dtype=dtype), cat(nrm).to(device=device, dtype=dtype),
                          cat(prt).to(device=device))


def classify(geometry: Geometry, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Outward normal and part index at boundary points ``X``: those of the nearest piece."""
    pieces = geometry.pieces()
    Xd = X.detach().double()
    dist = torch.stack([torch.where(geometry.on_boundary(i, Xd), p.distance(Xd), torch.inf)
                        for i, p in enumerate(pieces)], 1)
    best = dist.argmin(1)
    normals = torch.zeros_like(Xd)
    parts = torch.zeros(len(X), dtype=torch.long, device=X.device)
    names = geometry.parts
    for i, p in enumerate(pieces):
        sel = best == i
        if bool(sel.any()):
            normals[sel] = p.normal(Xd[sel])
            parts[sel] = names.index(p.part)
    return normals.to(X.dtype), parts


def inside_grid(geometry: Geometry, grid: dict[str, np.ndarray], tol: float = 1e-12) -> np.ndarray:
    """Boolean mask of the tensor-product ``grid``'s points in the closed domain."""
    mesh = np.meshgrid(*(grid[a] for a in geometry.axes), indexing="ij")
    X = torch.as_tensor(np.stack([m.ravel() for m in mesh], 1), dtype=torch.float64, device=CPU)
    lo, hi = geometry.bbox()
    scale = max(h - l for l, h in zip(lo, hi))
    return (geometry.sdf(X) <= tol * scale).numpy().reshape(mesh[0].shape)


def monte_carlo_measure(geometry: Geometry, n: int, generator: torch.Generator) -> float:
    """Area (volume) by the fraction of ``n`` uniform box points inside: error ~ 1/sqrt(n)."""
    _need(n)
    lo, hi = (torch.tensor(c, dtype=torch.float64, device=CPU) for c in geometry.bbox())
    X = lo + (hi - lo) * torch.rand(n, geometry.dim, generator=generator, dtype=torch.float64, device=CPU)
    return float((geometry.sdf(X) < 0).double().mean() * (hi - lo).prod())
