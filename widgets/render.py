"""3D meshes and offscreen screenshots with pyvista (imported lazily: ``lab`` never loads VTK).

``volume_grid`` wraps a scalar array as a ``pyvista.ImageData``; ``isosurface`` and
``slices`` cut it; ``plotter`` draws meshes in an offscreen window, which
``pn.pane.VTK(plotter.ren_win)`` ships to the browser (rendered there by vtk.js) and
``screenshot`` turns into pixels for reports. Offscreen rendering needs no X server: VTK's
PyPI wheels fall back to OSMesa.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BACKGROUND = "white"


def _pv():
    import pyvista as pv

    pv.OFF_SCREEN = True
    return pv


def volume_grid(values: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0),
                origin: Sequence[float] = (0.0, 0.0, 0.0), name: str = "value"):
    """``ImageData`` with point data ``name`` from ``values[ix, iy, iz]``."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 3:
        raise ValueError(f"a volume needs a 3D array, got shape {values.shape}")
    grid = _pv().ImageData(dimensions=values.shape, spacing=tuple(spacing), origin=tuple(origin))
    grid.point_data[name] = values.ravel(order="F")  # VTK runs x fastest
    return grid


def isosurface(grid, isovalues: Sequence[float], name: str = "value"):
    """Marching-cubes surfaces of ``name`` at ``isovalues`` (an empty mesh if none crosses)."""
    return grid.contour(list(isovalues), scalars=name)


def slices(grid, name: str = "value"):
    """The three mid-planes of the box as one mesh carrying ``name``."""
    return grid.slice_orthogonal().combine()


def plotter(meshes: Sequence[tuple], *, window_size=(480, 400), background: str = BACKGROUND):
    """An offscreen plotter with ``(mesh, add_mesh keywords)`` pairs added and the camera set."""
    pv = _pv()
    pl = pv.Plotter(off_screen=True, window_size=list(window_size))
    pl.set_background(background)
    for mesh, kw in meshes:
        if mesh.n_points:
            pl.add_mesh(mesh, **kw)
    pl.camera_position = "iso"
    return pl


def screenshot(meshes: Sequence[tuple], *, window_size=(320, 320), background: str = BACKGROUND,
               filename: str | None = None) -> np.ndarray:
    """RGB pixels ``(h, w, 3)`` of the meshes drawn offscreen (also saved to ``filename``)."""
    pl = plotter(meshes, window_size=window_size, background=background)
    try:
        return pl.screenshot(filename, return_img=True)
    finally:
        pl.close()


def volume_pane(values: np.ndarray, spacing: Sequence[float], origin: Sequence[float], **kwargs):
    """A ``pn.pane.VTKVolume`` of ``values`` (rendered client-side by vtk.js), built with its data.

    Built anew for each field rather than updated from a placeholder: vtk.js's volume controller
    sets up its colour preset only with data present, and a constant placeholder (zero colour
    range) leaves the pane blank.
    """
    import panel as pn

    from widgets.theme import VOLUME_CMAP

    return pn.pane.VTKVolume(np.ascontiguousarray(values), spacing=tuple(spacing), origin=tuple(origin),
                             colormap=VOLUME_CMAP, render_background=BACKGROUND, **kwargs)
