"""Equation discovery in the app: which equation produced noisy samples of the picked problem?

The form edits a :class:`lab.discovery.DiscoveryConfig` (samples, noise, library, thresholds);
*Discover* runs :func:`lab.discovery.discover` on the problem the sidebar shows (with its
parameters) in a thread of its own. Each thresholding is posted to a mailbox that a periodic
callback moves into the table (term, found and true coefficient, relative error), a bar plot
of the active terms against the true ones, and the coefficients' history over the
iterations, so the page never waits for the fit. *Stop* ends the fit with a last thresholding.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import pandas as pd
import panel as pn
import param

from lab.discovery import DiscoveryConfig, discover, equation_text
from widgets.alerts import Message
from widgets.forms import settings_form
from widgets.theme import ACCENT, PLOT_HEIGHT, plot_pane


class DiscoveryView(pn.viewable.Viewer):
    """A discovery form, the active terms and their coefficients as the fit goes."""

    poll_ms = param.Integer(default=500, bounds=(50, None), doc="How often new thresholdings are shown")

    def __init__(self, current: Callable[[], object], **params):
        """``current()`` gives the problem the sidebar shows (with its parameters)."""
        super().__init__(**params)
        self.current = current
        self.config = DiscoveryConfig()
        self.form = settings_form(self.config, on_error=lambda msg: self.alert.show(msg))
        self.run_button = pn.widgets.Button(label="Discover", color="primary", width=110)
        self.stop_button = pn.widgets.Button(label="Stop", color="danger", width=90, disabled=True)
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.alert = Message()
        self.status = pn.pane.Markdown("Pick a 1D evolution problem (Burgers, KdV, Kuramoto–Sivashinsky) "
                                       "in the sidebar, then *Discover*.", sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=220,
                                          layout="fit_data_stretch", sizing_mode="stretch_width")
        self.bars = plot_pane(self._bars({}, None), sizing_mode="stretch_width")
        self.curves = plot_pane(self._history([]), sizing_mode="stretch_width")
        self.history: list = []
        self.truth: dict | None = None
        self._mailbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._callback = None
        self._layout = pn.Column(
            pn.pane.Markdown("Fit a PINN to noisy samples of the problem's reference and find "
                             "$u_t = \\Theta(u)\\,\\xi$ by sparse regression (STLSQ) over products of "
                             "$u^p$ and its $x$-derivatives, alternating with the fit."),
            pn.Card(self.form, title="Discovery settings", collapsed=True, sizing_mode="stretch_width"),
            pn.Row(self.run_button, self.stop_button), self.alert, self.status,
            pn.Row(self.bars, self.curves, sizing_mode="stretch_width"), self.table,
            sizing_mode="stretch_width")

    def __panel__(self):
        return self._layout

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """Start a discovery on the sidebar's problem, in the background."""
        if self.running:
            self.alert.show("A discovery is running: stop it first.")
            return
        problem = self.current()
        if tuple(problem.axes) != ("x", "t") or len(problem.outputs) != 1 or not problem.has_reference():
            self.alert.show(f"Equation discovery needs a scalar field u(x, t) with a reference; "
                            f"{problem.title} has axes {tuple(problem.axes)}. Pick Burgers, KdV or "
                            f"Kuramoto–Sivashinsky.")
            return
        self.alert.clear()
        self.history, self.truth = [], None
        self._stop.clear()
        self.status.object = f"Fitting **{problem.title}** to {self.config.sensors} noisy samples …"
        config = DiscoveryConfig(**self.config.to_dict())
        self._thread = threading.Thread(target=self._drive, args=(problem, config), name="sciml-lab-discovery",
                                        daemon=True)
        self._thread.start()
        self.run_button.disabled, self.stop_button.disabled = True, False
        if pn.state.curdoc is not None and self._callback is None:
            self._callback = pn.state.add_periodic_callback(self.drain, period=self.poll_ms)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _drive(self, problem, config) -> None:
        try:
            result = discover(problem, config, callback=lambda s: self._mailbox.put(("step", s)),
                              stop=self._stop.is_set)
            self._mailbox.put(("done", result))
        except Exception as err:  # shown to the user; the page keeps running
            self._mailbox.put(("failed", f"{type(err).__name__}: {err}"))

    def drain(self) -> None:
        """Move new thresholdings into the table and plots."""
        ended = None
        changed = False
        while True:
            try:
                kind, item = self._mailbox.get_nowait()
            except queue.Empty:
                break
            if kind == "step":
                self.history.append(item)
                changed = True
            else:
                ended = (kind, item)
        if ended is not None and ended[0] == "done":
            self.truth = ended[1].truth
        if changed or ended is not None:
            self._show()
        if ended is not None:
            kind, item = ended
            self.run_button.disabled, self.stop_button.disabled = False, True
            if kind == "failed":
                self.alert.show(f"The discovery ended early: {item}")
            else:
                self.status.object = (f"Found **{item.equation()}**" +
                                      (f"; true {equation_text(item.truth)}" if item.truth else ""))

    def _show(self) -> None:
        last = self.history[-1].coefficients if self.history else {}
        truth = self.truth or {}
        rows = [{"term": n, "found": last.get(n), "true": truth.get(n),
                 "relative error": abs(last.get(n, 0.0) - truth[n]) / abs(truth[n]) if n in truth else None}
                for n in dict.fromkeys([*last, *truth])]
        self.table.value = pd.DataFrame(rows)
        self.bars.object = self._bars(last, self.truth)
        self.curves.object = self._history(self.history)
        if self.history:
            s = self.history[-1]
            self.status.object = f"Iteration {s.step}: {equation_text(s.coefficients)}"

    @staticmethod
    def _bars(found: dict, truth: dict | None) -> hv.Element:
        data = [(n, "found", v) for n, v in found.items()] + [(n, "true", v) for n, v in (truth or {}).items()]
        return hv.Bars(data, ["term", "which"], "coefficient").opts(
            height=PLOT_HEIGHT, responsive=True, tools=["hover"], framewise=True, multi_level=False,
            color=hv.dim("which").categorize({"found": ACCENT, "true": "#999999"}),
            title="active terms (found) and the true ones" if data else "no thresholding yet")

    @staticmethod
    def _history(history: list) -> hv.Element:
        names = list(dict.fromkeys(n for s in history for n in s.coefficients))
        curves = [hv.Curve([(s.step, s.coefficients.get(n, 0.0)) for s in history], "iteration", "coefficient",
                           label=n) for n in names]
        return hv.Overlay(curves or [hv.Curve([], "iteration", "coefficient")]).opts(
            height=PLOT_HEIGHT, responsive=True, framewise=True, title="coefficients over the fit")
