"""Boundary pieces: the flat or curved patches a domain's boundary is made of.

Each piece samples itself uniformly by arc length (2D) or area (3D) from uniform numbers, and
knows its unsigned distance and its outward normal at any point. Boundary sampling of a
composite domain draws from its primitives' pieces in proportion to their measure and keeps
the points that lie on the composite boundary, which stays uniform by arc length.
``sign = -1`` marks a piece of a subtracted shape: its normal then points into the primitive.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True)
class Piece:
    """Base: ``part`` names the boundary part (for conditions), ``sign`` orients its normal."""
    part: str
    sign: float = 1.0

    #: dimensions of the uniform numbers :meth:`at` takes
    params: int = 1

    def flipped(self) -> "Piece":
        return replace(self, sign=-self.sign)

    def renamed(self, part: str) -> "Piece":
        return replace(self, part=part)

    @property
    def measure(self) -> float:
        raise NotImplementedError

    def at(self, u: torch.Tensor) -> torch.Tensor:
        """Points at uniform numbers ``u`` (``(n, params)`` in [0, 1)), uniform in measure."""
        raise NotImplementedError

    def distance(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def normal(self, X: torch.Tensor) -> torch.Tensor:
        """Outward unit normal of the domain at (near) boundary points ``X``."""
        raise NotImplementedError


def _t(v, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(v, dtype=like.dtype, device=like.device)


@dataclass(frozen=True)
class Segment(Piece):
    """The straight edge from ``a`` to ``b``; outward normal on its right (counter-clockwise polygons)."""
    a: tuple = (0.0, 0.0)
    b: tuple = (1.0, 0.0)

    @property
    def measure(self):
        return math.dist(self.a, self.b)

    def at(self, u):
        a, b = _t(self.a, u), _t(self.b, u)
        return a + u[:, :1] * (b - a)

    def distance(self, X):
        a, b = _t(self.a, X), _t(self.b, X)
        d = b - a
        s = ((X - a) @ d / (d @ d)).clamp(0, 1)
        return (X - a - s[:, None] * d).norm(dim=1)

    def normal(self, X):
        d = _t(self.b, X) - _t(self.a, X)
        n = torch.stack([d[1], -d[0]]) / d.norm()
        return self.sign * n.expand(X.shape[0], 2)


@dataclass(frozen=True)
class Arc(Piece):
    """The circle of radius ``r`` about ``center``; outward normal radial (``sign=-1``: a hole);
    :class:`Sphere` is its 3D counterpart."""
    center: tuple = (0.0, 0.0)
    r: float = 1.0

    @property
    def measure(self):
        return 2 * math.pi * self.r

    def at(self, u):
        th = 2 * math.pi * u[:, 0]
        return _t(self.center, u) + self.r * torch.stack([th.cos(), th.sin()], 1)

    def distance(self, X):
        return ((X - _t(self.center, X)).norm(dim=1) - self.r).abs()

    def normal(self, X):
        d = X - _t(self.center, X)
        return self.sign * d / d.norm(dim=1, keepdim=True).clamp_min(1e-300)


@dataclass(frozen=True)
class Face(Piece):
    """The parallelogram ``origin + s e1 + t e2`` (s, t in [0, 1]); normal ``e1 × e2``."""
    origin: tuple = (0.0, 0.0, 0.0)
    e1: tuple = (1.0, 0.0, 0.0)
    e2: tuple = (0.0, 1.0, 0.0)
    params: int = 2

    def _n(self, like):
        n = torch.linalg.cross(_t(self.e1, like), _t(self.e2, like))
        return n / n.norm()

    @property
    def measure(self):
        e1, e2 = (torch.tensor(e, dtype=torch.float64, device="cpu") for e in (self.e1, self.e2))
        return float(torch.linalg.cross(e1, e2).norm())

    def at(self, u):
        return _t(self.origin, u) + u[:, :1] * _t(self.e1, u) + u[:, 1:2] * _t(self.e2, u)

    def distance(self, X):
        o, e1, e2 = _t(self.origin, X), _t(self.e1, X), _t(self.e2, X)  # axis-aligned rectangles
        s = ((X - o) @ e1 / (e1 @ e1)).clamp(0, 1)
        t = ((X - o) @ e2 / (e2 @ e2)).clamp(0, 1)
        return (X - o - s[:, None] * e1 - t[:, None] * e2).norm(dim=1)

    def normal(self, X):
        return self.sign * self._n(X).expand(X.shape[0], 3)


@dataclass(frozen=True)
class Sphere(Arc):
    center: tuple = (0.0, 0.0, 0.0)
    params: int = 2

    @property
    def measure(self):
        return 4 * math.pi * self.r ** 2

    def at(self, u):
        z = 1 - 2 * u[:, 0]  # Archimedes: uniform in z is uniform on the sphere
        ph = 2 * math.pi * u[:, 1]
        s = (1 - z ** 2).clamp_min(0).sqrt()
        return _t(self.center, u) + self.r * torch.stack([s * ph.cos(), s * ph.sin(), z], 1)


@dataclass(frozen=True)
class Mantle(Piece):
    """The side of the cylinder ``|(x, y) - center| = r``, ``z0 <= z <= z1``."""
    center: tuple = (0.0, 0.0)
    r: float = 1.0
    z0: float = 0.0
    z1: float = 1.0
    params: int = 2

    @property
    def measure(self):
        return 2 * math.pi * self.r * (self.z1 - self.z0)

    def at(self, u):
        th = 2 * math.pi * u[:, 0]
        c = _t(self.center, u)
        return torch.stack([c[0] + self.r * th.cos(), c[1] + self.r * th.sin(),
                            self.z0 + (self.z1 - self.z0) * u[:, 1]], 1)

    def distance(self, X):
        radial = (X[:, :2] - _t(self.center, X)).norm(dim=1) - self.r
        out = (X[:, 2] - self.z1).clamp_min(0) + (self.z0 - X[:, 2]).clamp_min(0)
        return torch.hypot(radial, out)

    def normal(self, X):
        d = X[:, :2] - _t(self.center, X)
        d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-300)
        return self.sign * torch.cat([d, torch.zeros_like(d[:, :1])], 1)


@dataclass(frozen=True)
class Cap(Piece):
    """The flat disk of radius ``r`` at height ``z`` about ``center``; normal ``±z`` (``up``)."""
    center: tuple = (0.0, 0.0)
    r: float = 1.0
    z: float = 0.0
    up: bool = True
    params: int = 2

    @property
    def measure(self):
        return math.pi * self.r ** 2

    def at(self, u):
        rho, th = self.r * u[:, 0].sqrt(), 2 * math.pi * u[:, 1]
        c = _t(self.center, u)
        return torch.stack([c[0] + rho * th.cos(), c[1] + rho * th.sin(), torch.full_like(rho, self.z)], 1)

    def distance(self, X):
        radial = ((X[:, :2] - _t(self.center, X)).norm(dim=1) - self.r).clamp_min(0)
        return torch.hypot(radial, X[:, 2] - self.z)

    def normal(self, X):
        n = torch.zeros_like(X)
        n[:, 2] = self.sign * (1.0 if self.up else -1.0)
        return n
