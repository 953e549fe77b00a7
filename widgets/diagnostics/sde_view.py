"""Stable neural SDEs beside the neural ODE on the source's chaotic trajectory, irregularly observed.

The problem's reference (an ODE problem: Lorenz-63, Lorenz-96, ...) is split in time; of the
training half a fraction ``missing`` of the points is dropped. The neural ODE and the chosen
SDE class (:mod:`lab.uq.sde`: Langevin-type, linear-noise or geometric, Oh, Lim & Kim 2024)
are trained on what is left and rolled out over the held-out half: the table gives the
forecast error, the 90 % coverage of the SDE's paths, and the Hellinger distances of the
invariant densities and power spectra to the reference. The SDE's sample paths are drawn on
the attractor view, around the reference (black) and the ODE's rollout.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import param

from lab.models.neural_sde import SDE_CLASSES
from lab.training.events import Snapshot
from lab.uq.sde import series, train_and_forecast
from widgets.diagnostics.attractor_view import AttractorView
from widgets.diagnostics.base import DiagnosticPanel, Source


class NeuralSDEView(DiagnosticPanel):
    """Trains the neural ODE and one stable SDE class; table of scores, paths on the attractor."""

    title = "Neural SDE"
    sde_class = param.Selector(default="linear_noise", objects=list(SDE_CLASSES), doc="Stable SDE class")
    missing = param.Number(0.5, bounds=(0.0, 0.99), doc="Fraction of the training points dropped")
    steps = param.Integer(150, bounds=(1, 1_000_000), doc="Adam steps of each model")
    paths = param.Integer(8, bounds=(1, 64), doc="SDE sample paths drawn")
    seed = param.Integer(0, bounds=(0, 2**31 - 1), doc="Seed of the missing points, initialisations and noise")

    def __init__(self, **params):
        super().__init__(**params)
        self.table = pn.pane.DataFrame(pd.DataFrame(), index=False, sizing_mode="stretch_width")
        self.attractor = AttractorView(max_points=1500)

    def controls(self):
        return [pn.widgets.Select.from_param(self.param.sde_class, width=130),
                pn.widgets.FloatInput.from_param(self.param.missing, width=90),
                pn.widgets.IntInput.from_param(self.param.steps, width=90)]

    def body(self):
        return [self.table, self.attractor.scene_holder]

    def compute(self, source: Source):
        p = source.problem
        if tuple(p.axes) != ("t",) or len(p.outputs) < 3:
            raise ValueError(f"neural SDEs here learn an ODE problem's trajectory (3 or more state "
                             f"variables); {p.key!r} has axes {tuple(p.axes)} and outputs {tuple(p.outputs)}")
        data = series(p, missing=self.missing, seed=self.seed)
        runs = [train_and_forecast(p, kind, missing=self.missing, steps=self.steps, seed=self.seed,
                                   eval_samples=self.paths, data=data)
                for kind in ("neural_ode", self.sde_class)]
        ode, sde = runs
        t = sde.t
        snap = Snapshot(0, {"t": t}, {"reference": sde.reference, "prediction": ode.paths[:, 0]}, None,
                        extras={"sample_paths": [sde.paths[:, i] for i in range(sde.paths.shape[1])]})
        paths = self.attractor.compute(Source(p, snap, label=f"held-out {p.title}"))
        return {"rows": [r.row() for r in runs], "paths": paths}

    def show(self, r):
        self.table.object = pd.DataFrame([{k: (f"{v:.4g}" if isinstance(v, float) and np.isfinite(v) else v)
                                           for k, v in row.items()} for row in r["rows"]])
        self.attractor.show(r["paths"])
        label = self.source.label if self.source is not None else ""
        self.caption.object = (f"Neural SDE · {label} · {100 * self.missing:.0f} % of the training points "
                               f"missing · black: reference, blue: neural ODE, light: {self.sde_class} SDE paths")
