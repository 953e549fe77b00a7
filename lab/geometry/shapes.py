"""Domains as signed distance functions with constructive geometry.

A :class:`Geometry` knows

* ``sdf(X)``: a signed distance (negative inside, ``|∇sdf| <= 1``) — exact for primitives,
  a bound for composites (``min``/``max`` of exact ones), which is all the sign tests need;
* ``phi(X)``: a *smooth* distance-like function, positive inside, zero on the boundary and
  of unit normal slope there (Rvachev's R-functions over smooth primitive distances, as in
  Sukumar & Srivastava, CMAME 389, 2022): what a hard constraint ``u = g + phi N`` multiplies,
  since ``sdf`` has kinks on the medial axis that a PDE residual's second derivatives see;
* its boundary ``pieces()`` (segments, arcs, faces, ...) with named parts and outward normals.

Shapes combine with ``a | b`` (union), ``a & b`` (intersection) and ``a - b`` (difference).
Boundaries that coincide along a stretch (two rectangles sharing an edge) are not resolved:
build such a domain as one :class:`Polygon`. Invalid or degenerate input (non-positive sizes,
self-intersecting polygons, empty intersections, domains thinner than the check resolution)
raises ``ValueError`` naming the argument.
"""
from __future__ import annotations

import itertools
import math
import numbers

import torch

from lab.geometry.pieces import Arc, Cap, Face, Mantle, Piece, Segment, Sphere

#: grid points per axis on which composites are checked to be non-empty (2D, 3D)
CHECK_RESOLUTION = {2: 512, 3: 64}


def _vector(name: str, v, dim: int) -> tuple[float, ...]:
    if not (isinstance(v, (tuple, list)) and len(v) == dim
            and all(isinstance(c, numbers.Real) and math.isfinite(c) for c in v)):
        raise ValueError(f"{name} must be {dim} finite numbers, got {v!r}")
    return tuple(float(c) for c in v)


def _positive(name: str, v) -> float:
    if not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return float(v)


def _part(name: str, v) -> str:
    if not (isinstance(v, str) and v):
        raise ValueError(f"{name} must be a non-empty name, got {v!r}")
    return v


def _parts(name: str, v, n: int) -> tuple[str, ...]:
    if isinstance(v, str):
        return (_part(name, v),) * n
    if not (isinstance(v, (tuple, list)) and len(v) == n):
        raise ValueError(f"{name} must be one name or {n} names, got {v!r}")
    return tuple(_part(name, p) for p in v)


def r_and(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R-conjunction (positive where both are): smooth except where ``a = b = 0``."""
    return a + b - torch.sqrt(a * a + b * b)


def r_or(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a + b + torch.sqrt(a * a + b * b)


class Geometry:
    """Base class of a domain in 2D or 3D; subclasses set ``dim`` and implement the hooks."""

    dim: int = 2

    @property
    def axes(self) -> tuple[str, ...]:
        return ("x", "y", "z")[: self.dim]

    def bbox(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Lower and upper corner of an axis-aligned box holding the domain."""
        raise NotImplementedError

    def sdf(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def phi(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def pieces(self) -> list[Piece]:
        """Boundary pieces of the primitives whose points :meth:`on_boundary` keeps."""
        raise NotImplementedError

    def on_boundary(self, piece: int, X: torch.Tensor) -> torch.Tensor:
        """Which points of ``pieces()[piece]`` lie on this domain's boundary (primitives: all)."""
        return torch.ones(X.shape[0], dtype=torch.bool, device=X.device)

    @property
    def parts(self) -> tuple[str, ...]:
        """Names of the boundary parts, in order of first appearance."""
        return tuple(dict.fromkeys(p.part for p in self.pieces()))

    # -- constructive geometry --
    def __or__(self, other: "Geometry") -> "Geometry":
        return Union(self, other)

    def __and__(self, other: "Geometry") -> "Geometry":
        return Intersection(self, other)

    def __sub__(self, other: "Geometry") -> "Geometry":
        return Difference(self, other)

    def renamed(self, mapping: dict[str, str]) -> "Geometry":
        """The same domain with boundary parts renamed (``{"old": "new"}``)."""
        return Renamed(self, mapping)

    # -- checks --
    def check_nonempty(self, what: str) -> None:
        """Refuse a domain with no point of a ``CHECK_RESOLUTION`` grid of its box inside.

        Every 7th node of that grid is tried first: a hit there is a hit of the grid, found
        at a fiftieth of the cost (a domain built per sample, e.g. a data set of shapes)."""
        lo, hi = self.bbox()
        if any(h <= l for l, h in zip(lo, hi)):
            raise ValueError(f"{what} is empty (its bounding box has no volume)")
        n = CHECK_RESOLUTION[self.dim]
        axes = [torch.linspace(l, h, n, dtype=torch.float64, device="cpu")[1:-1] for l, h in zip(lo, hi)]

        def hit(axes) -> bool:
            pts = torch.stack([g.ravel() for g in torch.meshgrid(*axes, indexing="ij")], 1)
            return bool((self.sdf(pts) < 0).any())

        if not hit([a[::7] for a in axes]) and not hit(axes):
            h = max(hh - ll for ll, hh in zip(lo, hi)) / (n - 1)
            raise ValueError(f"{what} is empty or thinner than the sampling resolution "
                             f"h = {h:.3g} (no point of a {n}^{self.dim} grid of its bounding box lies inside)")


class Primitive(Geometry):
    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Polygon(Primitive):
    """A simple polygon (vertices in either order; stored counter-clockwise).

    ``parts``: one name for all edges, or one per edge (edge ``i`` runs from vertex ``i`` to
    ``i + 1``). Self-intersecting or degenerate polygons are refused.
    """

    def __init__(self, vertices, parts="wall"):
        if not (isinstance(vertices, (tuple, list)) and len(vertices) >= 3):
            raise ValueError(f"vertices must be at least 3 points (x, y), got {vertices!r}")
        vs = [_vector(f"vertices[{i}]", v, 2) for i, v in enumerate(vertices)]
        parts = _parts("parts", parts, len(vs))
        area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(vs, vs[1:] + vs[:1]))
        if area2 < 0:  # clockwise: reverse, keeping each edge's name
            n = len(vs)  # reversed edge k is the old edge n - 2 - k
            vs, parts = vs[::-1], tuple(parts[(n - 2 - k) % n] for k in range(n))
        self.vertices, self.edge_parts = tuple(vs), parts
        self._check_simple(abs(area2) / 2)
        lo = tuple(min(v[i] for v in vs) for i in range(2))
        hi = tuple(max(v[i] for v in vs) for i in range(2))
        self._box = (lo, hi)

    def _check_simple(self, area: float) -> None:
        vs = self.vertices
        n = len(vs)
        scale = max(max(abs(c) for v in vs for c in v), 1.0)
        for i in range(n):
            if math.dist(vs[i], vs[(i + 1) % n]) <= 1e-12 * scale:
                raise ValueError(f"vertices: vertex {i} repeats vertex {(i + 1) % n} (a zero-length edge)")
        for i, j in itertools.combinations(range(n), 2):
            if (j - i) % n in (1, n - 1):
                if _collinear_overlap(vs[i], vs[(i + 1) % n], vs[j], vs[(j + 1) % n]):
                    raise ValueError(f"vertices: edges {i} and {j} fold back on each other (self-intersecting polygon)")
                continue
            if _segments_meet(vs[i], vs[(i + 1) % n], vs[j], vs[(j + 1) % n]):
                raise ValueError(f"vertices: edges {i} and {j} cross or touch (self-intersecting polygon); "
                                 "a polygon's edges may meet only at shared vertices")
        if area <= 1e-12 * scale ** 2:
            raise ValueError("vertices enclose no area (all on one line?)")

    def bbox(self):
        return self._box

    def _edges(self, X):
        v = torch.as_tensor(self.vertices, dtype=X.dtype, device=X.device)
        return v, torch.roll(v, -1, 0)

    def sdf(self, X):
        a, b = self._edges(X)
        e = b - a  # (m, 2)
        w = X[:, None, :] - a[None]  # (n, m, 2)
        s = ((w * e).sum(-1) / (e * e).sum(-1)).clamp(0, 1)
        d = (w - s[..., None] * e).norm(dim=-1).min(1).values
        # even-odd crossing test for the sign
        y = X[:, 1:2]
        up = (a[:, 1] <= y) != (b[:, 1] <= y)
        xc = a[:, 0] + (y - a[:, 1]) * e[:, 0] / torch.where(e[:, 1] == 0, torch.ones_like(e[:, 1]), e[:, 1])
        inside = ((up & (X[:, :1] < xc)).sum(1) % 2) == 1
        return torch.where(inside, -d, d)

    def phi(self, X):
        """Sukumar & Srivastava's trimmed-segment distances, combined as ``(Σ φ_i^-2)^(-1/2)``."""
        a, b = self._edges(X)
        e = b - a
        L = e.norm(dim=1)
        w = X[:, None, :] - a[None]
        f = (w[..., 0] * e[:, 1] - w[..., 1] * e[:, 0]) / L  # signed distance to the edge's line
        c = (a + b) / 2
        t = ((L / 2) ** 2 - ((X[:, None, :] - c[None]) ** 2).sum(-1)) / L
        varphi = torch.sqrt(t * t + f ** 4)
        phi_i = torch.sqrt(f * f + ((varphi - t) / 2) ** 2)
        d = phi_i.pow(-2).sum(1).pow(-0.5)
        return torch.where(self.sdf(X) <= 0, d, -d)

    def pieces(self):
        vs = self.vertices
        return [Segment(p, a=vs[i], b=vs[(i + 1) % len(vs)]) for i, p in enumerate(self.edge_parts)]


def _orient(p, q, r) -> float:
    return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])


def _on(p, q, r) -> bool:
    return min(p[0], r[0]) <= q[0] <= max(p[0], r[0]) and min(p[1], r[1]) <= q[1] <= max(p[1], r[1])


def _segments_meet(p1, p2, q1, q2) -> bool:
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True
    return any(d == 0 and _on(a, c, b) for d, a, c, b in
               ((d1, q1, p1, q2), (d2, q1, p2, q2), (d3, p1, q1, p2), (d4, p1, q2, p2)))


def _collinear_overlap(p1, p2, q1, q2) -> bool:
    """Adjacent edges ``p1p2`` and ``q1q2`` (sharing an end) that double back along one line."""
    shared = p2 if p2 in (q1, q2) else p1
    pa = p1 if shared == p2 else p2
    qa = q2 if shared == q1 else q1
    u = (pa[0] - shared[0], pa[1] - shared[1])
    v = (qa[0] - shared[0], qa[1] - shared[1])
    cross, dot = u[0] * v[1] - u[1] * v[0], u[0] * v[0] + u[1] * v[1]
    return abs(cross) <= 1e-12 * math.hypot(*u) * math.hypot(*v) and dot > 0


class Rectangle(Polygon):
    """The box ``lo <= (x, y) <= hi``; parts ``bottom, right, top, left`` unless named."""

    def __init__(self, lo=(0.0, 0.0), hi=(1.0, 1.0), parts=("bottom", "right", "top", "left")):
        lo, hi = _vector("lo", lo, 2), _vector("hi", hi, 2)
        if not all(l < h for l, h in zip(lo, hi)):
            raise ValueError(f"Rectangle needs lo < hi on each axis, got lo={lo}, hi={hi}")
        super().__init__([lo, (hi[0], lo[1]), hi, (lo[0], hi[1])], parts)


class LShape(Polygon):
    """The square ``[-s, s]^2`` without its lower-right quadrant: re-entrant corner at the origin.

    Parts: ``notch`` (the two edges meeting at the corner) and ``outer`` (the rest).
    """

    def __init__(self, size=1.0, parts=("outer", "notch", "notch", "outer", "outer", "outer")):
        s = _positive("size", size)
        super().__init__([(-s, -s), (0.0, -s), (0.0, 0.0), (s, 0.0), (s, s), (-s, s)], parts)


class Disk(Primitive):
    """``|x - center| <= r`` (in 3D, :class:`Ball`); one boundary part."""
    piece = Arc

    def __init__(self, center=(0.0, 0.0), r=1.0, part="circle"):
        self.center, self.r = _vector("center", center, self.dim), _positive("r", r)
        self.part = _part("part", part)

    def bbox(self):
        return tuple(c - self.r for c in self.center), tuple(c + self.r for c in self.center)

    def sdf(self, X):
        return (X - X.new_tensor(self.center)).norm(dim=1) - self.r

    def phi(self, X):
        return (self.r ** 2 - ((X - X.new_tensor(self.center)) ** 2).sum(1)) / (2 * self.r)

    def pieces(self):
        return [self.piece(self.part, center=self.center, r=self.r)]


def Annulus(center=(0.0, 0.0), r_inner=0.5, r_outer=1.0, parts=("inner", "outer")) -> Geometry:
    """``r_inner < |x - center| < r_outer``: a :class:`Disk` minus a smaller one."""
    r_inner, r_outer = _positive("r_inner", r_inner), _positive("r_outer", r_outer)
    if r_inner >= r_outer:
        raise ValueError(f"Annulus needs r_inner < r_outer, got {r_inner} >= {r_outer}")
    parts = _parts("parts", parts, 2)
    return Disk(center, r_outer, parts[1]) - Disk(center, r_inner, parts[0])


def PlateWithHole(center=(0.0, 0.0), r=0.3, parts=("edges", "hole")) -> Geometry:
    """The square ``[-1, 1]^2`` minus the disk ``|x - center| < r``, which must lie inside it."""
    center, r = _vector("center", center, 2), _positive("r", r)
    if max(abs(c) for c in center) + r >= 1:
        raise ValueError(f"PlateWithHole needs the hole inside the plate: max(|cx|, |cy|) + r < 1, "
                         f"got center={center}, r={r}")
    parts = _parts("parts", parts, 2)
    return Rectangle((-1.0, -1.0), (1.0, 1.0), parts=parts[0]) - Disk(center, r, part=parts[1])


class Box(Primitive):
    """``lo <= (x, y, z) <= hi``; parts ``x-, x+, y-, y+, z-, z+``."""
    dim = 3
    FACES = ("x-", "x+", "y-", "y+", "z-", "z+")

    def __init__(self, lo=(0.0, 0.0, 0.0), hi=(1.0, 1.0, 1.0)):
        self.lo, self.hi = _vector("lo", lo, 3), _vector("hi", hi, 3)
        if not all(l < h for l, h in zip(self.lo, self.hi)):
            raise ValueError(f"Box needs lo < hi on each axis, got lo={self.lo}, hi={self.hi}")

    def bbox(self):
        return self.lo, self.hi

    def sdf(self, X):
        lo, hi = X.new_tensor(self.lo), X.new_tensor(self.hi)
        c, h = (lo + hi) / 2, (hi - lo) / 2
        q = (X - c).abs() - h
        return q.clamp_min(0).norm(dim=1) + q.max(1).values.clamp_max(0)

    def phi(self, X):
        out = None
        for i in range(3):
            slab = (X[:, i] - self.lo[i]) * (self.hi[i] - X[:, i]) / (self.hi[i] - self.lo[i])
            out = slab if out is None else r_and(out, slab)
        return out

    def pieces(self):
        lo, hi = self.lo, self.hi
        out = []
        for i in range(3):
            j, k = (i + 1) % 3, (i + 2) % 3
            for side, name in ((0, self.FACES[2 * i]), (1, self.FACES[2 * i + 1])):
                o = list(lo)
                o[i] = hi[i] if side else lo[i]
                e1, e2 = [0.0] * 3, [0.0] * 3
                e1[j], e2[k] = hi[j] - lo[j], hi[k] - lo[k]
                if not side:  # e1 × e2 points along +i; the low face needs -i
                    e1, e2 = e2, e1
                out.append(Face(name, origin=tuple(o), e1=tuple(e1), e2=tuple(e2)))
        return out


class Ball(Disk):
    dim = 3
    piece = Sphere

    def __init__(self, center=(0.0, 0.0, 0.0), r=1.0, part="sphere"):
        super().__init__(center, r, part)


class Cylinder(Primitive):
    """``|(x, y) - center| <= r``, ``z0 <= z <= z1``; parts ``side, bottom, top``."""
    dim = 3

    def __init__(self, center=(0.0, 0.0), r=1.0, z0=0.0, z1=1.0):
        self.center, self.r = _vector("center", center, 2), _positive("r", r)
        self.z0, self.z1 = _vector("z0, z1", (z0, z1), 2)
        if self.z0 >= self.z1:
            raise ValueError(f"Cylinder needs z0 < z1, got {z0} >= {z1}")

    def bbox(self):
        c, r = self.center, self.r
        return (c[0] - r, c[1] - r, self.z0), (c[0] + r, c[1] + r, self.z1)

    def sdf(self, X):
        radial = (X[:, :2] - X.new_tensor(self.center)).norm(dim=1) - self.r
        h = (self.z1 - self.z0) / 2
        axial = (X[:, 2] - (self.z0 + self.z1) / 2).abs() - h
        q = torch.stack([radial, axial], 1)
        return q.clamp_min(0).norm(dim=1) + q.max(1).values.clamp_max(0)

    def phi(self, X):
        disk = (self.r ** 2 - ((X[:, :2] - X.new_tensor(self.center)) ** 2).sum(1)) / (2 * self.r)
        slab = (X[:, 2] - self.z0) * (self.z1 - X[:, 2]) / (self.z1 - self.z0)
        return r_and(disk, slab)

    def pieces(self):
        c, r = self.center, self.r
        return [Mantle("side", center=c, r=r, z0=self.z0, z1=self.z1),
                Cap("bottom", center=c, r=r, z=self.z0, up=False), Cap("top", center=c, r=r, z=self.z1, up=True)]


# ---- composites ------------------------------------------------------------------------------
class _Composite(Geometry):
    def __init__(self, a: Geometry, b: Geometry):
        for name, g in (("left operand", a), ("right operand", b)):
            if not isinstance(g, Geometry):
                raise ValueError(f"{type(self).__name__}: the {name} must be a Geometry, got {g!r}")
        if a.dim != b.dim:
            raise ValueError(f"{type(self).__name__} needs shapes of one dimension, got {a.dim}D and {b.dim}D")
        self.a, self.b, self.dim = a, b, a.dim
        self._n_a = len(a.pieces())
        self.check_nonempty(f"the {type(self).__name__.lower()} of {a!r} and {b!r}")

    def __repr__(self):
        return f"{type(self).__name__}({self.a!r}, {self.b!r})"

    def _tol(self) -> float:
        lo, hi = self.bbox()
        return 1e-9 * max(h - l for l, h in zip(lo, hi))

    def pieces(self):
        return self.a.pieces() + self._b_pieces()

    def _b_pieces(self):
        return self.b.pieces()

    def on_boundary(self, piece, X):
        if piece < self._n_a:
            return self.a.on_boundary(piece, X) & self._keep_a(self.b.sdf(X))
        return self.b.on_boundary(piece - self._n_a, X) & self._keep_b(self.a.sdf(X))


class Union(_Composite):
    def bbox(self):
        (la, ha), (lb, hb) = self.a.bbox(), self.b.bbox()
        return tuple(map(min, la, lb)), tuple(map(max, ha, hb))

    def sdf(self, X):
        return torch.minimum(self.a.sdf(X), self.b.sdf(X))

    def phi(self, X):
        return r_or(self.a.phi(X), self.b.phi(X))

    def _keep_a(self, sdf_b):
        return sdf_b > self._tol()

    _keep_b = _keep_a


class Intersection(_Composite):
    def bbox(self):
        (la, ha), (lb, hb) = self.a.bbox(), self.b.bbox()
        return tuple(map(max, la, lb)), tuple(map(min, ha, hb))

    def sdf(self, X):
        return torch.maximum(self.a.sdf(X), self.b.sdf(X))

    def phi(self, X):
        return r_and(self.a.phi(X), self.b.phi(X))

    def _keep_a(self, sdf_b):
        return sdf_b < -self._tol()

    _keep_b = _keep_a


class Difference(_Composite):
    def bbox(self):
        return self.a.bbox()

    def sdf(self, X):
        return torch.maximum(self.a.sdf(X), -self.b.sdf(X))

    def phi(self, X):
        return r_and(self.a.phi(X), -self.b.phi(X))

    def _b_pieces(self):
        return [p.flipped() for p in self.b.pieces()]

    def _keep_a(self, sdf_b):
        return sdf_b > self._tol()

    def _keep_b(self, sdf_a):
        return sdf_a < -self._tol()


class Renamed(Geometry):
    def __init__(self, inner: Geometry, mapping: dict[str, str]):
        unknown = sorted(set(mapping) - set(inner.parts))
        if unknown:
            raise ValueError(f"renamed: {unknown} are not boundary parts; choose from {list(inner.parts)}")
        self.inner, self.mapping, self.dim = inner, {k: _part(f"renamed[{k!r}]", v) for k, v in mapping.items()}, inner.dim

    def __repr__(self):
        return f"{self.inner!r}.renamed({self.mapping!r})"

    def bbox(self):
        return self.inner.bbox()

    def sdf(self, X):
        return self.inner.sdf(X)

    def phi(self, X):
        return self.inner.phi(X)

    def pieces(self):
        return [p.renamed(self.mapping.get(p.part, p.part)) for p in self.inner.pieces()]

    def on_boundary(self, piece, X):
        return self.inner.on_boundary(piece, X)
