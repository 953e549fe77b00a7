"""Learning from data in the app: observations to fit, parameters to recover, their estimates.

* :class:`DataView` (a sidebar card) edits the training settings that add observations — sensors
  drawn from the reference (how many, their noise, layout and seed) or a file the user uploads
  (checked against the problem at once: a malformed file is refused with the reader's message
  and nothing changes) — and marks one of the problem's real-valued parameters trainable with
  its initial guess (:mod:`lab.training.inverse`).
* :func:`estimate_plot` draws each recovered parameter's estimate against its declared (true)
  value over the steps, from the ``inferred`` extras of the Step events; the method view
  streams them (:class:`widgets.method_views.MethodView`).
* :func:`sensor_points` marks the sensors on the field heatmaps.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

from lab.io.observations import SUFFIXES, read_observations, save_upload
from lab.training.inverse import check_guesses, inferable
from lab.training.runs import default_runs_dir
from widgets.alerts import Message
from widgets.forms import settings_form
from widgets.theme import LIVE_LEGEND, LOSS_COLORS, PLOT_HEIGHT

#: the training settings this card edits (the generic Training form leaves them out)
DATA_SETTINGS = ("sensors", "sensor_noise", "sensor_layout", "sensor_seed", "observations", "infer")
NONE = "(none)"


class DataView(pn.viewable.Viewer):
    """Observations and inferred parameters of the next run, written into ``train_config``."""

    def __init__(self, train_config, problem: Callable[[], object], runs_dir=None,
                 on_change: Callable[[str], None] | None = None):
        super().__init__()
        self.config, self.problem, self.on_change = train_config, problem, on_change
        self.folder = Path(runs_dir or default_runs_dir()) / "observations"
        self.sensors = settings_form(train_config, parameters=list(DATA_SETTINGS[:4]), on_change=self._changed)
        self.upload = pn.widgets.FileInput(accept=",".join(sorted(SUFFIXES)), sizing_mode="stretch_width")
        self.upload.param.watch(self._uploaded, "value")
        self.file_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.drop_file = pn.widgets.Button(label="Use sensors instead", visible=False, width=160)
        self.drop_file.on_click(lambda _: self.use_sensors())
        self.parameter = pn.widgets.Select(name="Recover parameter", options=[NONE], sizing_mode="stretch_width")
        self.guess = pn.widgets.FloatInput(name="Initial guess", value=None, sizing_mode="stretch_width")
        self.parameter.param.watch(self._infer, "value")
        self.guess.param.watch(self._infer, "value")
        self.message = Message()
        self._layout = pn.Column(
            pn.pane.Markdown("Fit sparse, noisy sensors of the reference (the loss term `data`) …"),
            self.sensors, pn.pane.Markdown("… or a file of observations (CSV, NPZ, HDF5, netCDF):"),
            self.upload, self.file_text, self.drop_file, self.parameter, self.guess, self.message,
            sizing_mode="stretch_width")
        self.problem_changed()

    def __panel__(self):
        return self._layout

    def problem_changed(self) -> None:
        """Another problem: its parameters to choose from; a file and a choice made for the last
        one no longer apply."""
        self.parameter.options = [NONE, *inferable(self.problem())]
        self.parameter.value = NONE
        self.use_sensors()

    def use_sensors(self) -> None:
        self.config.observations = ""
        self.file_text.object, self.drop_file.visible = "", False
        self.message.clear()

    def _changed(self, name: str) -> None:
        self.message.clear()
        if self.on_change is not None:
            self.on_change(name)

    def _uploaded(self, event) -> None:
        if not event.new:
            return
        filename = self.upload.filename or "upload.csv"
        try:
            path = save_upload(event.new, filename, self.folder)
            obs = read_observations(path, self.problem())
        except (ValueError, OSError) as err:  # named as the user knows the file
            self.message.show(str(err).replace(path.name, filename) if "path" in locals() else str(err))
            return
        self.config.param.update(sensors=0, observations=str(path))
        self.file_text.object = (f"**{len(obs)} observations** of {', '.join(obs.outputs)} "
                                 f"from `{self.upload.filename}`")
        self.drop_file.visible = True
        self._changed("observations")

    def _infer(self, *_events) -> None:
        name, guess = self.parameter.value, self.guess.value
        self.message.clear()
        if name == NONE:
            self.config.infer = {}
            return
        if guess is None:  # half the declared value: a guess worth correcting
            self.guess.value = float(getattr(self.problem(), name)) * 0.5 or 0.1
            return
        try:
            check_guesses(self.problem(), {name: guess})
            self.config.infer = {name: guess}
            if not (self.config.sensors or self.config.observations):
                self.config.sensors = 50
        except ValueError as err:
            self.config.infer = {}
            self.message.show(str(err))
            return
        self._changed("infer")


def estimate_rows(steps) -> list[dict]:
    """``{"step", "<name>", "<name> true", ...}`` of the Step events that carry estimates."""
    return [{"step": s.step, **s.extras["inferred"],
             **{f"{k} true": v for k, v in s.extras.get("inferred_true", {}).items()}}
            for s in steps if "inferred" in s.extras]


def estimate_plot(data: pd.DataFrame):
    """Each estimate (solid) against its declared value (dashed) over the steps."""
    names = [c for c in data.columns if c != "step" and not c.endswith(" true")]
    curves = []
    for i, name in enumerate(names):
        color = LOSS_COLORS[(i + 2) % len(LOSS_COLORS)]
        curves.append(hv.Curve(data, "step", hv.Dimension(name, label="value"), label=f"{name} estimate")
                      .opts(color=color, line_width=2, tools=["hover"]))
        if f"{name} true" in data:
            curves.append(hv.Curve(data, "step", hv.Dimension(f"{name} true", label="value"), label=f"{name} true")
                          .opts(color=color, line_dash="dashed"))
    last = data.iloc[-1] if len(data) else None
    title = "estimate vs truth" if last is None else " · ".join(
        f"{n} = {last[n]:.4g}" + (f" (true {last[f'{n} true']:.4g})" if f"{n} true" in data else "") for n in names)
    return hv.Overlay(curves).opts(title=title, height=PLOT_HEIGHT, responsive=True, framewise=True,
                                   legend_position=LIVE_LEGEND, xlabel="step", ylabel="value")


def sensor_points(extras: dict, h: str, v: str) -> hv.Points:
    """The sensors of a snapshot in the (horizontal, vertical) plane (none: an empty layer)."""
    sensors = extras.get("sensors") if extras else None
    if not sensors or h not in sensors["axes"] or v not in sensors["axes"]:
        return hv.Points(np.empty((0, 2)), kdims=[h, v])
    pts, axes = np.asarray(sensors["points"]), list(sensors["axes"])
    return hv.Points((pts[:, axes.index(h)], pts[:, axes.index(v)]), kdims=[h, v]).opts(
        color="white", line_color="black", size=6, marker="circle")
