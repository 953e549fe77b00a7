"""How far a prediction can be trusted: predictive spread beside the error, and calibration.

For the source's problem (a PINN problem with a reference, or an operator problem) one of
three methods of :mod:`lab.uq` gives a mean and a standard deviation at every point: a deep
ensemble (its members trained together as one vectorised model), MC dropout, or a
last-layer Laplace approximation — of the loaded run's own model where there is one, else of
a network trained here. A useful spread is large where the error is; the coverage curve
shows what fraction of the truth falls in each nominal central interval (on the diagonal:
calibrated; below: over-confident). The table gives coverage at 50/90/95 %, the Gaussian NLL,
the CRPS and the spread–error correlation (:mod:`lab.diagnostics.calibration`).
"""
from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import numpy as np
import pandas as pd
import panel as pn
import param

from lab.diagnostics.calibration import coverage_curve
from lab.uq.methods import METHODS, run_uq
from widgets.catalogue_view import field_image
from widgets.diagnostics.base import DiagnosticPanel, Source, copy_model
from widgets.theme import ACCENT, PLOT_HEIGHT, plot_pane


class UncertaintyView(DiagnosticPanel):
    """Spread map, error map, coverage curve and calibration table of one UQ method."""

    title = "Uncertainty"
    needs_model = True
    method = param.Selector(default="ensemble", objects=list(METHODS), doc="Uncertainty method")
    members = param.Integer(4, bounds=(2, 64), doc="Ensemble members")
    rate = param.Number(0.1, bounds=(0.0, 0.99), doc="MC dropout rate")
    steps = param.Integer(300, bounds=(1, 1_000_000), doc="Adam steps of each network trained here")
    width = param.Integer(32, bounds=(2, 1024), doc="MLP neurons per layer, or FNO channels")
    seed = param.Integer(0, bounds=(0, 2**31 - 1), doc="Seed of initialisations, points and masks")

    def __init__(self, **params):
        super().__init__(**params)
        self.maps = plot_pane(None, sizing_mode="stretch_width", min_height=PLOT_HEIGHT + 40)
        self.curve = plot_pane(None, width=340, height=PLOT_HEIGHT + 40)
        self.table = pn.pane.DataFrame(pd.DataFrame(), index=False, sizing_mode="stretch_width")

    def controls(self):
        return [pn.widgets.Select.from_param(self.param.method, width=110),
                pn.widgets.IntInput.from_param(self.param.members, width=80),
                pn.widgets.FloatInput.from_param(self.param.rate, width=80),
                pn.widgets.IntInput.from_param(self.param.steps, width=90)]

    def body(self):
        return [self.maps, pn.Row(self.curve, self.table, sizing_mode="stretch_width")]

    def compute(self, source: Source):
        problem = source.problem
        model = None
        if self.method == "laplace" and source.model is not None and source.family in ("pinn", "operator"):
            model = copy_model(source.model)
        r = run_uq(problem, self.method, members=self.members, rate=self.rate, steps=self.steps,
                   width=self.width, seed=self.seed, model=model)
        nominal, observed = coverage_curve(r.reference, r.mean, r.std)
        first = (lambda a: a[0]) if problem.kind == "operator" else (lambda a: a)  # noqa: E731
        axes = tuple(problem.snapshot_axes if problem.kind == "operator" else problem.axes)
        return {"grid": problem.grid(), "axes": axes, "std": first(r.std), "error": first(r.error),
                "nominal": nominal, "observed": observed, "row": r.row(), "trained_here": model is None}

    def show(self, r):
        if len(r["axes"]) == 2:
            self.maps.object = (field_image(r["grid"], r["std"], r["axes"], "σ", title="predictive spread σ")
                                + field_image(r["grid"], r["error"], r["axes"], "|error|",
                                              title="|mean − reference|")).opts(shared_axes=False)
        else:
            x = r["grid"][r["axes"][0]]
            self.maps.object = (hv.Curve((x, r["std"]), r["axes"][0], "value", label="σ")
                                * hv.Curve((x, r["error"]), r["axes"][0], "value", label="|error|")).opts(
                height=PLOT_HEIGHT, responsive=True, title="predictive spread and error")
        diag = hv.Curve(([0, 1], [0, 1]), "nominal coverage", "observed coverage").opts(color="grey", line_dash="dashed")
        obs = hv.Curve((r["nominal"], r["observed"]), "nominal coverage", "observed coverage").opts(
            color=ACCENT, line_width=2)
        self.curve.object = (diag * obs * hv.Scatter((r["nominal"], r["observed"])).opts(color=ACCENT, size=5)).opts(
            title="calibration of the central intervals", width=340, height=PLOT_HEIGHT + 40)
        self.table.object = pd.DataFrame([{k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r["row"].items()}])
        label = self.source.label if self.source is not None else ""
        whose = "networks trained here" if r["trained_here"] else "the loaded run's model"
        c90 = r["row"]["cov90"]
        verdict = "over-confident" if c90 < 0.8 else "under-confident" if c90 > 0.97 else "roughly calibrated"
        self.caption.object = (f"Uncertainty · {label} · **{r['row']['method']}** of {whose} · the 90 % interval "
                               f"covers {100 * c90:.0f} % of the reference: {verdict}")
