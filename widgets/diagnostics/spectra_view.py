"""Energy spectra ``E(k)`` of periodic fields: prediction against reference, errors per band.

Shell spectra from :func:`lab.diagnostics.spectra.energy_spectrum` on log-log axes with a
Kolmogorov ``k^-5/3`` guide (:func:`~lab.diagnostics.spectra.power_law_guide`, through the
reference at ``anchor``), and the relative error in low / mid / high wavenumber bands
(:func:`~lab.diagnostics.spectra.band_errors`, band edges at a third and two thirds of the
largest shell) as bars. A spectrum over fewer axes than the field has (e.g. 1D spectra along
``x`` of a 3D field) averages over the remaining ones.
"""
from __future__ import annotations

import math

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import numpy as np
import panel as pn
import param
import torch

from lab.diagnostics.spectra import BANDS, band_errors, energy_spectrum, power_law_guide
from widgets.diagnostics.base import DiagnosticPanel, Source
from widgets.theme import LOSS_COLORS, PLOT_HEIGHT, plot_pane


#: decades below its peak a spectrum's axis shows: further down lies round-off (1e-40 and less
#: for a smooth or single-mode field), which squeezed the spectrum into the top of the plot
DECADES = 12


def spectrum_ylim(*spectra) -> tuple[float, float]:
    """Log-axis limits from the spectra's peak down to their smallest value or ``DECADES``."""
    v = np.concatenate([np.asarray(E, dtype=float).ravel() for E in spectra])
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return math.nan, math.nan
    hi = float(v.max())
    return max(float(v.min()), hi * 10.0 ** -DECADES) / 2, hi * 2


def spatial_field(source: Source, which: str, time_index: int, ndim: int | None, component: str):
    """``(array (*batch, [C,] n_1..n_d), ndim, lengths, vector)`` ready for ``energy_spectrum``."""
    p, snap = source.problem, source.snapshot
    space = [a for a in p.axes if a != "t"]
    if not space:
        raise ValueError(f"{p.key!r} has no spatial axis (axes {tuple(p.axes)}): no energy spectrum")
    ndim = len(space) if ndim is None else ndim
    if ndim > len(space):
        raise ValueError(f"a {ndim}D spectrum needs {ndim} spatial axes; {p.key!r} has "
                         f"{len(space)} ({', '.join(space)})")
    used = space[:ndim]
    not_periodic = [a for a in used if a not in p.periodic]
    if not_periodic:
        raise ValueError(f"an energy spectrum needs a periodic domain; {p.key!r} is not periodic "
                         f"in {', '.join(not_periodic)}")
    if which not in snap.fields:
        raise ValueError(f"{source.label or 'this source'} has no {which!r} field")
    f = np.asarray(snap.fields[which])
    outputs = tuple(p.outputs)
    if f.ndim == len(p.axes):
        f = f[..., None]
    if "t" in p.axes:
        nt = f.shape[p.axes.index("t")]
        if not -nt <= time_index < nt:
            raise ValueError(f"time_index must be in [-1, {nt - 1}], got {time_index}")
        f = np.take(f, time_index, axis=p.axes.index("t"))
    axes = [a for a in p.axes if a != "t"]  # remaining array axes, then outputs
    vector = component == "kinetic energy"
    if vector:
        names = ("u", "v", "w")[:len(space)]
        if outputs[:len(space)] != names:
            raise ValueError(f"kinetic energy needs velocity outputs {names}; {p.key!r} has {outputs}")
        f = f[..., :len(space)]
    else:
        if component not in outputs:
            raise ValueError(f"{component!r} is not an output of {p.key!r} ({outputs})")
        f = f[..., outputs.index(component)][..., None]
    # (axes..., C) -> (other axes..., C, used axes...)
    order = [axes.index(a) for a in axes if a not in used] + [len(axes)] + [axes.index(a) for a in used]
    f = np.transpose(f, order)
    if not vector:
        f = f[..., 0, *([slice(None)] * ndim)]
    bounds = p.bounds()
    lengths = [bounds[a][1] - bounds[a][0] for a in used]
    return torch.as_tensor(np.ascontiguousarray(f)), ndim, lengths, vector


class SpectraView(DiagnosticPanel):
    """Shell spectra of prediction and reference with a ``k^-5/3`` guide, and band errors."""

    title = "Spectra"
    ndim = param.Selector(default="auto", objects=["auto", 1, 2, 3],
                          doc="Spectrum dimension (auto: every spatial axis)")
    component = param.Selector(default="kinetic energy", objects=["kinetic energy"],
                               doc="Kinetic energy of the velocity, or one output")
    time_index = param.Integer(-1, bounds=(-1, None), doc="Index on the time grid (-1: last)")
    anchor = param.Number(2.0, bounds=(0.0, None), inclusive_bounds=(False, True),
                          doc="Wavenumber where the k^-5/3 guide meets the reference")

    def __init__(self, **params):
        super().__init__(**params)
        self.spectrum_pane = plot_pane(self._empty(), sizing_mode="stretch_width")
        self.bands_pane = plot_pane(hv.Bars([], "band", "relative error"), width=300)

    def set_source(self, source, *, refresh=False):
        if source is not None:
            self.param.component.objects = ["kinetic energy", *source.problem.outputs]
            if self.component not in self.param.component.objects:
                self.component = "kinetic energy"
        super().set_source(source, refresh=refresh)

    def controls(self):
        return [pn.widgets.Select.from_param(self.param.ndim, width=80),
                pn.widgets.Select.from_param(self.param.component, width=140),
                pn.widgets.IntInput.from_param(self.param.time_index, width=90),
                pn.widgets.FloatInput.from_param(self.param.anchor, width=90)]

    def body(self):
        return [pn.Row(self.spectrum_pane, self.bands_pane, sizing_mode="stretch_width")]

    @staticmethod
    def _empty():
        return hv.Curve([], "k", "E(k)").opts(logx=True, logy=True, height=PLOT_HEIGHT, responsive=True)

    def compute(self, source: Source):
        if source.snapshot is None:
            raise ValueError("no fields to analyse yet")
        ndim = None if self.ndim == "auto" else int(self.ndim)
        out = {"curves": {}, "bands": None}
        fields = {}
        for which in ("reference", "prediction"):
            if which in source.snapshot.fields:
                fields[which], d, lengths, vector = spatial_field(source, which, self.time_index,
                                                                  ndim, self.component)
        for which, f in fields.items():
            k, E = energy_spectrum(f, d, lengths, vector=vector)
            E = E.reshape(-1, k.numel()).mean(0)
            out["curves"][which] = (k.numpy(), E.numpy())
        if not fields:
            raise ValueError("the snapshot has no spatial field to analyse")
        # without a reference (a user's own PDE) the guide follows the prediction's spectrum
        k, E_ref = out["curves"]["reference" if "reference" in fields else "prediction"]
        out["guide"] = (k, power_law_guide(torch.as_tensor(k), torch.as_tensor(E_ref), self.anchor).numpy())
        if "prediction" in fields and "reference" in fields:
            kmax = float(k[-1])
            err = band_errors(fields["prediction"], fields["reference"], d, (kmax / 3, 2 * kmax / 3),
                              lengths, vector=vector, relative_to="total")
            out["bands"] = {b: float(err[b].reshape(-1).square().mean().sqrt()) for b in BANDS}
        out.update(ndim=d, component=self.component)
        return out

    def show(self, r):
        curves = []
        for i, (which, (k, E)) in enumerate(r["curves"].items()):
            keep = (k > 0) & (E > 0)
            style = dict(color="black", line_dash="dashed") if which == "reference" else dict(color=LOSS_COLORS[1])
            curves.append(hv.Curve((k[keep], E[keep]), "k", "E(k)", label=which).opts(**style))
        k, g = r["guide"]
        keep = np.isfinite(g) & (g > 0)
        curves.append(hv.Curve((k[keep], g[keep]), "k", "E(k)", label="k^-5/3").opts(color="#999999",
                                                                                    line_dash="dotted"))
        self.spectrum_pane.object = hv.Overlay(curves).opts(
            logx=True, logy=True, ylim=spectrum_ylim(*(E for _k, E in r["curves"].values())), height=PLOT_HEIGHT, responsive=True, legend_position="bottom_left",
            title=f"{r['ndim']}D shell spectrum of {r['component']}")
        if r["bands"] is not None:
            self.bands_pane.object = hv.Bars(list(r["bands"].items()), "band", "relative error").opts(
                height=PLOT_HEIGHT, width=300, color=LOSS_COLORS[3], title="error per band (share of total)")
        label = self.source.label if self.source is not None else ""
        self.caption.object = f"Energy spectra · {label}"
