"""Drawing a domain that is not a box: its boundary parts, normals and collocation points.

The points come from the problem's own samplers (:mod:`lab.geometry`), so what is drawn is
what training uses: interior points in grey, boundary points coloured by the part their
condition belongs to, a few outward normals as arrows. Scales are equal, so a circle stays round.

A domain in 3D is a client-side scene (:func:`geometry_scene`, a ``pn.pane.VTK`` rendered by
vtk.js like the 3D field views): its boundary points coloured by part, with outward normals.

A field known at the nodes of a mesh (a finite-element reference, and what training measures
against it) is drawn on its triangles (:func:`mesh_field`), not resampled onto a grid.
"""
from __future__ import annotations

import functools

import holoviews as hv
import numpy as np
import torch

from lab.geometry import sample_boundary, sample_interior
from widgets import render
from widgets.theme import ERROR_CMAP, FIELD_CMAP, field_frame

#: Bokeh's Category10, one colour per boundary part
PART_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def has_geometry(problem) -> bool:
    """Whether ``problem`` declares a domain of :mod:`lab.geometry` (not a box)."""
    return callable(getattr(problem, "geometry", None))


def _samples(problem, n_interior: int, n_boundary: int, seed: int):
    """The geometry, interior points and boundary ``(points, parts, normals)`` training would draw."""
    geometry = problem.region()
    gen = torch.Generator().manual_seed(seed)
    inner = sample_interior(geometry, n_interior, gen, dtype=torch.float64).numpy()
    edge = sample_boundary(geometry, n_boundary, gen, dtype=torch.float64)
    return geometry, inner, (edge.points.numpy(), edge.parts.numpy(), edge.normals.numpy())


def geometry_plot(problem, n_interior: int = 800, n_boundary: int = 400, n_normals: int = 32,
                  seed: int = 0) -> hv.Overlay:
    """The domain of ``problem`` with ``n_interior`` collocation points, ``n_boundary`` boundary
    points by part, and ``n_normals`` outward normals."""
    geometry, inner, (pts, parts, normals) = _samples(problem, n_interior, n_boundary, seed)
    h, v = problem.axes[:2]
    layers = [hv.Points(inner, kdims=[h, v], label="collocation").opts(color="#9a9a9a", size=2)]
    for i, name in enumerate(geometry.parts):
        layers.append(hv.Points(pts[parts == i], kdims=[h, v], label=f"boundary: {name}").opts(
            color=PART_COLOURS[i % len(PART_COLOURS)], size=4))
    k = slice(0, n_normals)
    lo, hi = geometry.bbox()
    scale = 0.08 * max(b - a for a, b in zip(lo, hi))
    arrows = hv.Segments((pts[k, 0], pts[k, 1], pts[k, 0] + scale * normals[k, 0],
                          pts[k, 1] + scale * normals[k, 1]), kdims=[h, v, f"{h}1", f"{v}1"],
                         label="outward normal").opts(color="black", line_width=1)
    bounds = {h: (lo[0] - scale, hi[0] + scale), v: (lo[1] - scale, hi[1] + scale)}
    return hv.Overlay([*layers, arrows]).opts(
        title=f"domain, {len(geometry.parts)} boundary part{'s' * (len(geometry.parts) > 1)}",
        legend_position="right", show_legend=True, toolbar="above",
        **field_frame((h, v), bounds))


def geometry_meshes(problem, n_boundary: int = 3000, n_normals: int = 60, seed: int = 0) -> list[tuple]:
    """A 3D domain as ``(mesh, add_mesh keywords)`` pairs for :func:`widgets.render.plotter`: the
    boundary points of each part in its colour (one point cloud per part, in ``parts`` order),
    ``n_normals`` outward normals as line segments, and the bounding box's outline."""
    pv = render._pv()
    geometry, _, (pts, parts, normals) = _samples(problem, 1, n_boundary, seed)
    lo, hi = geometry.bbox()
    scale = 0.1 * max(b - a for a, b in zip(lo, hi))
    meshes = [(pv.PolyData(pts[parts == i]), dict(color=PART_COLOURS[i % len(PART_COLOURS)], point_size=4,
                                                   render_points_as_spheres=True, label=name))
              for i, name in enumerate(geometry.parts)]
    k = slice(0, n_normals)
    ends = np.stack([pts[k], pts[k] + scale * normals[k]], 1).reshape(-1, 3)
    lines = np.column_stack([np.full(len(ends) // 2, 2), np.arange(len(ends)).reshape(-1, 2)]).ravel()
    meshes.append((pv.PolyData(ends, lines=lines), dict(color="black", line_width=2)))
    meshes.append((pv.Box(bounds=[v for pair in zip(lo, hi) for v in pair]).outline(), dict(color="#9a9a9a")))
    return meshes


def geometry_scene(problem, n_boundary: int = 3000, n_normals: int = 60, seed: int = 0, **pane):
    """``(pane, plotter)``: :func:`geometry_meshes` in a ``pn.pane.VTK`` (vtk.js draws it in the
    browser; drag to rotate). The caller closes the plotter when it replaces the pane."""
    import panel as pn

    plotter = render.plotter(geometry_meshes(problem, n_boundary, n_normals, seed))
    return pn.pane.VTK(plotter.ren_win, **{"height": 420, "sizing_mode": "stretch_width", **pane}), plotter


def scattered_field(points: np.ndarray, values: np.ndarray, axes=("x", "y"), name: str = "u",
                    title: str = "") -> hv.Points:
    """A field at unstructured points (a sampled batch, a mesh's nodes), coloured, with a colour bar."""
    h, v = axes
    lo, hi = points.min(0), points.max(0)
    return hv.Points((points[:, 0], points[:, 1], values), kdims=[h, v], vdims=[name]).opts(
        color=name, cmap="RdBu_r", colorbar=True, size=4, title=title, toolbar="above",
        **field_frame((h, v), {h: (lo[0], hi[0]), v: (lo[1], hi[1])}))


@functools.cache
def _draw_triangles_at_once() -> None:
    """Have Bokeh draw every :class:`holoviews.TriMesh` by a plot that builds the triangles'
    patches by indexing the nodes with the simplices. HoloViews' own splits a path off one
    Dataset per triangle: 17 s for the 3,264 of the cylinder flow's mesh, three fields a
    snapshot, the server busy all the while; this gives the same closed paths (the same
    document) in a tenth of a second."""
    from holoviews.plotting.bokeh.graphs import TriMeshPlot

    class TrianglesPlot(TriMeshPlot):
        def _get_edge_paths(self, element, ranges):
            h, v = (1, 0) if self.invert_axes else (0, 1)
            xy = element.nodes.array([h, v])[element.array([0, 1, 2, 0]).astype(np.int64)]
            return {"xs": list(xy[..., 0]), "ys": list(xy[..., 1])}, {"xs": "xs", "ys": "ys"}

    hv.Store.registry["bokeh"][hv.TriMesh] = TrianglesPlot


#: above this many triangles a mesh field is drawn as coloured nodes (each triangle is a patch
#: the page draws and receives: 20,000 are about 2 MB an update)
MAX_TRIANGLES = 20_000


def mesh_field(points: np.ndarray, triangles: np.ndarray, values: np.ndarray, axes=("x", "y"),
               name: str = "u", title: str = "", value_range: tuple[float, float] | None = None,
               cmap: str = FIELD_CMAP, bounds: dict | None = None) -> hv.TriMesh | hv.Points:
    """A field at the ``(N, 2)`` nodes of the triangles ``(M, 3)``: each triangle filled with the
    mean of its nodes' ``values``, a colour bar over ``value_range``, equal scales over
    ``bounds`` (default: the nodes' extent). Past :data:`MAX_TRIANGLES`, the nodes coloured
    (:func:`scattered_field`). No triangles yet (a view before its first snapshot): an empty
    plot of the same type, framed by ``bounds``."""
    h, v = axes
    points, values = np.asarray(points, np.float64).reshape(-1, 2), np.asarray(values, np.float64).ravel()
    triangles = np.asarray(triangles, np.int64).reshape(-1, 3)
    if bounds is None:
        lo, hi = (points.min(0), points.max(0)) if len(points) else ((0.0, 0.0), (1.0, 1.0))
        bounds = {h: (float(lo[0]), float(hi[0])), v: (float(lo[1]), float(hi[1]))}
    vdim = hv.Dimension(name, range=value_range or (None, None))
    frame = dict(colorbar=True, cmap=cmap, title=title, toolbar="above", xlim=bounds[h], ylim=bounds[v],
                 **field_frame((h, v), bounds))
    if len(triangles) > MAX_TRIANGLES:
        return scattered_field(points, values, axes, name, title).redim(**{name: vdim}).opts(
            **{k: o for k, o in frame.items() if k != "title"})
    simplices = np.column_stack([triangles, values[triangles].mean(1)]) if len(triangles) else np.zeros((0, 4))
    nodes = hv.Points((points[:, 0], points[:, 1]), kdims=[h, v])
    _draw_triangles_at_once()
    return hv.TriMesh((simplices, nodes), vdims=[vdim]).opts(
        filled=True, edge_color=name, edge_line_width=0, node_size=0, tools=["hover"], **frame)


def mesh_error(points, triangles, error, axes=("x", "y"), name: str = "u", bound: float | None = None,
               bounds: dict | None = None):
    """The signed error at a mesh's nodes: a diverging map centred on zero (±``bound``)."""
    bound = bound or (float(np.nanmax(np.abs(error))) if np.size(error) else 0.0) or 1e-12
    return mesh_field(points, triangles, error, axes, "error", f"error (prediction − reference) of {name}",
                      (-bound, bound), ERROR_CMAP, bounds)
