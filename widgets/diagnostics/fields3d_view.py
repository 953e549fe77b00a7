"""3D fields of a ``3d+t`` problem: a volume and isosurfaces / mid-plane slices, client-side.

The volume goes to ``pn.pane.VTKVolume`` and the isosurfaces and slices (pyvista meshes) to
``pn.pane.VTK``; both are drawn in the browser by vtk.js. Derived quantities come from
:mod:`lab.diagnostics.fields3d` (spectral derivatives on the periodic box): vorticity
magnitude ``|curl u|``, the Q-criterion ``(|Omega|^2 - |S|^2) / 2`` whose positive isosurfaces
outline vortex cores, or the speed. The field is strided down to ``max_points`` grid points
(the factor is stated in the caption) before it is meshed and sent.
"""
from __future__ import annotations

import math

import numpy as np
import panel as pn
import param
import torch

from lab.diagnostics.fields3d import downsample, q_criterion, vorticity_magnitude
from widgets import render
from widgets.diagnostics.base import DiagnosticPanel, Source
from widgets.theme import ACCENT, FIELD_CMAP

DERIVED = ("vorticity magnitude", "Q-criterion")
QUANTITIES = (*DERIVED, "speed")


def quantities_for(problem) -> list[str]:
    """What can be shown for ``problem``: derived quantities of a periodic velocity field
    (u, v, w), the speed of a vector field, and every output itself."""
    outputs = list(problem.outputs)
    space = [a for a in problem.axes if a != "t"]
    derived = []
    if outputs[:3] == ["u", "v", "w"] and sorted(problem.periodic) == sorted(space):
        derived += list(DERIVED)
    if len(outputs) > 1:
        derived.append("speed")
    return derived + outputs


class Fields3DView(DiagnosticPanel):
    """Volume + isosurfaces of a derived quantity of one time slice of a 3D velocity field."""

    title = "3D fields"
    field = param.Selector(default="reference", objects=["reference", "prediction", "error"],
                           doc="Which field of the source (error: prediction minus reference)")
    quantity = param.Selector(default="vorticity magnitude", objects=list(QUANTITIES),
                              doc="Quantity shown: derived from the velocity, or an output")
    time_index = param.Integer(-1, bounds=(-1, None), doc="Index on the time grid (-1: last)")
    iso_fraction = param.Number(0.5, bounds=(0.0, 1.0), inclusive_bounds=(False, False),
                                doc="Isosurface at this fraction of the quantity's maximum")
    max_points = param.Integer(32 ** 3, bounds=(8, 2 ** 24), doc="Grid points sent to the browser")

    def __init__(self, **params):
        super().__init__(**params)
        self.volume = None  # pn.pane.VTKVolume, made on each show (see render.volume_pane)
        self.volume_holder = pn.Column(height=380, sizing_mode="stretch_width")
        self.scene = None  # pn.pane.VTK of the plotter's window, made on the first show
        self.scene_holder = pn.Column(height=380, sizing_mode="stretch_width")
        self.plotter = None

    def controls(self):
        return [pn.widgets.Select.from_param(self.param.field, width=120),
                pn.widgets.Select.from_param(self.param.quantity, width=170),
                pn.widgets.IntInput.from_param(self.param.time_index, width=90),
                pn.widgets.FloatInput.from_param(self.param.iso_fraction, width=100, step=0.05),
                pn.widgets.IntInput.from_param(self.param.max_points, width=110)]

    def set_source(self, source: Source | None, *, refresh: bool = False) -> None:
        """Offer only the quantities this source's problem has (a scalar heat field has no
        vorticity); keep the current one where it still applies."""
        if source is not None and len(source.problem.axes) == 4:
            options = quantities_for(source.problem)
            keep = self.quantity if self.quantity in options else options[0]
            self.param.quantity.objects = options
            self.quantity = keep
        super().set_source(source, refresh=refresh)

    def body(self):
        return [pn.Row(self.volume_holder, self.scene_holder, sizing_mode="stretch_width")]

    def compute(self, source: Source):
        p, snap = source.problem, source.snapshot
        space = tuple(a for a in p.axes if a != "t")
        if len(space) != 3 or snap is None:
            raise ValueError(f"the 3D field view needs a 3d+t problem; {p.key!r} has axes {tuple(p.axes)}")
        if self.field not in snap.fields:
            raise ValueError(f"{source.label or 'this source'} has no {self.field!r} field "
                             f"(it has {sorted(snap.fields)}); open a run for prediction and error")
        f = np.asarray(snap.fields[self.field])
        outputs = tuple(p.outputs)
        if f.ndim == len(p.axes):
            f = f[..., None]
        t_axis = p.axes.index("t") if "t" in p.axes else None
        if t_axis is not None:
            nt = f.shape[t_axis]
            if not -nt <= self.time_index < nt:
                raise ValueError(f"time_index must be in [-1, {nt - 1}], got {self.time_index}")
            f = np.take(f, self.time_index, axis=t_axis)
            t = float(snap.grid["t"][self.time_index])
        else:
            t = math.nan
        bounds = p.bounds()
        lengths = [bounds[a][1] - bounds[a][0] for a in space]
        if self.quantity in outputs:
            values = f[..., outputs.index(self.quantity)]
        elif self.quantity in DERIVED:
            if outputs[:3] != ("u", "v", "w"):
                raise ValueError(f"{self.quantity} needs a velocity field (u, v, w); {p.key!r} has "
                                 f"outputs {outputs}: choose one of {quantities_for(p)}")
            if tuple(sorted(p.periodic)) != tuple(sorted(space)):
                raise ValueError(f"{self.quantity} uses spectral derivatives on a periodic box; "
                                 f"{p.key!r} is periodic only in {tuple(p.periodic)}")
            vel = torch.as_tensor(np.moveaxis(f[..., :3], -1, 0))
            values = (vorticity_magnitude(vel, lengths) if self.quantity == "vorticity magnitude"
                      else q_criterion(vel, lengths)).numpy()
        elif self.quantity == "speed":  # |u| of the velocity
            n = min(3, f.shape[-1])
            values = np.sqrt((f[..., :n] ** 2).sum(-1))
        else:
            raise ValueError(f"quantity {self.quantity!r} is not available for {p.key!r}: "
                             f"choose one of {quantities_for(p)}")
        small, factor = downsample(values, self.max_points)
        small = np.ascontiguousarray(small)
        spacing = [factor * (snap.grid[a][1] - snap.grid[a][0]) for a in space]
        origin = [float(snap.grid[a][0]) for a in space]
        grid = render.volume_grid(small, spacing, origin, name=self.quantity)
        iso = float(self.iso_fraction * np.nanmax(small))
        surface = render.isosurface(grid, [iso], name=self.quantity)
        return dict(volume=small, spacing=spacing, origin=origin, factor=factor, grid=grid,
                    surface=surface, slices=render.slices(grid, name=self.quantity), isovalue=iso,
                    shape=values.shape, quantity=self.quantity, field=self.field, t=t,
                    range=(float(np.nanmin(small)), float(np.nanmax(small))))

    def show(self, r):
        self.volume = render.volume_pane(r["volume"], r["spacing"], r["origin"], height=380,
                                         sizing_mode="stretch_width")
        self.volume_holder.objects = [self.volume]
        if self.plotter is not None:
            self.plotter.close()
        self.plotter = render.plotter([
            (r["slices"], dict(scalars=r["quantity"], cmap=FIELD_CMAP, opacity=0.6, clim=r["range"],
                               show_scalar_bar=False)),
            (r["surface"], dict(color=ACCENT, smooth_shading=True)),
            (r["grid"].outline(), dict(color="black"))])
        self.scene = pn.pane.VTK(self.plotter.ren_win, height=380, sizing_mode="stretch_width")
        self.scene_holder.objects = [self.scene]
        n = "×".join(map(str, r["shape"]))
        shown = "×".join(map(str, r["volume"].shape))
        self.caption.object = (f"**{r['quantity']}** of the {r['field']} at t = {r['t']:.3g} · "
                               f"{n} grid shown as {shown} (down-sampled ×{r['factor']}) · "
                               f"isosurface at {r['isovalue']:.3g} "
                               f"({self.iso_fraction:.0%} of the maximum)")
