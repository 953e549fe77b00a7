"""The neural tangent kernel of a PINN, term by term: why a run fits one loss term and not another.

On one seeded batch of residual, initial and boundary points, the empirical NTK
(:mod:`lab.diagnostics.ntk`, Wang, Yu & Perdikaris 2022) gives each term's block ``K_tt``:
its eigenvalues, largest first (a fast-decaying spectrum is learnt slowly in its small
directions: spectral bias), and its mean trace ``tr K_tt / n_t`` — the rate at which that term's
residual decays under gradient descent. A data term whose rate is orders of magnitude below
the PDE's is the imbalance that NTK loss balancing (``balancing="ntk"``) corrects. Memory grows
with (points × parameters): a request above the budget is refused before anything is built.
"""
from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import numpy as np
import pandas as pd
import panel as pn
import param
import torch

from lab.diagnostics.ntk import empirical_ntk
from widgets.diagnostics.base import DiagnosticPanel, Source, copy_model
from widgets.theme import LOSS_COLORS, PLOT_HEIGHT, plot_pane


class NTKView(DiagnosticPanel):
    """Eigenvalues and mean traces of the NTK blocks of each loss term."""

    title = "NTK"
    needs_model = True
    n_pde = param.Integer(256, bounds=(1, 20_000), doc="Residual points of the NTK batch")
    n_ic = param.Integer(64, bounds=(0, 20_000), doc="Initial-condition points of the batch")
    n_bc = param.Integer(64, bounds=(0, 20_000), doc="Boundary points of the batch")
    seed = param.Integer(0, bounds=(0, 2**31 - 1), doc="Seed of the batch")
    memory_budget_mb = param.Number(1024.0, bounds=(1.0, 1e6), doc="Refuse requests needing more (MiB)")

    def __init__(self, **params):
        super().__init__(**params)
        self.spectrum_pane = plot_pane(None, sizing_mode="stretch_width", min_height=PLOT_HEIGHT + 60)
        self.table = pn.pane.DataFrame(pd.DataFrame(), index=False, width=380)

    def controls(self):
        return [pn.widgets.IntInput.from_param(self.param.n_pde, width=90),
                pn.widgets.IntInput.from_param(self.param.n_ic, width=80),
                pn.widgets.IntInput.from_param(self.param.n_bc, width=80)]

    def body(self):
        return [pn.Row(self.spectrum_pane, self.table, sizing_mode="stretch_width")]

    def compute(self, source: Source):
        if source.model is None:
            raise ValueError("the NTK needs a trained model: open a saved run or start one")
        if source.family != "pinn":
            raise ValueError(f"the NTK view differentiates a physics-informed residual; this model is "
                             f"of family {source.family!r}")
        model = copy_model(source.model)
        p0 = next(model.parameters())
        problem = source.problem
        batch = problem.sample(self.n_pde, self.n_ic, self.n_bc, torch.Generator().manual_seed(self.seed),
                               device=p0.device, dtype=p0.dtype)
        batch = {term: X for term, X in batch.items() if len(X)}  # a term given 0 points is left out
        ntk = empirical_ntk(lambda: problem.point_residuals(model, batch, "autograd"), model,
                            max_bytes=int(self.memory_budget_mb * 2**20))
        traces = ntk.traces()
        ratios = ntk.trace_ratios("pde") if "pde" in ntk.terms else {t: float("nan") for t in ntk.terms}
        return {"eigenvalues": {t: ntk.eigenvalues(t) for t in ntk.terms}, "traces": traces,
                "ratios": ratios, "sizes": dict(zip(ntk.terms, ntk.sizes))}

    def show(self, r):
        curves = []
        for i, (term, ev) in enumerate(r["eigenvalues"].items()):
            ev = ev[ev > 0]
            curves.append(hv.Curve((np.arange(1, len(ev) + 1), ev), "index", "eigenvalue", label=term)
                          .opts(color=LOSS_COLORS[(i + 1) % len(LOSS_COLORS)], line_width=2))
        self.spectrum_pane.object = hv.Overlay(curves).opts(
            logy=True, logx=True, height=PLOT_HEIGHT + 60, responsive=True, legend_position="top_right",
            title="eigenvalues of each term's NTK block, largest first")
        self.table.object = pd.DataFrame([
            {"term": t, "points": r["sizes"][t], "mean trace": f"{r['traces'][t]:.4g}",
             "÷ pde": f"{r['ratios'][t]:.3g}"} for t in r["traces"]])
        label = self.source.label if self.source is not None else ""
        worst = min(r["ratios"], key=lambda t: r["ratios"][t]) if r["ratios"] else None
        note = ""
        if worst is not None and np.isfinite(r["ratios"][worst]) and r["ratios"][worst] < 1e-2:
            note = (f" · the **{worst}** term decays {1 / r['ratios'][worst]:.0f}× slower than the PDE "
                    "residual: NTK balancing (training setting balancing = ntk) weighs it up")
        self.caption.object = f"NTK · {label}{note}"
