"""Attractors of ODE problems: phase portraits, Lyapunov spectra, dimensions, invariant densities.

The portrait draws the snapshot's trajectories (reference, and a model's rollout) as 3D
polylines in a ``pn.pane.VTK`` (vtk.js), strided to ``max_points`` vertices. On request
("Compute invariants", seconds to minutes) both vector fields — the problem's and a neural
ODE's — are sampled on their attractors from one start and compared:

* Lyapunov spectrum (Benettin / Shimada–Nagashima, :func:`lab.diagnostics.attractors.lyapunov_spectrum`),
* Kaplan–Yorke dimension ``D_KY`` and Grassberger–Procaccia correlation dimension ``D_2``,
* the Hellinger distance of the invariant densities and their marginal histograms.
"""
from __future__ import annotations

import copy

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import numpy as np
import pandas as pd
import panel as pn
import param
import torch

from lab.diagnostics.attractors import (correlation_dimension, density_distance, kaplan_yorke_dimension,
                                        lyapunov_estimate, reference_spectrum, sample_attractor)
from widgets import render
from widgets.diagnostics.base import DiagnosticPanel, Source
from widgets.theme import ACCENT, PLOT_HEIGHT, plot_pane

COLORS = {"reference": "black", "prediction": ACCENT, "true": "black", "learned": ACCENT}
#: sample paths of a stochastic model (a snapshot's ``extras["sample_paths"]``)
SAMPLE_COLOR = "#9bbbd4"


def decimate(x: np.ndarray, max_points: int) -> np.ndarray:
    """Every ``ceil(N / max_points)``-th row of ``x``."""
    return x[::max(1, -(-len(x) // max_points))]


class AttractorView(DiagnosticPanel):
    """Phase portrait of the source's trajectories; invariants of true and learned fields on demand."""

    title = "Attractors"
    max_points = param.Integer(4000, bounds=(10, 1_000_000), doc="Vertices drawn per trajectory")
    dt = param.Number(0.01, bounds=(1e-5, 1.0), doc="Integration step for the invariants")
    lyapunov_time = param.Number(20.0, bounds=(0.1, 10_000.0), doc="Averaging time T of the Lyapunov spectrum")
    lyapunov_starts = param.Integer(8, bounds=(2, 256),
                                    doc="Independent starts on the attractor the exponents average over")
    n_samples = param.Integer(3000, bounds=(100, 20_000), doc="Attractor samples for D_2 and densities")
    transient = param.Number(5.0, bounds=(0.0, 1000.0), doc="Time discarded before sampling")

    def __init__(self, **params):
        super().__init__(**params)
        self._want_invariants = False
        self.invariants_button = pn.widgets.Button(label="Compute invariants", width=150)
        self.invariants_button.on_click(lambda _: self.compute_invariants())
        self.scene = None  # pn.pane.VTK of the plotter's window, made on the first show
        self.scene_holder = pn.Column(height=380, sizing_mode="stretch_width")
        self.table = pn.pane.DataFrame(pd.DataFrame(), index=False, sizing_mode="stretch_width")
        self.density_pane = plot_pane(None, sizing_mode="stretch_width")
        self.plotter = None

    def controls(self):
        return [self.invariants_button,
                pn.widgets.IntInput.from_param(self.param.max_points, width=110),
                pn.widgets.FloatInput.from_param(self.param.lyapunov_time, width=110)]

    def body(self):
        return [self.scene_holder,
                pn.pane.Markdown("#### Invariants (true vs learned)\n*Compute invariants* estimates the "
                                 "Lyapunov spectrum (mean over independent starts on the attractor, "
                                 "± its 95% interval), the Kaplan–Yorke and correlation dimensions "
                                 "and the invariant densities; *published* rows give the literature's "
                                 "values where the parameters are those they were published at."),
                self.table,
                self.density_pane]

    def compute_invariants(self, *, background: bool = True) -> bool:
        self._want_invariants = True
        return self.refresh(background=background)

    def compute(self, source: Source):
        want, self._want_invariants = self._want_invariants, False
        p, snap = source.problem, source.snapshot
        if tuple(p.axes) != ("t",) or len(p.outputs) < 3:
            raise ValueError(f"the attractor view needs an ODE problem with at least 3 state "
                             f"variables; {p.key!r} has axes {tuple(p.axes)} and outputs {tuple(p.outputs)}")
        paths = {}
        if snap is not None:
            for which in ("reference", "prediction"):
                if which in snap.fields:
                    x = np.asarray(snap.fields[which]).reshape(len(snap.grid["t"]), -1)[:, :3]
                    if np.isfinite(x).all():
                        paths[which] = decimate(x, self.max_points)
            for i, x in enumerate(snap.extras.get("sample_paths", ())):
                x = np.asarray(x)[:, :3]
                if np.isfinite(x).all():
                    paths[f"sample {i + 1}"] = decimate(x, self.max_points)
        out = {"paths": paths, "table": None, "samples": None}
        if want:
            out.update(self._invariants(source))
        return out

    def _invariants(self, source: Source) -> dict:
        p = source.problem
        true = p.field()
        fields = {"true": lambda y: true(0.0, y)}
        model = source.model
        if model is not None and hasattr(model, "field") and source.family == "ode":
            learned = copy.deepcopy(model).to(dtype=torch.float64, device="cpu")
            fields["learned"] = learned.field
        # two nearby starts (their mean exponents; a batch of one trips lyapunov_spectrum's jvp)
        x0 = p.initial_state()[None] + torch.tensor([[0.0], [1e-3]], dtype=torch.float64)
        n_transient = int(round(self.transient / self.dt))
        n_lyap = int(round(self.lyapunov_time / self.dt))
        rows, samples = [], {}
        with torch.no_grad():
            for name, f in fields.items():
                est = lyapunov_estimate(f, x0[0], self.dt, n_lyap, n_starts=self.lyapunov_starts,
                                        n_transient=n_transient)
                lam = est.exponents
                s = sample_attractor(f, x0, self.dt, self.n_samples, every=5, n_transient=n_transient)[:, 0]
                if not (torch.isfinite(lam).all() and torch.isfinite(s).all()):
                    raise ValueError(f"the {name} field leaves every bounded region from {x0[0].tolist()}: "
                                     "no attractor to measure (train longer)")
                samples[name] = s
                row = {"field": name}
                row.update({f"λ{i + 1}": float(v) for i, v in enumerate(lam)})
                row["± λ1 (95%)"] = float(est.half_width[0])
                row["D_KY"] = kaplan_yorke_dimension(lam)
                row["D_2"] = correlation_dimension(s, theiler=10).dimension
                rows.append(row)
        published = reference_spectrum(p.key, p.config())
        if published is not None:
            rows.append({"field": "published", **{f"λ{i + 1}": v for i, v in enumerate(published)},
                         "D_KY": kaplan_yorke_dimension(torch.tensor(published))})
        if "learned" in samples:
            h = density_distance(samples["true"], samples["learned"])
            for row in rows:
                if row["field"] in ("true", "learned"):
                    row["Hellinger (vs true)"] = 0.0 if row["field"] == "true" else h
        return {"table": pd.DataFrame(rows), "samples": {k: v.numpy() for k, v in samples.items()}}

    def show(self, r):
        import pyvista as pv

        meshes = []
        for which, x in r["paths"].items():
            meshes.append((pv.lines_from_points(np.ascontiguousarray(x, dtype=np.float64)),
                           dict(color=COLORS.get(which, SAMPLE_COLOR), line_width=1.5 if which in COLORS else 0.8)))
        if self.plotter is not None:
            self.plotter.close()
        self.plotter = render.plotter(meshes)
        self.scene = pn.pane.VTK(self.plotter.ren_win, height=380, sizing_mode="stretch_width")
        self.scene_holder.objects = [self.scene]
        label = self.source.label if self.source is not None else ""
        n = ", ".join(f"{w}: {len(x)} vertices" for w, x in r["paths"].items())
        self.caption.object = f"Phase portrait · {label} · {n} (strided to at most {self.max_points})"
        if r["table"] is not None:
            self.table.object = r["table"].round(4)
            hists = []
            names = list(r["samples"])
            for i, ax in enumerate(self.source.problem.outputs[:3]):
                lo = min(r["samples"][w][:, i].min() for w in names)
                hi = max(r["samples"][w][:, i].max() for w in names)
                edges = np.linspace(lo, hi, 41)
                hs = [hv.Histogram(np.histogram(r["samples"][w][:, i], edges, density=True), kdims=[ax],
                                   vdims=["density"], label=w).opts(fill_alpha=0.35, color=COLORS[w], height=PLOT_HEIGHT - 50, width=260) for w in names]
                hists.append(hv.Overlay(hs).opts(title=f"invariant density of {ax}"))
            self.density_pane.object = hv.Layout(hists).opts(shared_axes=False).cols(3)
