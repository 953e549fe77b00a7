"""Loss landscapes and Hessian spectra of a physics-informed model's full training loss.

The loss is the sum of the problem's loss terms (``problem.losses``: residual, initial and
boundary terms) on one fixed batch of points drawn from a seeded generator, so every grid
point sees the same function. Around the model's parameters ``theta*`` it is evaluated on a
line or plane (:mod:`lab.diagnostics.landscape`) spanned by filter-normalised random
directions (Li et al. 2018) or by the top principal components of the run's parameter
trajectory (recorded at each snapshot of a live run), with the path drawn over the
contours. The Hessian (:mod:`lab.diagnostics.hessian`) gives its top eigenvalues (Lanczos),
its trace (Hutchinson) and its spectral density (stochastic Lanczos quadrature).

Memory: a request is refused with a message when the estimated working set — directions,
the grid, one loss evaluation's intermediates (measured), the Lanczos basis — exceeds
``memory_budget_mb``.
"""
from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import numpy as np
import pandas as pd
import panel as pn
import param
import torch

from lab.diagnostics.hessian import HessianOperator, hutchinson_trace, spectral_density, top_eigenvalues
from lab.diagnostics.landscape import (estimate_memory, flat_parameters, landscape_1d, landscape_2d,
                                       measure_activation_bytes, pca_directions, random_directions)
from widgets.diagnostics.base import DiagnosticPanel, Source, copy_model
from lab.diagnostics.landscape import physics_loss
from widgets.theme import ACCENT, FIELD_CMAP, PLOT_HEIGHT, plot_pane


class LandscapeView(DiagnosticPanel):
    """1D/2D slice of the physics-informed loss around the model, with Hessian statistics."""

    title = "Loss landscape"
    needs_model = True
    dims = param.Selector(default=2, objects=[1, 2], doc="Line (1) or plane (2)")
    directions = param.Selector(default="random", objects=["random", "pca"],
                                doc="Filter-normalised random directions, or the PCA of the run's path")
    resolution = param.Integer(21, bounds=(3, 4001), doc="Grid points per direction")
    span = param.Number(1.0, bounds=(1e-4, 100.0), doc="Coefficients range over [-span, span]")
    n_pde = param.Integer(512, bounds=(1, 1_000_000), doc="Residual points of the fixed loss batch")
    n_ic = param.Integer(128, bounds=(0, 1_000_000), doc="Initial-condition points of the batch")
    n_bc = param.Integer(128, bounds=(0, 1_000_000), doc="Boundary points of the batch")
    hessian_k = param.Integer(3, bounds=(0, 50), doc="Top Hessian eigenvalues (0: skip the Hessian)")
    seed = param.Integer(0, bounds=(0, 2**31 - 1), doc="Seed of the batch, directions and probes")
    memory_budget_mb = param.Number(1024.0, bounds=(1.0, 1e6), doc="Refuse requests needing more (MiB)")

    def __init__(self, **params):
        super().__init__(**params)
        # nothing drawn until computed (a blue square of zeros looked like a landscape)
        self.landscape_pane = plot_pane(None, sizing_mode="stretch_width", min_height=PLOT_HEIGHT + 100)
        self.density_pane = plot_pane(hv.Curve([], "eigenvalue", "density"), width=360)
        self.table = pn.pane.DataFrame(pd.DataFrame(), index=False, width=360)

    def controls(self):
        return [pn.widgets.Select.from_param(self.param.dims, width=60),
                pn.widgets.Select.from_param(self.param.directions, width=100),
                pn.widgets.IntInput.from_param(self.param.resolution, width=90),
                pn.widgets.FloatInput.from_param(self.param.span, width=80),
                pn.widgets.IntInput.from_param(self.param.hessian_k, width=80)]

    def body(self):
        return [pn.Row(self.landscape_pane, pn.Column(self.table, self.density_pane),
                       sizing_mode="stretch_width")]

    def compute(self, source: Source):
        if source.model is None:
            raise ValueError("a loss landscape needs a trained model: open a saved run or start one")
        if source.family != "pinn":
            raise ValueError(f"the landscape view slices a physics-informed loss; this model is of "
                             f"family {source.family!r}")
        model = copy_model(source.model)
        p0 = next(model.parameters())
        loss = physics_loss(source.problem, self.n_pde, self.n_ic, self.n_bc, self.seed, p0.device, p0.dtype)
        theta = flat_parameters(model)
        P, itemsize = theta.numel(), theta.element_size()
        act = measure_activation_bytes(lambda: loss(model), p0.device)
        n_points = self.resolution ** self.dims
        lanczos = (max(4 * self.hessian_k, 40) + 20) if self.hessian_k else 0
        need = (estimate_memory(P, self.dims, 1, act, itemsize) + n_points * (self.dims + 1) * 8
                + (lanczos * P * itemsize + 3 * act if self.hessian_k else 0))
        budget = self.memory_budget_mb * 2 ** 20
        if need > budget:
            grid = "×".join([str(self.resolution)] * self.dims)
            raise ValueError(f"a {grid} landscape of this model ({P:,} parameters, "
                             f"{act / 2**20:.1f} MiB per loss evaluation) needs about "
                             f"{need / 2**20:.1f} MiB, above the memory budget of "
                             f"{self.memory_budget_mb:.0f} MiB; lower the resolution or n_pde")
        gen = torch.Generator().manual_seed(self.seed)
        path = None
        if self.directions == "pca":
            if len(source.trajectory) < self.dims + 1:
                raise ValueError(f"PCA directions need at least {self.dims + 1} parameter snapshots of "
                                 f"the run; it has {len(source.trajectory)} (a live run records one "
                                 "per snapshot)")
            pca = pca_directions(torch.stack([*source.trajectory[:-1], theta]).to(theta), self.dims)
            dirs, path = pca.directions, pca.coords.numpy()
            extent = float(np.abs(path).max()) * 1.2 or self.span
        else:
            dirs = random_directions(model, self.dims, gen)
            extent = self.span
        coef = torch.linspace(-extent, extent, self.resolution, dtype=torch.float64)
        if self.dims == 1:
            land = landscape_1d(model, loss, dirs[0], coef, memory_budget=budget)
        else:
            land = landscape_2d(model, loss, dirs[0], dirs[1], coef, coef, memory_budget=budget)
        out = {"axes": [a.numpy() for a in land.axes], "values": land.values.double().numpy(),
               "path": path, "center": float(loss(model).detach()), "hessian": None}
        if self.hessian_k:
            op = HessianOperator(model, loss)
            vals, _ = top_eigenvalues(op, self.hessian_k, gen, tol=1e-6, max_iter=lanczos)
            trace, se = hutchinson_trace(op, 10, gen)
            dens = spectral_density(op, 2, min(30, op.n), gen)
            ev = vals.double()
            t = torch.linspace(float(dens.nodes.min()), float(dens.nodes.max()), 200, dtype=torch.float64)
            sigma = max(1e-3 * float(ev.abs().max()), 1e-12)
            sigma = max(sigma, float(t[-1] - t[0]) / 100)
            out["hessian"] = {"eigenvalues": ev.numpy(), "trace": trace, "trace_se": se,
                              "density": (t.numpy(), dens.on_grid(t, sigma).double().numpy())}
        return out

    def show(self, r):
        label = self.source.label if self.source is not None else ""
        if len(r["axes"]) == 1:
            plot = hv.Curve((r["axes"][0], r["values"]), "α", "loss").opts(
                logy=True, color=ACCENT, height=PLOT_HEIGHT + 100, responsive=True, tools=["hover"])
        else:
            a, b = r["axes"]
            img = hv.Image((a, b, np.log10(r["values"]).T), ["α", "β"], "log10 loss")
            plot = img.opts(cmap=FIELD_CMAP, colorbar=True, height=PLOT_HEIGHT + 100, responsive=True,
                            tools=["hover"]) * hv.operation.contours(img, levels=12).opts(
                                cmap=["#ffffff"], line_width=1, show_legend=False)
            if r["path"] is not None:
                plot = plot * hv.Path([r["path"]], ["α", "β"]).opts(color="red", line_width=2) \
                    * hv.Scatter(r["path"], "α", "β").opts(color="red", size=5)
            plot = plot * hv.Scatter([(0.0, 0.0)], "α", "β").opts(color="white", marker="x", size=12)
        self.landscape_pane.object = plot.opts(title=f"loss around θ* ({self.directions} directions)")
        h = r["hessian"]
        if h is not None:
            rows = [{"quantity": f"λ{i + 1}", "value": float(v)} for i, v in enumerate(h["eigenvalues"])]
            rows.append({"quantity": "trace (± s.e.)", "value": f"{h['trace']:.4g} ± {h['trace_se']:.2g}"})
            self.table.object = pd.DataFrame(rows)
            self.density_pane.object = hv.Curve(h["density"], "eigenvalue", "density").opts(
                color=ACCENT, logy=False, height=PLOT_HEIGHT - 40, width=360, title="Hessian spectral density")
        self.caption.object = f"Loss landscape · {label} · loss at θ* = {r['center']:.4g}"
