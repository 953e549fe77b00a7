"""Shared look: colour maps, line colours and plot sizes used by every view."""
from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the renderer set below)
import panel as pn

#: sequential map for prediction and reference (one shared colour scale)
FIELD_CMAP = "viridis"
#: diverging map for the signed error, centred on zero
ERROR_CMAP = "RdBu_r"
#: loss-term line colours (total first, then terms in the order the Trainer reports them)
LOSS_COLORS = ["#111111", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
               "#e377c2", "#17becf"]
ACCENT = "#2f6f8f"
# plots draw on a 2D canvas: HoloViews asks for WebGL, which a browser without a GPU (a
# headless or remote page, Binder) emulates on the CPU; a training page's browser used 17.8
# CPU-s per 20 s with WebGL and Div readouts, 12.1 with canvas (Chromium, see widgets/readout.py)
hv.renderer("bokeh").webgl = False
PLOT_HEIGHT = 250
#: legend place of plots redrawn while a run trains: inside the frame, because HoloViews takes a
#: legend outside it ("right") off the plot and puts it back at every update, and each of those
#: changes makes Bokeh walk every model of the page's document (see ``widgets.pages``)
LIVE_LEGEND = "top_right"
#: a spatial heatmap's drawing area: at most this high and this wide, its scales equal
FIELD_FRAME = (190, 400)
#: sequential map for residual magnitudes (log10 |r|)
RESIDUAL_CMAP = "magma"
#: vtk.js preset for volume rendering. Panel's bundled vtk.js looks presets up in its short
#: list of 11 (the matplotlib maps are not among them: picking one throws in the page and the
#: volume is drawn without colours); this is the sequential one closest to FIELD_CMAP's use.
VOLUME_CMAP = "Black-Body Radiation"


def field_frame(axes: tuple[str, str], bounds: dict) -> dict:
    """Size options of a heatmap over ``axes`` (horizontal, vertical) of a domain with ``bounds``.

    Two spatial axes keep equal scales, so a circle stays round and a 2:1 channel looks 2:1;
    a space–time map has no common unit and fills the width instead."""
    h, v = axes
    if "t" in axes:
        return dict(height=PLOT_HEIGHT, responsive=True)
    (h0, h1), (v0, v1) = bounds[h], bounds[v]
    high, wide = FIELD_FRAME
    ratio = (h1 - h0) / (v1 - v0)
    return dict(frame_height=max(int(min(high, wide / ratio)), 40), data_aspect=1)


def grid_extent(grid: dict, axes) -> dict:
    """(first, last) coordinate of each of ``axes`` in ``grid`` (arrays of coordinates)."""
    return {a: (float(min(grid[a])), float(max(grid[a]))) for a in axes}


#: lets a view be narrower than its widest row, which then scrolls sideways instead
FIT = {"min-width": "0", "max-width": "100%", "overflow-x": "auto"}


def fit_width(view):
    """``view`` as wide as the space it is given: every tab of the app was as wide as the
    widest row of any tab (rows of fixed-width controls), 1070 px of a 900 px main area at
    1280 x 800, and cut off on the right."""
    return pn.Column(view, sizing_mode="stretch_width", styles=FIT)


def plot_pane(obj, **params):
    """A HoloViews pane that keeps its own axes.

    Panel links the ranges of every HoloViews plot on a page that shares a dimension (other
    tabs included), re-pointing existing figures at a range made for a newly rendered one. Done
    while a layout update is being combined, that left the browser holding figures whose range
    it had never received ("reference … isn't known"), and those views stopped updating. So
    each plot zooms on its own.
    """
    return pn.pane.HoloViews(obj, linked_axes=False, **params)
