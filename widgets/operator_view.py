"""Live views of an operator-learning run (problems of ``kind = "operator"``).

Everything drawn here comes from the events :class:`lab.training.tasks.operator.OperatorTask`
makes the Trainer emit; the view computes nothing itself:

* one validation sample side by side — input, prediction, truth and signed error. In 1D these
  are curves (prediction over a dashed truth); in 2D heatmaps where prediction and truth share
  one colour scale (the range of both, so neither saturates) and the error uses a diverging
  map centred on zero. A rollout problem shows its last input frame and the last predicted frame;
* the relative L2 error against the autoregressive rollout step (log y): for a chaotic system
  it grows roughly like ``exp(lambda_1 t)``;
* the shell-averaged energy spectra of prediction and truth (log-log, periodic grids only): an
  FNO truncated to ``modes`` frequencies per layer shows where its spectrum falls off;
* training curves — the batch data loss (relative L2, Li et al. 2021) per logged step and the
  validation relative L2 per snapshot, with the trivial predictor's error as a dashed level
  (the mean training output for maps, persistence ``u(t_{k+r}) ~ u(t_k)`` for rollouts);
* a zero-shot super-resolution button that evaluates the trained model, unchanged, on the same
  samples stored at a finer grid (:func:`lab.training.tasks.operator.super_resolution`).

:class:`OperatorView` is the Panel view (``attach(trainer)`` to follow a run live, or feed it
events with :meth:`OperatorView.show`); the element functions (:func:`sample_elements`,
:func:`rollout_element`, :func:`spectrum_element`, :func:`history_element`,
:func:`operator_layout`) return plain HoloViews objects for notebooks and static reports.
"""
from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Callable, Iterable, Sequence

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import numpy as np
import pandas as pd
import panel as pn
import param

from lab.data.datasets import DatasetSpec
from lab.problems import BaseProblem
from lab.problems.operators import OperatorProblem
from lab.training.events import Done, Event, Failed, Mailbox, Preparing, Snapshot, Started, Step
from lab.training.tasks.operator import super_resolution
from widgets.alerts import Message
from widgets.history import ROWS_KEPT, History
from widgets.theme import ERROR_CMAP, FIELD_CMAP, LOSS_COLORS, PLOT_HEIGHT, field_frame, grid_extent, plot_pane
from widgets.training_view import plot_axes

FIELDS = ("input", "prediction", "reference", "error")
INPUT_CMAP = "cividis"
SR_FACTORS = 4         # finer resolutions offered at most


# ---- checks and helpers -------------------------------------------------------------------
def check_snapshot(snapshot: Snapshot, axes: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``snapshot`` holds one operator sample on a grid over ``axes``."""
    if not isinstance(snapshot, Snapshot):
        raise ValueError(f"expected a Snapshot event, got {type(snapshot).__name__}")
    missing = [f for f in FIELDS if f not in snapshot.fields]
    if missing:
        raise ValueError(f"snapshot at step {snapshot.step} lacks the operator fields {missing} "
                         f"(has {sorted(snapshot.fields)}); is this an operator run?")
    if tuple(snapshot.grid) != tuple(axes):
        raise ValueError(f"snapshot grid has axes {tuple(snapshot.grid)}, the problem has {tuple(axes)}")
    shape = tuple(len(snapshot.grid[a]) for a in axes)
    for f in FIELDS:
        got = np.shape(snapshot.fields[f])
        if got != shape:
            raise ValueError(f"field {f!r} has shape {got}, the grid is {shape}")


def finer_resolutions(problem: OperatorProblem) -> list[int]:
    """Resolutions above ``problem.resolution`` at which the *same* samples can be stored.

    The data are subsampled from the solver grid (``solve_resolution``) by exact injection, so
    a finer set holds the same functions only where that grid contains it (the rule of
    :meth:`lab.data.datasets.DatasetSpec._stride`). Problems without a separate solver grid
    (Kuramoto–Sivashinsky: chaotic trajectories change with the grid) have none.
    """
    n, solve = getattr(problem, "resolution", None), getattr(problem, "solve_resolution", None)
    if n is None or solve is None:
        return []
    periodic = problem.axes[0] in problem.periodic
    out = []
    for r in range(n + 1, solve + 1):
        try:
            DatasetSpec._stride(solve, r, "resolution", periodic)
        except ValueError:
            continue  # not a sub-grid of the solver grid: the samples would differ
        out.append(r)
    return out[:SR_FACTORS]


def _framed(problem: OperatorProblem) -> bool:
    """Whether the samples show a last frame (rollouts and space-time maps)."""
    return problem.rollout or problem.frame_axis is not None


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0), np.zeros(0)


# ---- elements -----------------------------------------------------------------------------
# Each element keeps the same structure (element types and layers) with or without data, so a
# DynamicMap can swap an empty placeholder for the real plot without rebuilding its figure.
def sample_elements(snapshot: Snapshot | None, axes: Sequence[str],
                    bounds: dict[str, tuple[float, float]] | None = None,
                    *, rollout: bool = False, name: str = "u") -> list[hv.Element]:
    """Input, prediction and truth, and error of the snapshot's validation sample.

    1D: three curve plots (input; prediction over truth; error). 2D: four heatmaps, with
    prediction and truth on one colour scale and the error on a symmetric diverging one.
    ``snapshot=None`` gives empty placeholders (blank heatmaps over ``bounds``).
    """
    axes = tuple(axes)
    if len(axes) not in (1, 2):
        raise ValueError(f"operator views show 1D or 2D grids; got axes {axes}")
    titles = {"input": "input (last history frame)" if rollout else "input",
              "prediction": "prediction (last rollout step)" if rollout else "prediction",
              "reference": "truth", "error": "error (prediction − truth)"}
    if snapshot is not None:
        check_snapshot(snapshot, axes)
    if len(axes) == 1:
        return _sample_curves(snapshot, axes[0], titles, name)
    return _sample_images(snapshot, axes, bounds, titles, name)


def _sample_curves(snapshot, ax: str, titles: dict, name: str) -> list[hv.Element]:
    style = dict(height=PLOT_HEIGHT, responsive=True, framewise=True, tools=["hover"])
    if snapshot is None:
        data = dict.fromkeys(FIELDS, _empty())
    else:
        x, f = snapshot.grid[ax], snapshot.fields
        data = {w: (x, np.asarray(f[w], dtype=float)) for w in FIELDS}
    inp = hv.Curve(data["input"], ax, "input").opts(color="#7f7f7f", title=titles["input"], **style)
    pair = hv.Overlay([
        hv.Curve(data["prediction"], ax, name, label="prediction").opts(color=LOSS_COLORS[1], **style),
        hv.Curve(data["reference"], ax, name, label="truth").opts(color="black", line_dash="dashed", **style),
    ]).opts(title=f"{titles['prediction']} vs truth", legend_position="top_right")
    err = hv.Curve(data["error"], ax, "error").opts(color="#d62728", title=titles["error"], **style)
    return [inp, pair, err]


def _sample_images(snapshot, axes, bounds, titles: dict, name: str) -> list[hv.Element]:
    h, v = plot_axes(axes)
    style = dict(colorbar=True, framewise=True, tools=["hover"], toolbar="above")
    labels = {"input": "input", "prediction": name, "reference": name, "error": "error"}
    cmaps = {"input": INPUT_CMAP, "prediction": FIELD_CMAP, "reference": FIELD_CMAP, "error": ERROR_CMAP}
    if snapshot is None:
        if bounds is None:
            raise ValueError("empty image placeholders need the problem's bounds")
        (h0, h1), (v0, v1) = bounds[h], bounds[v]
        frame = field_frame((h, v), bounds)
        # blank (NaN), not zeros: one colour under a colour bar reads as a computed field
        return [hv.Image(np.full((2, 2), np.nan), kdims=[h, v], vdims=[labels[w]], bounds=(h0, v0, h1, v1))
                .opts(title=titles[w], cmap=cmaps[w], **style, **frame) for w in FIELDS]
    # arrays are indexed [axes[0], axes[1]]; hv.Image wants [vertical, horizontal]
    transpose = axes.index(h) < axes.index(v)
    f = {w: np.asarray(snapshot.fields[w], dtype=float) for w in FIELDS}
    f = {w: a.T if transpose else a for w, a in f.items()}
    lo = float(min(np.nanmin(f["prediction"]), np.nanmin(f["reference"])))
    hi = float(max(np.nanmax(f["prediction"]), np.nanmax(f["reference"])))
    e = float(np.nanmax(np.abs(f["error"]))) or 1e-12
    ranges = {"input": (None, None), "prediction": (lo, hi) if hi > lo else (lo - 1, hi + 1),
              "error": (-e, e)}
    ranges["reference"] = ranges["prediction"]  # one colour scale for prediction and truth
    hs, vs = snapshot.grid[h], snapshot.grid[v]
    frame = field_frame((h, v), grid_extent(snapshot.grid, (h, v)))
    return [hv.Image((hs, vs, f[w]), kdims=[h, v], vdims=[hv.Dimension(labels[w], range=ranges[w])])
            .opts(title=titles[w], cmap=cmaps[w], **style, **frame) for w in FIELDS]


def rollout_element(snapshot: Snapshot | None) -> hv.Overlay:
    """Validation relative L2 against the autoregressive step ``r = 1 … R`` (log y)."""
    errors = None if snapshot is None else snapshot.extras.get("rollout_error")
    if errors:
        data = (np.arange(1, len(errors) + 1), np.asarray(errors, dtype=float))
        title = f"error along the rollout (step {snapshot.step})"
    else:
        data = _empty()
        title = ("error per rollout step (waiting for a snapshot)" if snapshot is None
                 else "one-step map: no rollout")
    style = dict(logy=True, framewise=True, tools=["hover"], color=LOSS_COLORS[4])
    return (hv.Curve(data, "rollout step", "relative L2").opts(**style)
            * hv.Scatter(data, "rollout step", "relative L2").opts(size=6, **style)).opts(
        title=title, height=PLOT_HEIGHT, responsive=True)


def spectrum_element(snapshot: Snapshot | None) -> hv.Overlay:
    """Energy spectra of prediction and truth, averaged over the validation set (log-log)."""
    spec = None if snapshot is None else snapshot.extras.get("spectrum")
    if spec:
        k = np.asarray(spec["k"], dtype=float)
        data = {}
        for which in ("prediction", "reference"):
            e = np.asarray(spec[which], dtype=float)
            keep = (k > 0) & (e > 0)  # log axes: drop the mean mode and exact zeros
            data[which] = (k[keep], e[keep])
        title = f"energy spectra (step {snapshot.step})"
    else:
        data = {"prediction": _empty(), "reference": _empty()}
        title = ("energy spectra (waiting for a snapshot)" if snapshot is None
                 else "energy spectra need a periodic grid")
    style = dict(logx=True, logy=True, framewise=True, tools=["hover"])
    return hv.Overlay([
        hv.Curve(data["prediction"], "k", "E(k)", label="prediction").opts(color=LOSS_COLORS[1], **style),
        hv.Curve(data["reference"], "k", "E(k)", label="truth").opts(color="black", line_dash="dashed", **style),
    ]).opts(title=title, height=PLOT_HEIGHT, responsive=True, legend_position="bottom_left")


RELL2 = hv.Dimension("rel_l2", label="relative L2")


def train_element(losses: pd.DataFrame | Sequence[dict] | None) -> hv.Curve:
    """Batch data loss (the relative L2 of Li et al. 2021) per logged step; rows ``{step, data}``."""
    frame = pd.DataFrame(losses if losses is not None else [], columns=["step", "data"])
    return hv.Curve((frame["step"].to_numpy(float), frame["data"].to_numpy(float)), "step", RELL2,
                    label="train (batch)").opts(color=LOSS_COLORS[1], logy=True, framewise=True,
                                                tools=["hover"])


def validation_element(scores: Sequence[tuple[int, float, float | None]]) -> hv.Overlay:
    """Validation relative L2 per snapshot and the trivial predictor's level (dashed)."""
    sc = np.asarray([(s, r) for s, r, _ in scores], dtype=float).reshape(-1, 2)
    val = (sc[:, 0], sc[:, 1])
    trivial = [t for _, _, t in scores if t is not None]
    level = ((np.array([0.0, sc[-1, 0]]), np.full(2, trivial[-1])) if trivial and len(sc) else _empty())
    style = dict(logy=True, framewise=True, tools=["hover"])
    return hv.Overlay([
        hv.Curve(val, "step", RELL2, label="validation").opts(color=LOSS_COLORS[3], **style),
        hv.Scatter(val, "step", RELL2, label="validation").opts(color=LOSS_COLORS[3], size=6, **style),
        hv.Curve(level, "step", RELL2, label="trivial predictor").opts(color="#7f7f7f", line_dash="dashed",
                                                                       **style),
    ])


def history_element(losses: pd.DataFrame | Sequence[dict] | None,
                    scores: Sequence[tuple[int, float, float | None]] = ()) -> hv.Overlay:
    """Training and validation curves in one log-y plot (see the two functions it combines)."""
    return _history_opts(train_element(losses) * validation_element(scores))


def _history_opts(overlay):
    return overlay.opts(title="training and validation error", xlabel="step", ylabel="relative L2",
                        height=PLOT_HEIGHT, responsive=True, legend_position="top_right")


def operator_layout(snapshot: Snapshot, problem: OperatorProblem, steps: Iterable[Step] = (),
                    snapshots: Iterable[Snapshot] = ()) -> hv.Layout:
    """All operator views of one snapshot as a static HoloViews layout (notebooks, reports)."""
    rows = [{"step": s.step, "data": s.losses["data"]} for s in steps if "data" in s.losses]
    scores = [(s.step, s.rel_l2, s.extras.get("trivial_rel_l2")) for s in snapshots]
    elements = sample_elements(snapshot, problem.snapshot_axes, problem.bounds(),
                               rollout=_framed(problem), name=problem.outputs[0])
    n = len(elements)
    elements += [history_element(rows, scores), rollout_element(snapshot), spectrum_element(snapshot)]
    return hv.Layout([e.opts(responsive=False, width=320) for e in elements]).cols(n).opts(shared_axes=False)


# ---- the view -----------------------------------------------------------------------------
class OperatorView(pn.viewable.Viewer):
    """Sample, rollout error, spectra, training curves and super-resolution of an operator run.

    ``configure(problem)`` sets the view up for a problem (it hides itself unless the problem is
    of kind ``"operator"``); ``attach(trainer)`` subscribes a :class:`Mailbox` to the trainer
    and drains it every ``poll_ms`` (call it before ``trainer.start()`` so no event is missed),
    or, with ``polled=False``, leaves the polling to the view that drains the run and is handed
    its batches (:meth:`read`; the app's :class:`widgets.training_view.TrainingView`);
    :meth:`show` takes events directly. Bad input (a snapshot of another problem, a
    super-resolution request without a trained model or at an impossible grid) is reported in
    the view's alert and to ``on_error``.
    """

    poll_ms = param.Integer(300, bounds=(20, 10_000), doc="How often the mailbox is drained")
    step = param.Integer(0, doc="Step of the newest event shown")
    rel_l2 = param.Number(math.nan, doc="Validation relative L2 of the newest snapshot")

    def __init__(self, on_error: Callable[[str], None] | None = None, **params):
        super().__init__(**params)
        self.on_error = on_error
        self.problem: BaseProblem | None = None
        self.model = None
        self.trainer = None
        self.snapshot: Snapshot | None = None
        #: validation score per snapshot step: ``(step, rel_l2, trivial_rel_l2)``
        self.scores: dict[int, tuple[int, float, float | None]] = {}
        self.sr_results: dict[int, float] = {}
        self._mailbox: Mailbox | None = None
        # the mailbox keeps only the newest snapshot; the validation curve needs every score
        self._scores_in: collections.deque = collections.deque(maxlen=ROWS_KEPT)
        self._callback = None
        self.alert = Message()
        self.caption = pn.pane.Markdown("### Operator", margin=(0, 10), sizing_mode="stretch_width")
        self.samples = pn.Row(sizing_mode="stretch_width")
        self.diagnostics = pn.Row(sizing_mode="stretch_width")
        self.sr_select = pn.widgets.Select(label="Finer grid", options=[], width=140)
        self.sr_button = pn.widgets.Button(label="Zero-shot super-resolution", color="primary",
                                           disabled=True, width=220, align="end")
        self.sr_button.on_click(self._on_sr_click)
        self.sr_text = pn.pane.Markdown("Train a model first: the button evaluates it, unchanged, "
                                        "on the same samples at a finer grid.",
                                        sizing_mode="stretch_width")
        self.sr_pipe = hv.streams.Pipe(data=[])
        self.sr_plot = plot_pane(hv.DynamicMap(self._sr_element, streams=[self.sr_pipe]), width=360)
        self._layout = pn.Column(
            self.caption, self.alert, self.samples, self.diagnostics,
            pn.pane.Markdown("#### Zero-shot super-resolution", margin=(0, 10)),
            pn.Row(self.sr_select, self.sr_button), pn.Row(self.sr_text, self.sr_plot),
            sizing_mode="stretch_width", visible=False)

    def __panel__(self):
        return self._layout

    @property
    def visible(self) -> bool:
        return self._layout.visible

    # ---- set-up -------------------------------------------------------------------------
    def configure(self, problem: BaseProblem) -> None:
        """Clear the view for ``problem``; shown only for operator problems."""
        self._stop_polling()
        self.problem, self.model, self.trainer, self._mailbox = problem, None, None, None
        self.snapshot, self.scores, self.sr_results = None, {}, {}
        self.param.update(step=0, rel_l2=math.nan)
        self.clear_error()
        self._layout.visible = getattr(problem, "kind", None) == "operator"
        if not self._layout.visible:
            return
        self.caption.object = f"### Operator views · {problem.title}"
        self.snap_pipe = hv.streams.Pipe(data=None)
        n = len(sample_elements(None, problem.snapshot_axes, problem.bounds()))
        self.samples.objects = [
            plot_pane(hv.DynamicMap(lambda data, i=i: self._sample(i, data), streams=[self.snap_pipe]),
                      sizing_mode="stretch_width") for i in range(n)]
        self.loss_history = History(["step", "data"])
        self.score_pipe = hv.streams.Pipe(data=[])
        history = _history_opts(hv.DynamicMap(lambda data: train_element(data), streams=[self.loss_history.stream])
                                * hv.DynamicMap(lambda data: validation_element(data), streams=[self.score_pipe]))
        self.diagnostics.objects = [
            plot_pane(history, sizing_mode="stretch_width"),
            plot_pane(hv.DynamicMap(lambda data: rollout_element(data), streams=[self.snap_pipe]),
                      sizing_mode="stretch_width"),
            plot_pane(hv.DynamicMap(lambda data: spectrum_element(data), streams=[self.snap_pipe]),
                      sizing_mode="stretch_width")]
        options = finer_resolutions(problem)
        self.sr_select.options = options
        self.sr_select.value = options[0] if options else None
        self.sr_pipe.send([])
        self._update_sr_controls()
        if not options:
            self.sr_text.object = (f"**{problem.title}** has no finer grid holding the same samples "
                                   "(no separate solver grid), so super-resolution is not offered.")

    def attach(self, trainer, *, polled: bool = True) -> None:
        """Follow ``trainer``'s run: configure for its problem and drain its events periodically
        (``polled=False``: another view drains them and hands them to :meth:`read`)."""
        self.configure(trainer.problem)
        if not self.visible:
            return
        self.trainer = trainer
        self._scores_in.clear()
        trainer.subscribe(self._tap_score)
        if polled:
            self._mailbox = Mailbox()
            trainer.subscribe(self._mailbox)
            self._callback = pn.state.add_periodic_callback(self.drain, period=self.poll_ms)

    def use_model(self, model, problem: BaseProblem | None = None) -> None:
        """Offer super-resolution for a trained ``model`` (of ``problem``, default: the configured one)."""
        if problem is not None and problem is not self.problem:
            self.configure(problem)
        self.model = model
        self._update_sr_controls()

    def shutdown(self) -> None:
        self._stop_polling()

    def _stop_polling(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    # ---- events -------------------------------------------------------------------------
    def _tap_score(self, event: Event) -> None:
        """Sink on the training (or relay) thread: keep every snapshot's score (deque appends are
        atomic)."""
        if isinstance(event, Snapshot):
            self._scores_in.append((event.step, event.rel_l2, event.extras.get("trivial_rel_l2")))

    def drain(self) -> None:
        """Draw everything the attached trainer posted since the last call."""
        if self._mailbox is not None:
            self.read(*self._mailbox.drain())

    def read(self, steps: list[Step], snapshot: Snapshot | None, other: list[Event]) -> None:
        """Draw one drained batch of the attached run (from :meth:`drain` or the view that
        polls the run); nothing when no run is attached (the problem is not an operator one)."""
        if self.trainer is None:
            return
        tapped = bool(self._scores_in)
        while self._scores_in:
            score = self._scores_in.popleft()
            self.scores[score[0]] = score
        if tapped and self.visible:
            self.score_pipe.send([self.scores[s] for s in sorted(self.scores)])
        events: list[Event] = [*(e for e in other if isinstance(e, (Preparing, Started))), *steps]
        events += [snapshot] if snapshot is not None else []
        events += [e for e in other if isinstance(e, (Done, Failed))]
        self.show(events)  # sent when the periodic callback returns (see TrainingView.drain)

    def show(self, events: Iterable[Event]) -> None:
        """Draw events in order: data generation in the caption, Step rows, Snapshots, and Done
        (which enables super-resolution)."""
        rows = []
        for ev in events:
            if isinstance(ev, Preparing) and self.visible:
                self.caption.object = f"### Operator views · {self.problem.title} · {ev.text}"
            elif isinstance(ev, Step):
                if "data" in ev.losses:
                    rows.append({"step": ev.step, "data": ev.losses["data"]})
                self.step = ev.step
            elif isinstance(ev, Snapshot):
                self.show_losses(rows)
                rows = []
                self.show_snapshot(ev)
            elif isinstance(ev, (Done, Failed)):
                self.show_losses(rows)
                rows = []
                self._finished(ev)
        self.show_losses(rows)

    def show_losses(self, rows: Sequence[dict]) -> None:
        """Append ``{"step", "data"}`` rows to the training curve."""
        if rows and self.visible:
            self.loss_history.append(rows)

    def show_snapshot(self, snapshot: Snapshot) -> bool:
        """Show a snapshot; returns ``False`` (and reports why) when it does not fit the problem."""
        if self.problem is None or not self.visible:
            self.report_error("configure the view with an operator problem before showing snapshots")
            return False
        try:
            check_snapshot(snapshot, self.problem.snapshot_axes)
        except ValueError as err:
            self.report_error(f"Cannot show this snapshot: {err}")
            return False
        self.clear_error()
        self.snapshot = snapshot
        self.param.update(step=snapshot.step, rel_l2=snapshot.rel_l2)
        self.scores[snapshot.step] = (snapshot.step, snapshot.rel_l2, snapshot.extras.get("trivial_rel_l2"))
        trivial = snapshot.extras.get("trivial_rel_l2")
        versus = f" · trivial predictor {trivial:.3e}" if trivial is not None else ""
        self.caption.object = (f"### Operator views · {self.problem.title} · step {snapshot.step} · "
                               f"validation relative L2 {snapshot.rel_l2:.3e}{versus}")
        self.snap_pipe.send(snapshot)
        self.score_pipe.send([self.scores[s] for s in sorted(self.scores)])
        self._send_sr()
        return True

    def show_saved(self, problem: BaseProblem, snapshot: Snapshot, history: Sequence[dict],
                   model=None) -> None:
        """A finished run: its logged data loss, its checkpoint's snapshot, optionally its model."""
        self.configure(problem)
        if not self.visible:
            return
        self.show_losses([{"step": r["step"], "data": r.get("data", r.get("loss_data"))}
                          for r in history if "data" in r or "loss_data" in r])
        self.show_snapshot(snapshot)
        if model is not None:
            self.use_model(model)

    def _finished(self, ev: Done | Failed) -> None:
        self._stop_polling()
        self._mailbox = None
        if isinstance(ev, Done) and self.trainer is not None:
            self.use_model(self.trainer.model)

    # ---- super-resolution ---------------------------------------------------------------
    def _update_sr_controls(self) -> None:
        self.sr_button.disabled = self.model is None or not self.sr_select.options
        if self.model is not None and self.sr_select.options:
            self.sr_text.object = (f"Trained at resolution {self.problem.resolution}; pick a finer grid "
                                   "and evaluate the same model on it.")

    def super_resolve(self, resolution: int | None = None) -> float | None:
        """Zero-shot relative L2 of the trained model at ``resolution`` (default: the selected one).

        Returns ``None`` (and reports why) when there is no model or the grid is not offered.
        """
        resolution = self.sr_select.value if resolution is None else resolution
        if self.model is None or self.problem is None:
            self.report_error("Super-resolution needs a trained model: train (or open) a run first.")
            return None
        offered = finer_resolutions(self.problem)
        if resolution not in offered:
            self.report_error(f"Super-resolution at resolution {resolution!r} is not possible for "
                              f"{self.problem.key!r}; the same samples exist at {offered}.")
            return None
        try:
            err = self._compute_sr(resolution)
        except ValueError as exc:  # e.g. the finer set exceeds max_gb
            self.report_error(f"Super-resolution at {resolution} failed: {exc}")
            return None
        self._record_sr(resolution, err)
        return err

    def _compute_sr(self, resolution: int) -> float:
        p = next(self.model.parameters())
        return super_resolution(self.model, self.problem, resolution, device=p.device, dtype=p.dtype)

    def _record_sr(self, resolution: int, err: float) -> None:
        self.clear_error()
        self.sr_results[resolution] = err
        base = f"{self.rel_l2:.3e}" if not math.isnan(self.rel_l2) else "–"
        self.sr_text.object = (f"Trained at **{self.problem.resolution}**: relative L2 {base} · zero-shot at "
                               f"**{resolution}**: relative L2 **{err:.3e}** (same samples, same weights)")
        self._send_sr()

    async def _on_sr_click(self, _event) -> None:
        """Button: generate the finer set and evaluate in a worker thread, with a spinner."""
        resolution = self.sr_select.value
        if self.model is None or resolution not in finer_resolutions(self.problem):
            self.super_resolve(resolution)  # reports why it cannot run
            return
        self.sr_button.loading = True
        try:
            err = await asyncio.to_thread(self._compute_sr, resolution)
        except ValueError as exc:
            self.report_error(f"Super-resolution at {resolution} failed: {exc}")
        else:
            self._record_sr(resolution, err)
        finally:
            self.sr_button.loading = False

    def _send_sr(self) -> None:
        points = sorted(self.sr_results.items())
        if self.problem is not None and not math.isnan(self.rel_l2):
            points = [(self.problem.resolution, self.rel_l2)] + points
        self.sr_pipe.send(points)

    @staticmethod
    def _sr_element(data) -> hv.Overlay:
        pts = np.asarray(data, dtype=float).reshape(-1, 2)
        style = dict(logy=True, framewise=True, tools=["hover"])
        return (hv.Curve((pts[:, 0], pts[:, 1]), "resolution", "relative L2").opts(color=LOSS_COLORS[2], **style)
                * hv.Scatter((pts[:, 0], pts[:, 1]), "resolution", "relative L2")
                .opts(color=LOSS_COLORS[2], size=7, **style)).opts(
            title="validation error vs grid", height=PLOT_HEIGHT, width=360)

    # ---- errors -------------------------------------------------------------------------
    def report_error(self, message: str) -> None:
        self.alert.show(message)
        if self.on_error is not None:
            self.on_error(message)

    def clear_error(self) -> None:
        self.alert.clear()

    # ---- drawing ------------------------------------------------------------------------
    def _sample(self, i: int, snapshot):
        p = self.problem
        return sample_elements(snapshot, p.snapshot_axes, p.bounds(), rollout=_framed(p),
                               name=p.outputs[0])[i]


def operator_panel(app) -> OperatorView:
    """An :class:`OperatorView` for a ``LabApp``: configured for its current problem, errors to its alert."""
    view = OperatorView(on_error=app.report_error)
    view.configure(app.problem_view.problem)
    return view


__all__ = ["OperatorView", "check_snapshot", "finer_resolutions", "history_element", "operator_layout",
           "operator_panel", "rollout_element", "sample_elements", "spectrum_element", "train_element",
           "validation_element"]
