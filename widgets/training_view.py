"""Live view of a training run: loss curves, prediction / reference / error fields, progress.

The Trainer runs in its own thread, or in a worker process (:mod:`lab.training.process`), and
its events land in a :class:`lab.training.events.Mailbox`; this view drains the mailbox on a
periodic callback (every ``poll_ms``) so neither side waits for the other. Steps go into a
:class:`widgets.history.History` (one line per loss term plus the weighted total, log scale); the
newest snapshot goes through an ``hv.streams.Pipe`` to the field plots, whose layout follows
the problem's axes:

* one axis (``"ode"``): each output against the reference over time, and the error;
* two or more axes: heatmaps over two of them — time horizontal and space vertical for
  ``"1d+t"`` (the PINN-paper convention), ``x`` horizontal and ``y`` vertical otherwise — with
  a slider for every remaining axis (``t`` for ``"2d+t"``, ``z`` and ``t`` for ``"3d+t"``).

Prediction and reference share one colour scale (the reference's range over the whole
domain); the signed error uses a diverging map centred on zero. A problem without a reference
(a user's own PDE) shows the prediction and the PDE residual ``|r|`` instead.
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Sequence

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import numpy as np
import panel as pn
import param

from lab.training.events import Done, Failed, Mailbox, Preparing, Snapshot, Started, Step
from widgets.geometry_view import mesh_error, mesh_field
from widgets.history import History
from widgets.inverse_view import sensor_points
from widgets.method_views import MethodView
from widgets.pages import batched_changes
from widgets.readout import Readout
from widgets.theme import ERROR_CMAP, FIELD_CMAP, LIVE_LEGEND, LOSS_COLORS, PLOT_HEIGHT, field_frame, plot_pane

#: another view showing the run: called with each drained ``(steps, snapshot, other events)``
Reader = Callable[[list[Step], Snapshot | None, list], None]


def time_left(first: Step, last: Step, total: int) -> float | None:
    """Seconds until step ``total`` at the pace from ``first`` to ``last`` (None: no pace yet)."""
    steps, seconds = last.step - first.step, last.elapsed - first.elapsed
    if steps <= 0 or seconds <= 0:
        return None
    return max(total - last.step, 0) * seconds / steps


def duration(seconds: float) -> str:
    """``seconds`` as a person reads them: "40 s", "3 min 20 s", "1 h 05 min"."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


#: a blank heatmap (NaN until the first snapshot) is meant: HoloViews' range of it warned at
#: every render, and those lines buried whatever else a served lab's log had to say
warnings.filterwarnings("ignore", message="All-NaN slice encountered", category=RuntimeWarning,
                        module="holoviews")


def queue_message(ticket) -> str:
    """Where a queued run stands, in the words of someone waiting for it."""
    if ticket.owner_full():
        return ("**Queued**: this session already trains as many runs as one session may at once; "
                "this one starts when yours ends. **Stop** removes it from the queue.")
    ahead = ticket.ahead()
    return (f"**Queued**, {ahead} ahead: the server trains as many runs at once as it can. "
            "This one starts when a slot frees. **Stop** removes it from the queue.")


def plot_axes(axes: Sequence[str]) -> tuple[str, str] | None:
    """(horizontal, vertical) axes of the heatmaps, or ``None`` for line plots over one axis."""
    if len(axes) < 2:
        return None
    space = [a for a in axes if a != "t"]
    if "t" in axes and len(space) == 1:
        return "t", space[0]
    return space[0], space[1]


#: the panes of a snapshot with a reference, and of one without
WITH_REFERENCE, WITHOUT_REFERENCE = ("prediction", "reference", "error"), ("prediction", "residual")


def residual_field(snapshot: Snapshot) -> np.ndarray | None:
    """``|r|`` of the snapshot on its field grid (nearest point of the residual's coarser grid;
    a system's components by their largest), or ``None`` when the snapshot has none."""
    res = snapshot.extras.get("residual")
    if not res:
        return None
    coarse, values = res["grid"], np.asarray(res["abs"])
    axes = [a for a in snapshot.grid if a in coarse]
    if values.ndim > len(axes):
        values = values.reshape(values.shape[:len(axes)] + (-1,)).max(-1)
    index = [np.abs(np.asarray(coarse[a])[None, :] - np.asarray(snapshot.grid[a])[:, None]).argmin(1)
             for a in axes]
    return values[np.ix_(*index)]


class FieldView(pn.viewable.Viewer):
    """Prediction, reference and error of one snapshot, laid out for the problem's axes
    (prediction and residual when the problem has no reference)."""

    def __init__(self, **params):
        super().__init__(**params)
        self.pipe = hv.streams.Pipe(data=None)
        self.snapshot: Snapshot | None = None
        self.axes: tuple[str, ...] = ()
        self.bounds: dict[str, tuple[float, float]] = {}
        self.outputs: tuple[str, ...] = ()
        self.output = pn.widgets.Select(label="Output", options=[], visible=False, width=140)
        self.output.param.watch(self._redraw, "value")
        self.sliders = pn.Row(sizing_mode="stretch_width")
        self._slider_for: dict[str, pn.widgets.DiscreteSlider] = {}
        self.caption = pn.pane.Markdown("### Fields", margin=(0, 10), sizing_mode="stretch_width")
        self.plots = pn.Row(sizing_mode="stretch_width")
        self._layout = pn.Column(self.caption, pn.Row(self.output, self.sliders), self.plots,
                                 sizing_mode="stretch_width")

    def __panel__(self):
        return self._layout

    # ---- set-up -------------------------------------------------------------------------
    def configure(self, bounds: dict[str, tuple[float, float]], outputs: Sequence[str]) -> None:
        """Rebuild the plots for a problem with these axis bounds and outputs (clears the fields)."""
        self.bounds = dict(bounds)
        self.axes, self.outputs = tuple(bounds), tuple(outputs)
        self.snapshot = None
        with param.parameterized.discard_events(self.output):
            self.output.options = list(self.outputs)
            self.output.value = self.outputs[0]
        self.output.visible = len(self.outputs) > 1
        self.sliders.objects, self._slider_for = [], {}
        self.caption.object = "### Fields"
        self._build_panes(WITH_REFERENCE)

    def _build_panes(self, shown: tuple[str, ...], on_mesh: bool = False) -> None:
        self.shown, self.on_mesh = shown, on_mesh
        self.pipe = hv.streams.Pipe(data=None)
        hv_axes = plot_axes(self.axes)
        if on_mesh:  # a reference at a mesh's nodes: drawn on its triangles
            panes = [hv.DynamicMap(lambda data, w=w: self._mesh(w, data), streams=[self.pipe]) for w in shown]
        elif hv_axes is None:
            panes = [hv.DynamicMap(self._lines, streams=[self.pipe]),
                     hv.DynamicMap(self._error_line, streams=[self.pipe])]
        else:
            panes = [hv.DynamicMap(lambda data, w=w: self._image(w, data), streams=[self.pipe])
                     for w in shown]
        self.plots.objects = [plot_pane(p, sizing_mode="stretch_width") for p in panes]

    def _make_sliders(self, grid: dict[str, np.ndarray]) -> None:
        shown = plot_axes(self.axes) or self.axes
        self._slider_for = {}
        for ax in self.axes:
            if ax in shown:
                continue
            values = grid[ax]
            options = {f"{v:.4g}": i for i, v in enumerate(values)}
            default = len(values) - 1 if ax == "t" else len(values) // 2
            s = pn.widgets.DiscreteSlider(label=ax, options=options, value=default, width=220)
            s.param.watch(self._redraw, "value")
            self._slider_for[ax] = s
        self.sliders.objects = list(self._slider_for.values())

    # ---- data ---------------------------------------------------------------------------
    def update(self, snapshot: Snapshot) -> None:
        """Show a snapshot (its grid must follow the configured axes)."""
        first = self.snapshot is None
        self.snapshot = snapshot
        if first:
            self._make_sliders(snapshot.grid)
        shown = WITH_REFERENCE if "reference" in snapshot.fields else WITHOUT_REFERENCE
        on_mesh = "nodes" in snapshot.extras
        if (shown, on_mesh) != (self.shown, self.on_mesh):
            self._build_panes(shown, on_mesh)
        self.caption.object = f"### Fields at step {snapshot.step} · " + (
            f"relative L2 {snapshot.rel_l2:.3e}" if snapshot.rel_l2 is not None
            else "no reference: prediction and PDE residual")
        self._redraw()

    def _redraw(self, *_):
        if self.snapshot is None:
            return
        snap, k = self.snapshot, self.outputs.index(self.output.value)
        fields = {w: (f[..., k] if len(self.outputs) > 1 else f) for w, f in snap.fields.items()}
        if "reference" not in fields:  # the residual |r| takes the error's place
            r = residual_field(snap)
            fields["residual"] = r if r is not None else np.full_like(fields["prediction"], np.nan)
        ref = fields.get("reference", fields["prediction"])
        lo, hi = float(np.nanmin(ref)), float(np.nanmax(ref))
        err = float(np.nanmax(np.abs(fields["error" if "error" in fields else "residual"]))) or 1e-12
        hv_axes = plot_axes(self.axes)
        if self.on_mesh:
            nodes = snap.extras["nodes"]
            data = {"nodes": nodes, "fields": {w: nodes[w][:, k] for w in WITH_REFERENCE}}
            ref, err = data["fields"]["reference"], float(np.abs(data["fields"]["error"]).max()) or 1e-12
            lo, hi = float(ref.min()), float(ref.max())
        elif hv_axes is None:
            data = {"coords": snap.grid[self.axes[0]], "fields": fields}
        else:
            h, v = hv_axes
            index = {ax: s.value for ax, s in self._slider_for.items()}
            sel = tuple(slice(None) if a in hv_axes else index[a] for a in self.axes)
            transpose = self.axes.index(h) < self.axes.index(v)  # arrays are [.., h, .., v, ..]
            data = {"h": snap.grid[h], "v": snap.grid[v],
                    "fields": {w: (f[sel].T if transpose else f[sel]) for w, f in fields.items()}}
        data.update(range=(lo, hi) if hi > lo else (lo - 1, hi + 1), err=err)
        self.pipe.send(data)

    # ---- elements -----------------------------------------------------------------------
    def _image(self, which: str, data):
        h, v = plot_axes(self.axes)
        name = self.output.value or "u"
        if which == "error":
            vdim = hv.Dimension("error", range=(-data["err"], data["err"]) if data else (None, None))
            opts = dict(cmap=ERROR_CMAP, title=f"error (prediction − reference) of {name}")
        elif which == "residual":
            vdim = hv.Dimension("residual", label="|r|", range=(0, data["err"]) if data else (None, None))
            opts = dict(cmap=FIELD_CMAP, title="PDE residual |r|")
        else:
            vdim = hv.Dimension(name, range=data["range"] if data else (None, None))
            opts = dict(cmap=FIELD_CMAP, title=f"{which} {name}")
        if data is None:  # blank over the domain until the first snapshot (zeros looked like data)
            (h0, h1), (v0, v1) = self.bounds[h], self.bounds[v]
            img = hv.Image(np.full((2, 2), np.nan), kdims=[h, v], vdims=[vdim],
                           bounds=(h0, v0, h1, v1))
        else:
            img = hv.Image((data["h"], data["v"], data["fields"][which]), kdims=[h, v], vdims=[vdim])
        img = img.opts(colorbar=True, framewise=True, tools=["hover"], toolbar="above",
                       **field_frame((h, v), self.bounds), **opts)
        if which != "prediction":
            return img
        # the sensors a run fits, over its prediction (an empty layer otherwise: one element type)
        return img * sensor_points(self.snapshot.extras if data is not None and self.snapshot else {}, h, v)

    def _mesh(self, which: str, data):
        """``which`` field at the nodes of the reference's mesh (:func:`widgets.geometry_view.mesh_field`)."""
        name, axes = self.output.value or "u", plot_axes(self.axes)
        if data is None:
            return mesh_field(np.zeros((0, 2)), np.zeros((0, 3)), np.zeros(0), axes, name, bounds=self.bounds)
        pts, tri, f = data["nodes"]["points"], data["nodes"]["triangles"], data["fields"][which]
        if which == "error":
            return mesh_error(pts, tri, f, axes, name, data["err"], self.bounds)
        return mesh_field(pts, tri, f, axes, name, f"{which} {name}", data["range"], bounds=self.bounds)

    def _lines(self, data):
        ax, name = self.axes[0], self.output.value or "u"
        if data is None:
            curves = [hv.Curve([], ax, name, label=w) for w in ("prediction", "reference")]
        else:
            f = data["fields"]
            curves = [hv.Curve((data["coords"], f["prediction"]), ax, name, label="prediction")]
            if "reference" in f:
                curves.append(hv.Curve((data["coords"], f["reference"]), ax, name, label="reference")
                              .opts(line_dash="dashed", color="black"))
        curves = [c.opts(framewise=True, tools=["hover"]) for c in curves]
        return hv.Overlay(curves).opts(title=f"{name}: prediction vs reference", height=PLOT_HEIGHT,
                                       responsive=True, legend_position="top_right")

    def _error_line(self, data):
        ax = self.axes[0]
        which = "residual" if data is not None and "error" not in data["fields"] else "error"
        if data is None:
            c = hv.Curve([], ax, "error")
        else:
            c = hv.Curve((data["coords"], data["fields"][which]), ax, which)
        title = "error (prediction − reference)" if which == "error" else "PDE residual |r|"
        return c.opts(framewise=True, height=PLOT_HEIGHT, responsive=True, color="#d62728",
                      title=title, tools=["hover"])


class TrainingView(pn.viewable.Viewer):
    """Runs one Trainer at a time and draws what it emits, live."""

    poll_ms = param.Integer(300, bounds=(20, 10_000), doc="How often the mailbox is drained")
    plot_every_s = param.Number(1.0, bounds=(0.0, 60.0),
                                doc="Least seconds between redraws of the loss and field plots")
    method_every_s = param.Number(5.0, bounds=(0.0, 60.0),
                                  doc="Least seconds between redraws of the method plots (a quarter of "
                                      "a served session's update cost at 2 s, with four sessions training)")
    step = param.Integer(0, doc="Step of the newest event shown")
    total_steps = param.Integer(1, doc="Step at which the current run ends")
    rel_l2 = param.Number(math.nan, doc="Relative L2 error of the newest snapshot")
    running = param.Boolean(False, doc="Whether a trainer is attached and has not finished")
    queued = param.Boolean(False, doc="Whether the attached run waits for a free training slot")
    stopping = param.Boolean(False, doc="Whether Stop was asked and the run is saving its checkpoint")

    def __init__(self, on_error: Callable[[str], None] | None = None,
                 on_finished: Callable[[Done | Failed], None] | None = None, **params):
        super().__init__(**params)
        self.on_error, self.on_finished = on_error, on_finished
        self.trainer = None
        self.ticket = None
        self._mailbox: Mailbox | None = None
        self._readers: list[Reader] = []
        self._callback = None
        self._method_steps: list[Step] = []
        self._method_snapshot: Snapshot | None = None
        self._method_drawn = -math.inf
        self._waiting: tuple[list[Step], Snapshot | None] = ([], None)  # not yet drawn
        self._plotted = -math.inf
        self.loss_history: History | None = None
        self._loss_columns: list[str] = []
        self.fields = FieldView()
        self.methods = MethodView()
        self.progress = pn.indicators.Progress(value=0, max=1, sizing_mode="stretch_width",
                                               bar_color="primary", height=18)
        self.status = pn.pane.Markdown("Ready. Pick a problem and a model, then **Train**.",
                                       sizing_mode="stretch_width")
        self.counter = Readout(label="Step", value="0", css_classes=["step-counter"])
        self.rel_text = Readout(label="Relative L2", value="–")
        self.loss_pane = plot_pane(self._empty_loss(), sizing_mode="stretch_width")
        self._layout = pn.Column(
            pn.Row(self.counter, self.rel_text, sizing_mode="stretch_width"),
            self.progress, self.status,
            pn.pane.Markdown("### Loss terms", margin=(0, 10)), self.loss_pane, self.fields,
            pn.Card(self.methods, title="Method", collapsed=False, sizing_mode="stretch_width"),
            sizing_mode="stretch_width")

    def __panel__(self):
        return self._layout

    # ---- lifecycle ----------------------------------------------------------------------
    def configure(self, bounds: dict[str, tuple[float, float]], outputs: Sequence[str]) -> None:
        """Clear the view for a problem with these axis bounds (in axes order) and outputs."""
        self.fields.configure(bounds, outputs)
        self.methods.configure(bounds, plot_axes(tuple(bounds)))
        self.loss_history, self._loss_columns = None, []
        self._method_steps, self._method_snapshot, self._method_drawn = [], None, -math.inf
        self._waiting, self._plotted = ([], None), -math.inf
        self.loss_pane.object = self._empty_loss()
        self.param.update(step=0, rel_l2=math.nan)
        self.progress.value = 0
        self.counter.value, self.rel_text.value = "0", "–"

    def start(self, trainer, ticket=None, readers: Sequence[Reader] = ()) -> None:
        """Subscribe to ``trainer`` (a Trainer, or a :class:`lab.training.process.ProcessTrainer`)
        and start draining its events; start it now, or once ``ticket`` (its place under the
        server's limits, :class:`lab.training.slots.Ticket`) is granted — the status shows the
        queue meanwhile, and Stop takes the run out of it. ``readers`` — the other views that
        show this run — get every drained batch ``(steps, snapshot, other)`` after this view:
        one mailbox and one periodic callback per run, however many views show it."""
        if self.running:
            raise RuntimeError("a run is already in progress; stop it first")
        p = trainer.problem
        self.configure(p.bounds(), p.outputs)
        self.trainer, self.ticket = trainer, ticket
        self._mailbox = Mailbox()
        self._readers = list(readers)
        trainer.subscribe(self._mailbox)
        if ticket is not None:  # the slot is free again the moment the run ends, seen or not
            trainer.subscribe(lambda ev: ticket.release() if isinstance(ev, (Done, Failed)) else None)
        c = trainer.config
        self.total_steps = max(trainer.step + c.steps + c.lbfgs_steps, 1)
        self.progress.max, self.progress.value = self.total_steps, trainer.step
        self.step = trainer.step
        self.status.object = f"Starting **{p.title}** with **{trainer.model_config.title}** …"
        self.running = True
        self.queued = ticket is not None and ticket.queued
        if not self.queued:
            trainer.start()
        else:
            self.status.object = queue_message(ticket)
        self._callback = pn.state.add_periodic_callback(self.drain, period=self.poll_ms)

    def stop(self) -> None:
        """Ask the trainer to stop; it checkpoints, and its Done event ends the polling. A run
        still queued leaves the queue, having trained nothing."""
        if self.queued:
            self.ticket.release()
            self._stop_polling()
            self.param.update(queued=False, running=False)
            self._mailbox = None
            self.status.object = "Removed from the queue; nothing was trained."
        elif self.trainer is not None and self.running:
            self.trainer.stop()
            self.stopping = True
            self.status.object = f"Stopping at step {self.step}: saving its checkpoint …"

    def pause(self) -> None:
        if self.trainer is not None:
            self.trainer.pause()
            self.status.object = f"Paused at step {self.step}."

    def resume(self) -> None:
        if self.trainer is not None:
            self.trainer.resume_training()
            self.status.object = f"Training … (step {self.step})"

    def shutdown(self) -> None:
        """Session closed: stop the trainer (its state is saved) and the polling."""
        self.stop()
        self._stop_polling()

    def _stop_polling(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    # ---- events -------------------------------------------------------------------------
    def drain(self) -> None:
        """Move everything the trainer posted since the last call into the plots."""
        if self._mailbox is None:
            return
        if self.queued:
            if self.ticket.granted:
                self.queued = False
                self.status.object = f"Starting **{self.trainer.problem.title}** …"
                self.trainer.start()
            else:
                self.status.object = queue_message(self.ticket)
            return
        alive = self.trainer.is_running  # read first: a thread already gone has posted everything
        steps, snapshot, other = self._mailbox.drain()
        if not alive and not any(isinstance(ev, (Done, Failed)) for ev in other):
            other.append(Failed(self.trainer.step, "the training thread ended without a result "
                                "(an error before the first step; see the server log)", "", None))
        # plots are redrawn at most every plot_every_s (a redraw is most of a drain's cost, which
        # the server's event loop pays for every session); events such as the end show at once
        steps, snapshot = self._waiting[0] + steps, snapshot or self._waiting[1]
        now = time.monotonic()
        if not other and now - self._plotted < self.plot_every_s:
            self._waiting = (steps, snapshot)
            return
        self._waiting, self._plotted = ([], None), now
        # Bokeh sends what a periodic callback changed, as one message, once it returns; batched,
        # the document walks its models at most once per drain, and not at all when only rows
        # were streamed (that walk, over the whole app, was half a served session's work while
        # it trained). Only a drain that merely updates plots is batched: a model created under
        # the batch joins the document only as it ends, so the page got it as first drawn (a loss
        # plot without points) and never its later changes in that drain.
        creates = bool(other) or (steps and self.loss_history is None) or (
            snapshot is not None and self.fields.snapshot is None)
        with contextlib.nullcontext() if creates else batched_changes(pn.state.curdoc):
            for ev in other:
                if isinstance(ev, Preparing):
                    self._on_preparing(ev)
                elif isinstance(ev, Started):
                    self._on_started(ev)
            if steps:
                self._on_steps(steps)
            if snapshot is not None:
                self._on_snapshot(snapshot)
            finished = [ev for ev in other if isinstance(ev, (Done, Failed))]
            self._update_methods(steps, snapshot, flush=bool(finished))
            for read in self._readers:
                read(steps, snapshot, other)
            for ev in finished:  # last: ``on_finished`` may start the next run
                self._on_finished(ev)

    def _update_methods(self, steps: list[Step], snapshot: Snapshot | None, *, flush: bool) -> None:
        """Hand steps and the newest snapshot to the method plots at most every
        ``method_every_s`` (and at the end of a run): rebuilding those HoloViews plots holds the
        GIL that the training thread needs, and redrawing them at every poll slowed training
        several-fold on two cores."""
        self._method_steps += steps
        self._method_snapshot = snapshot or self._method_snapshot
        now = time.monotonic()
        if flush or now - self._method_drawn >= self.method_every_s:
            self.methods.update(self._method_steps, self._method_snapshot)
            self._method_steps, self._method_snapshot, self._method_drawn = [], None, now

    def _on_preparing(self, ev: Preparing) -> None:
        self.status.object = f"{ev.text} · {ev.elapsed:.0f} s"

    def _on_started(self, ev: Started) -> None:
        self.status.object = (f"Training run `{ev.run_id}` on {ev.device} · "
                              f"{ev.n_params:,} parameters")

    def _on_steps(self, steps: list[Step]) -> None:
        rows = [{"step": s.step, "total": s.total, **s.losses} for s in steps]
        self.show_losses(rows)
        last = steps[-1]
        if getattr(self, "_first_step", None) is None or self._first_step.step >= last.step:
            self._first_step = steps[0]  # this session's pace is measured from here
        self.step = last.step
        self.progress.value = min(last.step, self.total_steps)
        left = time_left(self._first_step, last, self.total_steps)
        self.counter.value = f"{last.step} / {self.total_steps}" + (
            "" if left is None else f" · about {duration(left)} left")

    def _on_snapshot(self, snap: Snapshot) -> None:
        self.rel_l2 = snap.rel_l2 if snap.rel_l2 is not None else math.nan
        self.rel_text.value = f"{snap.rel_l2:.3e}" if snap.rel_l2 is not None else "– (no reference)"
        self.fields.update(snap)

    def _on_finished(self, ev: Done | Failed) -> None:
        self._stop_polling()
        self.param.update(running=False, stopping=False)
        self._mailbox = None
        self.step = ev.step
        self.counter.value = f"{ev.step} / {self.total_steps}"
        if isinstance(ev, Done):
            self.progress.value = min(ev.step, self.total_steps)
            rel = f"relative L2 {ev.rel_l2:.3e} · " if math.isfinite(ev.rel_l2) else ""
            self.status.object = (f"Run **{ev.reason}** at step {ev.step} in {ev.elapsed:.1f} s · "
                                  f"{rel}saved in `{ev.run_dir}`")
        else:
            kept = (f"the last good checkpoint (step {ev.checkpoint_step}) is kept"
                    if ev.checkpoint_step is not None else "no checkpoint was written")
            self.status.object = f"Run **failed** at step {ev.step}; {kept}."
            if self.on_error is not None:
                self.on_error(f"Training failed at step {ev.step}: {ev.message}")
        if self.on_finished is not None:
            self.on_finished(ev)

    # ---- loss curves --------------------------------------------------------------------
    def show_losses(self, rows: list[dict]) -> None:
        """Append rows ``{"step", "total", <term>: value, ...}`` to the loss plot."""
        if not rows:
            return
        if self.loss_history is None:
            self._loss_columns = ["step", "total"] + [k for k in rows[0] if k not in ("step", "total")]
            self.loss_history = History(self._loss_columns)
            self.loss_pane.object = hv.DynamicMap(self._loss_curves, streams=[self.loss_history.stream])
        self.loss_history.append(rows)

    def _loss_curves(self, data):
        curves = [hv.Curve(data, "step", hv.Dimension(c, label="loss"), label=c)
                  .opts(color=LOSS_COLORS[i % len(LOSS_COLORS)], line_width=2.5 if c == "total" else 1.5,
                        logy=True, framewise=True, tools=["hover"])
                  for i, c in enumerate(self._loss_columns[1:])]
        return hv.Overlay(curves).opts(height=PLOT_HEIGHT, responsive=True, legend_position=LIVE_LEGEND,
                                       ylabel="loss", xlabel="step")

    @staticmethod
    def _empty_loss():
        return hv.Curve([], "step", "loss").opts(logy=True, height=PLOT_HEIGHT, responsive=True,
                                                 title="waiting for the first steps")

    # ---- saved runs ---------------------------------------------------------------------
    def show_saved(self, bounds: dict[str, tuple[float, float]], outputs: Sequence[str],
                   snapshot: Snapshot, history: list[dict]) -> None:
        """Show a finished run: its logged losses and the fields of its checkpoint."""
        self.configure(bounds, outputs)
        self.show_losses(history)
        self._on_snapshot(snapshot)
        self.methods.update([], snapshot)
        self.step = snapshot.step
        self.counter.value = str(snapshot.step)
