"""Shared look: colour maps, line colours and plot sizes used by every view."""
from __future__ import annotations

import panel as pn

#: sequential map for prediction and reference (one shared colour scale)
FIELD_CMAP = "viridis"
#: diverging map for the signed error, centred on zero
ERROR_CMAP = "RdBu_r"
#: loss-term line colours (total first, then terms in the order the Trainer reports them)
LOSS_COLORS = ["#111111", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
               "#e377c2", "#17becf"]
ACCENT = "#2f6f8f"
PLOT_HEIGHT = 250
#: sequential map for residual magnitudes (log10 |r|)
RESIDUAL_CMAP = "magma"
#: vtk.js preset for volume rendering. Panel's bundled vtk.js looks presets up in its short
#: list of 11 (the matplotlib maps are not among them: picking one throws in the page and the
#: volume is drawn without colours); this is the sequential one closest to FIELD_CMAP's use.
VOLUME_CMAP = "Black-Body Radiation"


def plot_pane(obj, **params):
    """A HoloViews pane that keeps its own axes.

    Panel links the ranges of every HoloViews plot on a page that shares a dimension (other
    tabs included), re-pointing existing figures at a range made for a newly rendered one. Done
    while a layout update is being combined, that left the browser holding figures whose range
    it had never received ("reference … isn't known"), and those views stopped updating. So
    each plot zooms on its own.
    """
    return pn.pane.HoloViews(obj, linked_axes=False, **params)
