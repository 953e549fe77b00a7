"""Finite-element references with scikit-fem: Poisson and Stokes problems on meshes it builds itself.

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


def plate_with_hole_mesh(radius: float, n: int, center: tuple[float, float] = (0.0, 0.0)):
    """Triangles filling ``[-1, 1]^2`` minus the disk ``|x - center| < radius``: ``8 n`` nodes
    around, ``n`` layers across; boundaries ``"hole"`` and ``"outer"``.

    The square's nodes sit where the rays from the origin at ``2 pi j / 8n`` meet it (its
    corners among them); each is joined to the circle's point on the ray from ``center``
    through it. The square is star-shaped about any point inside, so these segments never
    cross: an off-centre hole gives a valid mesh, its layers thinner on the near side.
    """
    cx, cy = (float(c) for c in center)
    gap = 1 - max(abs(cx), abs(cy)) - radius
    if not 0 < radius < 1:
        raise ValueError(f"hole radius must lie in (0, 1), got {radius}")
    if gap <= 0:
        raise ValueError(f"the hole (radius {radius} at {center}) must lie inside the plate [-1, 1]^2: "
                         f"radius + max(|cx|, |cy|) must stay below 1")
    if n < 2:
        raise ValueError(f"mesh layers n must be at least 2, got {n}")
    skfem = _skfem()
    m = 8 * n  # a multiple of 8: the square's corners are nodes
    th = 2 * np.pi * np.arange(m) / m
    e = np.stack([np.cos(th), np.sin(th)])
    q = e / np.abs(e).max(0)
    o = np.array([[cx], [cy]])
    ray = (q - o) / np.linalg.norm(q - o, axis=0)
    s = np.linspace(0.0, 1.0, n + 1)[:, None, None]
    p = ((1 - s) * (o + radius * ray) + s * q).transpose(1, 0, 2).reshape(2, -1)  # node (i, j) at i * m + j
    i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    a, b = i * m + j, i * m + (j + 1) % m
    c, d = a + m, b + m
    t = np.concatenate([np.stack([a, b, d]), np.stack([a, d, c])], axis=1).reshape(3, -1)
    mesh = skfem.MeshTri(p, t)
    return mesh.with_boundaries({"hole": lambda x: np.hypot(x[0] - cx, x[1] - cy) < radius + gap / 2,
                                 "outer": lambda x: np.abs(x).max(0) > 1 - 1e-12})


def plate_with_hole_heat(radius: float, n: int, t_hole: float, q: float,
                         center: tuple[float, float] = (0.0, 0.0)):
    """``(basis, u)``: P1 solution of ``-Δu = q`` in the plate of :func:`plate_with_hole_mesh`,
    ``u = t_hole`` on the hole's wall and 0 on the plate's edges."""
    return poisson(plate_with_hole_mesh(radius, n, center), lambda x: np.full(x.shape[1:], float(q)),
                   {"hole": lambda x: np.full(x.shape[1:], float(t_hole)),
                    "outer": lambda x: np.zeros(x.shape[1:])})


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
    """The P1 field at ``points`` (``(2, N)``), all inside the mesh (``basis``: a basis or its
    mesh; ``u``: the values at the mesh's vertices): barycentric weights in the
    triangle holding each point, found among the ``candidates`` of nearest centroid.

    Why not ``basis.probes``: its element finder falls back to a search over every triangle
    for points near the boundary, minutes for a grid of ten thousand points.
    """
    from scipy.spatial import cKDTree

    mesh = getattr(basis, "mesh", basis)
    p, t = mesh.p, mesh.t
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


def channel_with_cylinder_mesh(length: float, height: float, center: tuple[float, float], radius: float,
                               n: int):
    """Triangles filling the channel ``[0, length] × [0, height]`` minus the disk of ``radius``
    about ``center``; boundaries ``"inlet"`` (x = 0), ``"outlet"`` (x = length), ``"walls"``
    (y = 0, height) and ``"cylinder"``.

    Around the cylinder, the box ``[cx - w, cx + w] × [0, height]`` (``w = min(cx, height / 2)``)
    is filled like :func:`plate_with_hole_mesh`: ``n`` layers between the circle and the box,
    ``2 n`` segments on each side of the box (its corners are nodes), node ``(s, j)`` at
    ``(1 - s) (c + a e(θ_j)) + s q_j`` with ``q_j`` the ``j``-th box node and ``θ_j`` its angle
    seen from the centre. Structured blocks of squares cut in two, ``2 n`` rows of height
    ``height / 2n``, fill the channel upstream and downstream of the box; shared nodes are merged.
    """
    cx, cy = center
    w = min(cx, height / 2)
    if n < 2:
        raise ValueError(f"mesh layers n must be at least 2, got {n}")
    if not 0 < radius < min(w, cy, height - cy):
        raise ValueError(f"the cylinder (radius {radius} at {center}) must lie inside the channel: radius in "
                         f"(0, {min(w, cy, height - cy):.4g}) for this centre")
    if not cx + w < length:
        raise ValueError(f"the channel length must exceed {cx + w:.4g} for a cylinder at x = {cx}, got {length}")
    skfem = _skfem()
    x0, x1, k = cx - w, cx + w, 2 * n
    side = np.linspace(0.0, 1.0, k + 1)[:-1]
    box = np.concatenate([np.stack([x0 + (x1 - x0) * side, 0 * side]), np.stack([x1 + 0 * side, height * side]),
                          np.stack([x1 - (x1 - x0) * side, height + 0 * side]),
                          np.stack([x0 + 0 * side, height - height * side])], axis=1)  # (2, 8n), anticlockwise
    th = np.arctan2(box[1] - cy, box[0] - cx)
    circle = np.array(center)[:, None] + radius * np.stack([np.cos(th), np.sin(th)])
    m = box.shape[1]
    s = np.linspace(0.0, 1.0, n + 1)[:, None, None]
    points = [((1 - s) * circle + s * box).transpose(1, 0, 2).reshape(2, -1)]
    i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    a, b = i * m + j, i * m + (j + 1) % m
    c, d = a + m, b + m
    cells = [np.concatenate([np.stack([a, b, d]), np.stack([a, d, c])], axis=1).reshape(3, -1)]
    h = height / k
    for lo, hi in ((0.0, x0), (x1, length)):
        if hi - lo < 1e-12:
            continue
        block = skfem.MeshTri.init_tensor(np.linspace(lo, hi, max(1, round((hi - lo) / h)) + 1),
                                          np.linspace(0.0, height, k + 1))
        cells.append(block.t + sum(p.shape[1] for p in points))
        points.append(block.p)
    p, t = np.concatenate(points, axis=1), np.concatenate(cells, axis=1)
    scale = max(length, height)
    _, first, inverse = np.unique(np.round(p / scale * 1e9).astype(np.int64), axis=1, return_index=True,
                                  return_inverse=True)
    mesh = skfem.MeshTri(np.ascontiguousarray(p[:, first]), inverse.reshape(-1)[t])
    gap = min(w, cy, height - cy) - radius
    return mesh.with_boundaries({
        "inlet": lambda x: x[0] < 1e-12 * scale,
        "outlet": lambda x: x[0] > length - 1e-12 * scale,
        "walls": lambda x: (x[1] < 1e-12 * scale) | (x[1] > height - 1e-12 * scale),
        "cylinder": lambda x: np.hypot(x[0] - cx, x[1] - cy) < radius + gap / 2,
    })


def stokes(mesh, nu: float, force: Field, dirichlet: dict[str, Field], traction: dict[str, Callable] | None = None,
           intorder: int = 4):
    """Taylor–Hood (P2 velocity, P1 pressure) solution of the Stokes equations

        -ν Δu + ∇p = f,   ∇·u = 0,

    with ``u = g`` (a ``(2, ...)`` field) on the named ``dirichlet`` boundaries and the traction
    ``ν ∂u/∂n − p n = h(x, n)`` on the ``traction`` ones (``h = 0``: the "do-nothing" outflow,
    which also fixes the pressure's constant; without one the pressure is defined up to it, and
    the sparse solve may fail). Weak form: ``ν(∇u, ∇v) − (p, ∇·v) − (q, ∇·u) = (f, v) + ⟨h, v⟩``.
    Inf-sup stable, so the errors fall as ``h³`` (velocity, L2), ``h²`` (velocity, H1 seminorm;
    pressure, L2) for a smooth solution. Returns ``(velocity basis, u, pressure basis, p)``.
    """
    skfem = _skfem()
    from scipy.sparse import bmat
    from skfem.helpers import dot
    from skfem.models.general import divergence
    from skfem.models.poisson import vector_laplace

    ub = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementTriP2()), intorder=intorder)
    pb = ub.with_element(skfem.ElementTriP1())
    A, B = nu * skfem.asm(vector_laplace, ub), skfem.asm(divergence, ub, pb)
    K = bmat([[A, -B.T], [-B, None]], format="csr")
    f = skfem.asm(skfem.LinearForm(lambda v, w: dot(force(w.x), v)), ub)
    for name, h in (traction or {}).items():
        fb = skfem.FacetBasis(mesh, ub.elem, facets=mesh.boundaries[name], intorder=intorder)
        f = f + skfem.asm(skfem.LinearForm(lambda v, w, h=h: dot(h(w.x, w.n), v)), fb)
    x = np.zeros(ub.N + pb.N)
    D = []
    for name, g in dirichlet.items():
        dofs = ub.get_dofs(name)
        for comp, key in enumerate(("u^1", "u^2")):
            idx = dofs.all(key)
            x[idx] = g(ub.doflocs[:, idx])[comp]
            D.append(idx)
    rhs = np.concatenate([f, np.zeros(pb.N)])
    x = skfem.solve(*skfem.condense(K, rhs, x=x, D=np.unique(np.concatenate(D))))
    return ub, x[:ub.N], pb, x[ub.N:]


def stokes_errors(ub, u: np.ndarray, pb, p: np.ndarray, velocity: Field, gradient: Callable, pressure: Field) -> dict:
    """``‖u_h − u‖`` (L2), ``|u_h − u|`` (H1 seminorm; ``gradient(x)[i, j] = ∂u_i/∂x_j``),
    ``‖p_h − p‖`` (L2) and ``‖∇·u_h‖`` (L2) over the mesh, by quadrature."""
    skfem = _skfem()
    uh, ph = ub.interpolate(u), pb.interpolate(p)
    forms = {"velocity_l2": (ub, lambda w: ((w["uh"] - velocity(w.x)) ** 2).sum(0)),
             "velocity_h1": (ub, lambda w: ((w["uh"].grad - gradient(w.x)) ** 2).sum((0, 1))),
             "divergence_l2": (ub, lambda w: (w["uh"].grad[0, 0] + w["uh"].grad[1, 1]) ** 2),
             "pressure_l2": (pb, lambda w: (w["ph"] - pressure(w.x)) ** 2)}
    return {k: float(np.sqrt(skfem.Functional(form).assemble(basis, uh=uh, ph=ph)))
            for k, (basis, form) in forms.items()}
