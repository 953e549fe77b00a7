"""Live views of what the modern PINN methods do while a model trains.

Fed from the same events as the loss curves (:class:`lab.training.events.Step` and
:class:`~lab.training.events.Snapshot`), each panel appears once its data arrives:

* **causal weights** ``w_i = exp(−ε Σ_{k<i} L_k)`` per time chunk over training (x = step,
  y = chunk, colour = weight, fixed range [0, 1]) with the current ``ε`` — the front of
  resolved chunks sweeping forward in time is causal training at work (Wang et al. 2024);
* **residual map** ``|r|`` (log colour scale) on the coarsened grid the task evaluates it on:
  where the physics is still violated, independent of any reference;
* **PIG Gaussians** as their 1-σ ellipses ``{μ + A (cos θ, sin θ)}``, ``A Aᵀ = Σ`` restricted
  to the two plotted axes (the marginal of a Gaussian), over the predicted field, moving as
  they train (Kang et al. 2025);
* **characteristics** of a Lagrangian PINN, the moving grid ``x(ξ, t)`` it learned, over the
  prediction (Mojgani et al. 2023);
* **learning rate** and the **loss weights** actually applied (fixed or balanced) over steps;
* **recovered parameters**: each estimate against its declared value over steps
  (:func:`widgets.inverse_view.estimate_plot`).

Heatmaps use the (horizontal, vertical) axes the training view plots the fields over
(:func:`widgets.training_view.plot_axes`, passed to :meth:`MethodView.configure`); on problems
with more axes the slice shown is the last time and the middle of every other hidden axis.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import numpy as np
import pandas as pd
import panel as pn

from lab.training.events import Snapshot, Step
from widgets.inverse_view import estimate_plot, estimate_rows
from widgets.readout import Readout
from widgets.theme import FIELD_CMAP, LIVE_LEGEND, LOSS_COLORS, PLOT_HEIGHT, RESIDUAL_CMAP, field_frame, grid_extent, plot_pane

#: columns of step history kept per plot; beyond it every other column is dropped
HISTORY = 4000
#: points on each ellipse outline
ELLIPSE_POINTS = 33


def _thin(rows: list) -> list:
    return rows[::2] if len(rows) > HISTORY else rows


def ellipse_paths(means: np.ndarray, cov: np.ndarray, n: int = ELLIPSE_POINTS) -> np.ndarray:
    """1-σ outlines ``μ + A (cos θ, sin θ)`` with ``A Aᵀ = Σ`` (Cholesky): shape (N, n, 2)."""
    A = np.linalg.cholesky(cov)
    theta = np.linspace(0.0, 2 * np.pi, n)
    circle = np.stack([np.cos(theta), np.sin(theta)])          # (2, n)
    return means[:, None, :] + np.einsum("nij,jk->nki", A, circle)


def log_range(*series) -> tuple[float, float]:
    """Explicit y-limits for a log axis, at least a decade wide (NaN, i.e. automatic, without
    positive data).

    A constant series (the learning rate without a schedule, unit loss weights) otherwise gives
    the log axis a zero-width range.
    """
    v = np.concatenate([np.asarray(s, dtype=float).ravel() for s in series]) if series else np.empty(0)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return math.nan, math.nan
    lo, hi = float(v.min()), float(v.max())
    pad = max(1.2, (10 * lo / hi) ** 0.5)  # widen to a decade when the data spans less
    return lo / pad, hi * pad


def plane(arr: np.ndarray, axes: Sequence[str], shown: tuple[str, str]) -> np.ndarray:
    """The ``shown`` (horizontal, vertical) plane of ``arr``, as rows = vertical, columns = horizontal.

    Hidden axes are fixed at their last index for ``t`` and their middle otherwise.
    """
    sel = tuple(slice(None) if a in shown else (-1 if a == "t" else arr.shape[i] // 2)
                for i, a in enumerate(axes))
    sub = arr[sel]
    h, v = shown
    return sub.T if axes.index(h) < axes.index(v) else sub


class MethodView(pn.viewable.Viewer):
    """Causal weights, residual map, PIG Gaussians, learning rate and loss weights — live."""

    def __init__(self, **params):
        super().__init__(**params)
        self.axes: tuple[str, ...] = ()
        self.shown: tuple[str, str] | None = None
        self.bounds: dict[str, tuple[float, float]] = {}
        self.eps_text = Readout(label="Causal ε", value="–")
        self._sections: dict[str, pn.Column] = {}
        self._layout = pn.Column(sizing_mode="stretch_width")
        self.configure({}, None)

    def __panel__(self):
        return self._layout

    # ---- set-up -------------------------------------------------------------------------
    def configure(self, bounds: dict[str, tuple[float, float]], shown: tuple[str, str] | None) -> None:
        """Clear every panel for a problem with these axis bounds (in axes order).

        ``shown``: the (horizontal, vertical) axes of the heatmaps, ``None`` for one axis.
        """
        self.bounds, self.axes, self.shown = dict(bounds), tuple(bounds), shown
        self.causal_steps: list[int] = []
        self.causal_rows: list[list[float]] = []      # one list of chunk weights per step
        self.eps: float | None = None
        self.level: int | None = None
        self.residual: dict | None = None             # {"grid": ..., "abs": ...}
        self.gaussians: dict | None = None
        self.prediction: Snapshot | None = None
        self.eps_text.value = "–"
        self.schedule: hv.streams.Buffer | None = None  # created with the first rows' columns
        self.estimates: hv.streams.Buffer | None = None  # likewise, for recovered parameters
        self.pipes = {k: hv.streams.Pipe(data=None) for k in ("causal", "residual", "gaussians", "characteristics")}
        self._plots = {"causal": [self._causal_plot], "residual": [self._residual_plot],
                       "gaussians": [self._gaussian_plot],
                       "characteristics": [self._characteristics_plot]}  # the schedule's: _stream_schedule
        titles = {"causal": "### Causal weights per time chunk", "residual": "### Residual |r|",
                  "gaussians": "### PIG Gaussians (1σ ellipses) over the prediction",
                  "characteristics": "### Lagrangian PINN: the learned characteristics x(ξ, t) over the prediction",
                  "schedule": "### Learning rate and loss weights",
                  "inferred": "### Recovered parameters: estimate vs truth"}
        self._sections = {}
        for key in titles:
            extra = [self.eps_text] if key == "causal" else []
            self._sections[key] = pn.Column(pn.pane.Markdown(titles[key], margin=(0, 10)), *extra,
                                            visible=False, sizing_mode="stretch_width")
        self.placeholder = pn.pane.Markdown("Method diagnostics appear here once a PINN run emits them.")
        self._layout.objects = [self.placeholder, *self._sections.values()]

    # ---- data ---------------------------------------------------------------------------
    def update(self, steps: Sequence[Step], snapshot: Snapshot | None) -> None:
        """Add the steps and the newest snapshot drained since the last call."""
        if steps:
            self._add_steps(steps)
        if snapshot is not None:
            self._add_snapshot(snapshot)
        self.placeholder.visible = not any(s.visible for s in self._sections.values())

    def _add_steps(self, steps: Sequence[Step]) -> None:
        causal = [s for s in steps if "causal_weights" in s.extras]
        if causal:
            self.causal_steps = _thin(self.causal_steps + [s.step for s in causal])
            self.causal_rows = _thin(self.causal_rows + [list(s.extras["causal_weights"]) for s in causal])
            self.eps, self.level = causal[-1].extras["causal_eps"], causal[-1].extras["causal_level"]
            self.eps_text.value = f"{self.eps:g} (schedule level {self.level + 1})"
            self._show("causal", self.causal_data())
        rows = [{"step": s.step, "lr": s.lr, **{f"weight_{k}": float(w) for k, w in s.weights.items()}}
                for s in steps]
        self._stream_schedule(rows)
        estimates = estimate_rows(steps)
        if estimates:
            if self.estimates is None:
                empty = pd.DataFrame({c: pd.Series(dtype=float) for c in estimates[0]})
                self.estimates = hv.streams.Buffer(empty, length=HISTORY, index=False)
                self._sections["inferred"].append(plot_pane(hv.DynamicMap(estimate_plot, streams=[self.estimates]),
                                                            sizing_mode="stretch_width"))
                self._sections["inferred"].visible = True
            self.estimates.send(pd.DataFrame(estimates).reindex(columns=self.estimates.data.columns).astype(float))

    def _stream_schedule(self, rows: list[dict]) -> None:
        """Append rows to the learning-rate and loss-weight plots.

        Streamed through a ``Buffer`` (only new rows reach the browser), as the loss curves
        are: re-sending their whole history every redraw froze headless Chromium's page.
        """
        if self.schedule is None:
            columns = list(rows[0])
            empty = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
            self.schedule = hv.streams.Buffer(empty, length=HISTORY, index=False)
            self._sections["schedule"].extend(
                plot_pane(hv.DynamicMap(fn, streams=[self.schedule]), sizing_mode="stretch_width")
                for fn in (self._lr_plot, self._weights_plot))
            self._sections["schedule"].visible = True
        frame = pd.DataFrame(rows).reindex(columns=self.schedule.data.columns).astype(float)
        self.schedule.send(frame)

    def _add_snapshot(self, snap: Snapshot) -> None:
        if len(self.axes) < 1 or set(snap.grid) != set(self.axes):
            return
        if "residual" in snap.extras:
            self.residual = snap.extras["residual"]
            self._show("residual", self.residual)
        if "gaussians" in snap.extras and self.shown is not None:
            self.gaussians, self.prediction = snap.extras["gaussians"], snap
            self._show("gaussians", snap)
        if "characteristics" in snap.extras and self.shown is not None:
            self._show("characteristics", snap)

    def _show(self, key: str, data) -> None:
        """Send ``data`` to a panel, creating its plots on first use (a run shows only its own)."""
        section = self._sections[key]
        if not section.visible:
            section.append(pn.Row(*[plot_pane(hv.DynamicMap(fn, streams=[self.pipes[key]]),
                                              sizing_mode="stretch_width") for fn in self._plots[key]],
                                  sizing_mode="stretch_width"))
            section.visible = True
        self.pipes[key].send(data)

    def causal_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, chunk indices, weights of shape (chunks, steps)) as plotted."""
        W = np.asarray(self.causal_rows, dtype=float).T
        return np.asarray(self.causal_steps, dtype=float), np.arange(W.shape[0], dtype=float), W

    def residual_map(self) -> np.ndarray:
        """``|r|`` on the residual grid; a system's components are combined in the 2-norm."""
        r = np.asarray(self.residual["abs"])
        return np.sqrt((r ** 2).sum(-1)) if r.ndim > len(self.axes) else r

    def ellipses(self) -> np.ndarray:
        """Outlines of every Gaussian in the plotted (horizontal, vertical) plane, (N, n, 2)."""
        idx = [self.axes.index(a) for a in self.shown]
        g = self.gaussians
        cov = np.asarray(g["covariance"])[:, idx][:, :, idx]
        return ellipse_paths(np.asarray(g["means"])[:, idx], cov)

    # ---- elements -----------------------------------------------------------------------
    def _causal_plot(self, data):
        if data is None or data[2].size == 0:
            return hv.QuadMesh((np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.zeros((2, 2))),
                               kdims=["step", "chunk"], vdims=["w"]).opts(height=PLOT_HEIGHT,
                                                                               responsive=True)
        steps, chunks, W = data
        if len(steps) == 1:  # a mesh needs two columns to infer its cell edges
            steps, W = np.array([steps[0] - 0.5, steps[0] + 0.5]), np.repeat(W, 2, axis=1)
        eps = "–" if self.eps is None else f"{self.eps:g}"
        return hv.QuadMesh((steps, chunks, W), kdims=["step", hv.Dimension("chunk", label="time chunk")],
                           vdims=[hv.Dimension("w", label="causal weight", range=(0.0, 1.0))]).opts(
            cmap=FIELD_CMAP, colorbar=True, clim=(0.0, 1.0), framewise=True, height=PLOT_HEIGHT,
            responsive=True, tools=["hover"], title=f"causal weights w_i (ε = {eps})")

    def _heat(self, grid, arr, name, cmap, **opts):
        h, v = self.shown
        return hv.Image((grid[h], grid[v], plane(arr, self.axes, (h, v))), kdims=[h, v],
                        vdims=[name]).opts(cmap=cmap, colorbar=True, framewise=True, tools=["hover"],
                                           **field_frame((h, v), grid_extent(grid, (h, v))), **opts)

    def _blank(self, name: str, cmap: str) -> hv.Image:
        """An empty heatmap over the plotted axes, until the first snapshot: blank (NaN, not
        zeros that look like data), with the colour map and colour bar of the frames to come
        (HoloViews keeps the first frame's choice)."""
        h, v = self.shown or ("x", "y")
        (h0, h1), (v0, v1) = self.bounds.get(h, (0, 1)), self.bounds.get(v, (0, 1))
        return hv.Image(np.full((2, 2), np.nan), kdims=[h, v], vdims=[name],
                        bounds=(h0, v0, h1, v1)).opts(cmap=cmap, colorbar=True,
                                                      **field_frame((h, v), {h: (h0, h1), v: (v0, v1)}))

    def _residual_plot(self, data):
        if data is None:
            if self.shown is None:
                return hv.Curve([], self.axes[0] if self.axes else "t", "|r|").opts(
                    height=PLOT_HEIGHT, responsive=True)
            return self._blank("log10 |r|", RESIDUAL_CMAP)
        r = self.residual_map()
        log = np.log10(np.maximum(r, np.finfo(float).tiny))
        title = f"log10 |r| (max {r.max():.2e}, mean {r.mean():.2e})"
        if self.shown is None:
            ax = self.axes[0]
            return hv.Curve((data["grid"][ax], r), ax, "|r|").opts(
                logy=True, ylim=log_range(r), framewise=True, height=PLOT_HEIGHT, responsive=True,
                title=title)
        return self._heat(data["grid"], log, "log10 |r|", RESIDUAL_CMAP, title=title)

    def _gaussian_plot(self, data):
        snap = data
        h, v = self.shown or ("x", "y")
        if snap is None:
            return self._blank("prediction", FIELD_CMAP) * hv.Path([], kdims=[h, v]) * hv.Points([], kdims=[h, v])
        pred = snap.fields["prediction"]
        if pred.ndim > len(self.axes):
            pred = pred[..., 0]
        img = self._heat(snap.grid, pred, "prediction", FIELD_CMAP)
        paths = hv.Path(list(self.ellipses()), kdims=[h, v]).opts(color="white", alpha=0.6, line_width=1)
        means = np.asarray(self.gaussians["means"])
        dots = hv.Points((means[:, self.axes.index(h)], means[:, self.axes.index(v)]), kdims=[h, v]).opts(
            color="black", size=3)
        (h0, h1), (v0, v1) = self.bounds[h], self.bounds[v]
        return (img * paths * dots).opts(
            title=f"{len(means)} Gaussians at step {snap.step}", xlim=(h0, h1), ylim=(v0, v1))

    def _characteristics_plot(self, data):
        """The moving grid of a Lagrangian PINN: a few of its lines, as the task drew them in
        (t, x), over the prediction on the fixed grid."""
        h, v, snap = *self.shown, data
        if snap is None:
            return self._blank("prediction", FIELD_CMAP) * hv.Path([], kdims=[h, v])
        lines = snap.extras["characteristics"]["lines"]
        lines = [line if (h, v) == ("t", "x") else line[:, ::-1] for line in lines]
        img = self._heat(snap.grid, snap.fields["prediction"], "prediction", FIELD_CMAP)
        return (img * hv.Path(lines, kdims=[h, v]).opts(color="black", alpha=0.7, line_width=1)).opts(
            title=f"characteristics at step {snap.step}")

    _LINE = dict(logy=True, framewise=True, height=PLOT_HEIGHT, responsive=True, tools=["hover"])

    def _lr_plot(self, data: pd.DataFrame):
        return hv.Curve(data, "step", "lr").opts(title="learning rate", color=LOSS_COLORS[0],
                                                 ylim=log_range(data["lr"]), **self._LINE)

    def _weights_plot(self, data: pd.DataFrame):
        terms = [k for k in data.columns if k.startswith("weight_")]
        ylim = log_range(*(data[k] for k in terms))
        curves = [hv.Curve(data, "step", hv.Dimension(k, label="weight"), label=k[len("weight_"):])
                  .opts(color=LOSS_COLORS[(i + 1) % len(LOSS_COLORS)], ylim=ylim, **self._LINE)
                  for i, k in enumerate(terms)]
        return hv.Overlay(curves).opts(title="loss weights applied", legend_position=LIVE_LEGEND,
                                       ylabel="weight")
