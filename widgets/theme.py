"""Shared look: colour maps, line colours and plot sizes used by every view."""
from __future__ import annotations

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
#: vtk.js preset of FIELD_CMAP for volume rendering (a name vtk.js's colour presets know)
VOLUME_CMAP = "Viridis (matplotlib)"
