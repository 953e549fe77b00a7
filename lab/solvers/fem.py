"""Finite-element references with scikit-fem: Poisson problems on meshes it builds itself.

Why a mesh of our own: scikit-fem makes structured meshes of boxes and disks but none of a
plate with a hole, so :func:`plate_with_hole_mesh` maps a structured polar grid onto it
(node ``(s, θ)`` at ``(1 - s) a e(θ) + s q(θ)``, ``e(θ)`` the unit vector and ``q(θ)`` the
point of the square's boundary in that direction) and hands nodes and triangles to
``skfem.MeshTri``. The hole's polygonal boundary has its nodes on the circle, so the geometric
error is ``O(h²)``, the order of the P1 solution's L2 error that the tests measure.

scikit-fem is optional (the ``fem`` extra): imported inside the functions, with a clear
error when it is missing.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

VERSION = "1"

Field = Callable[[np.ndarray], np.ndarray]  # (2, ...) coordinates -> values


def _skfem():
    try:
        import skfem
    except ImportError:
        raise ImportError("this finite-element reference needs scikit-fem: pip install "
                          "'sciml-lab[fem]' (or pip install scikit-fem)") from None
    return skfem


def plate_with_hole_mesh(radius: float, n: int):
    """Triangles filling ``[-1, 1]^2`` minus the disk ``|x| < radius``: ``8 n`` nodes around,
    ``n`` layers across; boundaries ``"hole"`` and ``"outer"``."""
    if not 0 < radius < 1:
        raise ValueError(f"hole radius must lie in (0, 1), got {radius}")
    if n < 2:
        raise ValueError(f"mesh layers n must be at least 2, got {n}")
    skfem = _skfem()
    m = 8 * n  # a multiple of 8: the square's corners are nodes
    th = 2 * np.pi * np.arange(m) / m
    e = np.stack([np.cos(th), np.sin(th)])
    q = e / np.abs(e).max(0)
    s = np.linspace(0.0, 1.0, n + 1)[:, None, None]
    p = ((1 - s) * radius * e + s * q).transpose(1, 0, 2).reshape(2, -1)  # node (i, j) at i * m + j
    i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    a, b = i * m + j, i * m + (j + 1) % m
    c, d = a + m, b + m
    t = np.concatenate([np.stack([a, b, d]), np.stack([a, d, c])], axis=1).reshape(3, -1)
    mesh = skfem.MeshTri(p, t)
    return mesh.with_boundaries({"hole": lambda x: np.hypot(x[0], x[1]) < (radius + 1) / 2,
                                 "outer": lambda x: np.abs(x).max(0) > 1 - 1e-12})


def poisson(mesh, source: Field, dirichlet: dict[str, Field], neumann: dict[str, Field] | None = None,
            intorder: int = 4):
    """P1 solution of ``-Δu = source`` with ``u = g`` on the named ``dirichlet`` boundaries and
    ``∂u/∂n = h`` on the ``neumann`` ones; returns ``(basis, u)``."""
    skfem = _skfem()
    from skfem.models.poisson import laplace

    basis = skfem.Basis(mesh, skfem.ElementTriP1(), intorder=intorder)
    load = skfem.LinearForm(lambda v, w: source(w.x) * v)
    A, b = skfem.asm(laplace, basis), skfem.asm(load, basis)
    for name, h in (neumann or {}).items():
        fb = skfem.FacetBasis(mesh, basis.elem, facets=mesh.boundaries[name], intorder=intorder)
        b = b + skfem.asm(skfem.LinearForm(lambda v, w, h=h: h(w.x) * v), fb)
    u = basis.zeros()
    D = np.unique(np.concatenate([basis.get_dofs(name).all() for name in dirichlet]))
    for name, g in dirichlet.items():
        dofs = basis.get_dofs(name).all()
        u[dofs] = g(basis.doflocs[:, dofs])
    return basis, skfem.solve(*skfem.condense(A, b, x=u, D=D))


def l2_error(basis, u: np.ndarray, exact: Field) -> float:
    """``‖u_h − u‖`` in L2 over the mesh, by the basis's quadrature."""
    skfem = _skfem()
    err = skfem.Functional(lambda w: (w["uh"] - exact(w.x)) ** 2)
    return float(np.sqrt(err.assemble(basis, uh=basis.interpolate(u))))


def probe(basis, u: np.ndarray, points: np.ndarray, candidates: int = 16, tol: float = 1e-9) -> np.ndarray:
    """The P1 field at ``points`` (``(2, N)``), all inside the mesh: barycentric weights in the
    triangle holding each point, found among the ``candidates`` of nearest centroid.

    Why not ``basis.probes``: its element finder falls back to a search over every triangle
    for points near the boundary, minutes for a grid of ten thousand points.
    """
    from scipy.spatial import cKDTree

    p, t = basis.mesh.p, basis.mesh.t
    corners = p[:, t]  # (2, 3, cells)
    near = cKDTree(corners.mean(1).T).query(points.T, k=candidates)[1]  # (N, k)
    a, b, c = (corners[:, i][:, near] for i in range(3))  # (2, N, k)
    det = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
    dx, dy = points[0][:, None] - a[0], points[1][:, None] - a[1]
    l1 = (dx * (c[1] - a[1]) - dy * (c[0] - a[0])) / det
    l2 = ((b[0] - a[0]) * dy - (b[1] - a[1]) * dx) / det
    lam = np.stack([1 - l1 - l2, l1, l2])  # (3, N, k)
    fits = (lam >= -tol).all(0)
    if not fits.any(1).all():
        raise ValueError(f"{int((~fits.any(1)).sum())} points lie outside the mesh")
    k = fits.argmax(1)
    rows = np.arange(points.shape[1])
    cell = near[rows, k]
    return (lam[:, rows, k] * u[t[:, cell]]).sum(0)
