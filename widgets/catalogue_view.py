"""The catalogue tab: every registered problem in a table, and a preview of the selected one.

The preview draws the problem's verified reference (:meth:`lab.problems.Problem.reference`,
cached on disk by ``lab``) on the problem's own evaluation grid — the grid training compares
against, so a preview also warms the cache a run will read — thinned by
:func:`lab.sampling.coarse_grid` when it holds more than ``max_points`` values.
The view follows the problem's ``kind``:

* ``"1d+t"`` — the x–t image, t across and x up (the PINN-paper convention), with a colour bar;
* ``"2d"`` — the field over (x, y);
* ``"2d+t"`` — an animation: a ``DynamicMap`` over the frame index, driven by a
  ``pn.widgets.Player``; every frame uses one colour scale (the range over all of space-time),
  so growth and decay are visible;
* ``"3d"`` — a ``pn.pane.VTKVolume`` of the field (its lowest value outside the domain, the
  transparent end of the volume's opacity ramp) and, for a geometry, the domain as a
  ``pn.pane.VTK`` scene of boundary points coloured by part with outward normals
  (:func:`widgets.geometry_view.geometry_scene`);
* ``"3d+t"`` — a ``pn.pane.VTKVolume`` of the final time, with a slider over the other times
  (the whole space-time reference is already computed, so a time costs one transfer);
  ``VTKVolume`` itself subsamples a volume above ``max_data_size`` MB for the browser;
* ``"ode"`` — the trajectory of the first three outputs as two projections (``hv.Path``:
  first–second and first–third). A 3D line in ``pn.pane.VTK`` would need a server-side
  ``vtkRenderWindow``, which a headless Linux VTK build tries to open on an X display
  (Binder has none); Bokeh paths render in every browser;
* ``"operator"`` — the first ``n_samples`` input/output pairs of the problem's dataset at the
  size its parameters set (the defaults are demo sizes; the set is cached by :mod:`lab.data`).

A problem change or parameter edit schedules a recomputation after ``debounce_ms`` of quiet;
it runs in a background thread on a copy of the problem (later edits cannot race it) while
the preview shows a loading indicator, and only the newest request's result is shown. The
result is drawn by the thread that owns the view — on the served document's next tick, on a
notebook kernel's event loop, or, in a plain script or test, by :meth:`CatalogueView.wait`. A
solver that refuses the parameters (``ValueError``, e.g. an unstable time step) or produces
non-finite values is reported in the view's alert. Clicking a row of the table selects that
problem in the :class:`~widgets.problem_view.ProblemView` the catalogue shares with the app.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the backend that .opts() below refers to)
import numpy as np
import pandas as pd
import panel as pn
import param

from lab.config import describe_bounds
from lab.problems import BaseProblem, list_problems
from lab.sampling import coarse_grid
from lab.workers import finish_at_exit
from widgets import render
from widgets.alerts import Message
from widgets.geometry_view import geometry_plot, geometry_scene, has_geometry
from widgets.pages import call_on_page
from widgets.problem_view import KIND_LABELS, ProblemView
from widgets.theme import ACCENT, FIELD_CMAP, PLOT_HEIGHT, field_frame, grid_extent, plot_pane
from widgets.training_view import plot_axes

#: errors a solver raises for parameters it refuses; shown in the alert (others are re-raised
#: in the worker thread as well, so their traceback reaches the server log)
REFUSED = (ValueError, MemoryError)


@dataclass(frozen=True)
class Preview:
    """One computed preview: the problem as it was configured, its grid and its data.

    ``data`` is the reference array for PDE/ODE problems and ``{name: array}`` — the first
    samples of the dataset — for operator problems (``grid`` is then the dataset's grid).
    """

    problem: BaseProblem
    grid: dict[str, np.ndarray]
    data: np.ndarray | dict[str, np.ndarray]


def preview_grid(problem: BaseProblem, max_points: int) -> dict[str, np.ndarray]:
    """The problem's evaluation grid, thinned to at most ``max_points`` points when larger."""
    grid = problem.grid()
    n = int(np.prod([len(g) for g in grid.values()]))
    return grid if n <= max_points else coarse_grid(grid, max_points)


def compute_preview(problem: BaseProblem, max_points: int = 2_000_000, n_samples: int = 3) -> Preview:
    """Reference (or the first ``n_samples`` dataset samples) of ``problem``; may take seconds."""
    if problem.kind == "operator":
        data = {k: v[:n_samples] for k, v in problem.arrays().items()}
        return Preview(problem, problem.grid(), data)
    grid = preview_grid(problem, max_points)
    return Preview(problem, grid, problem.reference(grid))


# ---- elements (plain HoloViews: the view and the notebooks use them) ------------------------
def field_image(grid: dict[str, np.ndarray], values: np.ndarray, axes: Sequence[str], name: str,
                clim: tuple[float, float] | None = None, title: str = "") -> hv.Image:
    """``values`` indexed ``[axes[0], axes[1]]`` as an image laid out by :func:`plot_axes`."""
    h, v = plot_axes(tuple(axes))
    z = values if tuple(axes).index(h) > tuple(axes).index(v) else values.T  # rows follow v
    dim = hv.Dimension(name, range=clim) if clim is not None and clim[1] > clim[0] else name
    return hv.Image((grid[h], grid[v], z), kdims=[h, v], vdims=[dim]).opts(
        cmap=FIELD_CMAP, colorbar=True, tools=["hover"], toolbar="above", title=title,
        **field_frame((h, v), grid_extent(grid, (h, v))))


def trajectory_paths(t: np.ndarray, states: np.ndarray, names: Sequence[str]) -> hv.Layout:
    """Projections of an ODE trajectory ``states (T, >= 2)`` onto (1st, 2nd) and (1st, 3rd)."""
    k = min(states.shape[1], 3)
    paths = [hv.Path([(states[:, 0], states[:, j])], kdims=[names[0], names[j]])
             .opts(color=ACCENT, line_width=1, height=PLOT_HEIGHT + 50,
                   responsive=True, title=f"{names[0]}–{names[j]} projection, t in "
                                          f"[{t[0]:.3g}, {t[-1]:.3g}]")
             for j in range(1, k)]
    return hv.Layout(paths).cols(2)


def operator_samples(problem: BaseProblem, grid: dict[str, np.ndarray],
                     arrays: dict[str, np.ndarray]) -> hv.Layout:
    """Input and output of each sample side by side (rollouts: the trajectory or its ends).

    Maps (``x`` -> ``y``, channels first): a 1D function is a curve over its axis, a 2D one an
    image over the problem's axes. A 1D rollout ``(N, T+1, s)`` is its x–t image; a 2D rollout
    shows its first and last frames (first channel).
    """
    axes = tuple(problem.axes)
    out = []
    if problem.rollout:
        (traj,) = arrays.values()
        if traj.ndim == 3 + len(axes):  # channels after the frame axis: show the first
            traj = traj[:, :, 0]
        times = problem.record_dt * np.arange(traj.shape[1])
        for i, tr in enumerate(traj):
            if len(axes) == 1:
                out.append(field_image({axes[0]: grid[axes[0]], "t": times}, tr.T, (axes[0], "t"),
                                       problem.outputs[0], title=f"sample {i}: trajectory"))
            else:
                clim = (float(tr.min()), float(tr.max()))
                out += [field_image(grid, tr[j], axes, problem.outputs[0], clim,
                                    title=f"sample {i}: t = {times[j]:.3g}") for j in (0, -1)]
        return hv.Layout(out).cols(2)
    for i in range(len(arrays["x"])):
        for role in ("x", "y"):
            f, label = arrays[role][i, 0], f"sample {i}: {'input' if role == 'x' else 'output'}"
            if f.ndim == 1:
                out.append(hv.Curve((grid[axes[0]], f), axes[0], "input" if role == "x" else
                                    problem.outputs[0]).opts(height=PLOT_HEIGHT, responsive=True,
                                                             title=label, tools=["hover"]))
            else:
                out.append(field_image(grid, f, axes, "input" if role == "x" else problem.outputs[0],
                                       title=label))
    return hv.Layout(out).cols(2)


def catalogue_frame() -> pd.DataFrame:
    """One row per registered problem, in catalogue order (kind, then title)."""
    rows = []
    for key, cls in list_problems().items():
        outputs = cls.outputs if len(cls.outputs) <= 4 else (*cls.outputs[:2], "…", cls.outputs[-1])
        rows.append({"key": key, "kind": KIND_LABELS.get(cls.kind, cls.kind), "title": cls.title,
                     "axes": ", ".join(cls.axes), "outputs": ", ".join(outputs)})
    return pd.DataFrame(rows)


def parameter_table(problem: BaseProblem) -> str:
    """Markdown table of the problem's parameters: value, allowed range, meaning."""
    lines = ["| parameter | value | allowed | meaning |", "|---|---|---|---|"]
    for name, p in problem.param.objects("existing").items():
        if name == "name":
            continue
        value = getattr(problem, name)
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"| `{name}` | {shown} | {describe_bounds(p) or '–'} | {p.doc or ''} |")
    return "\n".join(lines) if len(lines) > 2 else "*No parameters.*"


# ---- the view --------------------------------------------------------------------------------
class CatalogueView(pn.viewable.Viewer):
    """Catalogue table + preview of the selected problem's reference, recomputed on edits.

    Share the app's :class:`ProblemView` (``CatalogueView(app.problem_view)``) so the table,
    the picker and the parameter editor act on one problem; without one, the view makes its
    own (on problem ``key``) and shows its equation and parameter editor too (a notebook's
    standalone catalogue).
    """

    debounce_ms = param.Integer(400, bounds=(0, 60_000), doc="Quiet time before a recompute")
    max_points = param.Integer(2_000_000, bounds=(4, None), doc="Most grid points previewed")
    n_samples = param.Integer(3, bounds=(1, 16), doc="Operator-dataset samples shown")
    computing = param.Boolean(False, doc="Whether a preview is being computed")
    result = param.ClassSelector(class_=Preview, default=None, allow_None=True,
                                 doc="The preview on show (None while there is none)")

    def __init__(self, problem_view: ProblemView | None = None, key: str = "burgers", **params):
        super().__init__(**params)
        self.alert = Message()
        standalone = problem_view is None
        self.problem_view = problem_view or ProblemView(key=key, on_error=self._param_error,
                                                        on_change=lambda _n: self.clear_error())
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._generation = 0
        self._pending: tuple[int, Preview | Exception] | None = None
        self._syncing = False
        self._watched: tuple[BaseProblem, object] | None = None
        self.computed = 0  # previews computed (not superseded): shows the debouncing works

        self.table = pn.widgets.Tabulator(catalogue_frame(), selectable=1, disabled=True,
                                          show_index=False, hidden_columns=["key"], height=560,
                                          width=430, layout="fit_data_table")
        self.table.param.watch(self._row_selected, "selection")
        self.output = pn.widgets.Select(label="Output", options=[], visible=False, width=160)
        self.output.param.watch(lambda _e: self._render(), "value")
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self.preview = pn.Column(sizing_mode="stretch_width", min_height=PLOT_HEIGHT)
        self.parameters = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.player: pn.widgets.Player | None = None
        self.time_slider: pn.widgets.DiscreteSlider | None = None
        # 3D views are made once and then updated or hidden, never taken off the page: vtk.js
        # throws ("getInteractor" of undefined) when a 3D view leaves a page whose tab was hidden
        self.volume: pn.pane.VTKVolume | None = None
        self.scene: pn.pane.VTK | None = None
        self._scene_plotter = None  # the offscreen plotter behind ``scene``, closed when replaced
        self._volume_caption = pn.pane.Markdown("")
        self._scene_caption = pn.pane.Markdown("")
        self.volume_slot = pn.Column(sizing_mode="stretch_width", visible=False)

        info = [self.problem_view.header] if standalone else []
        controls = ([pn.Card(self.problem_view.editor, title="Edit parameters", collapsed=False,
                             sizing_mode="stretch_width")] if standalone else [])
        self._layout = pn.Row(
            pn.Column(pn.pane.Markdown("### Problems", margin=(0, 10)), self.table, width=450),
            pn.Column(*info, self.alert, pn.Row(self.status, self.output), self.preview, self.volume_slot,
                      pn.pane.Markdown("#### Parameters", margin=(0, 10)), self.parameters,
                      *controls, sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
        self.problem_view.param.watch(self._problem_replaced, "problem")
        self._problem_replaced()

    def __panel__(self):
        return self._layout

    # ---- requests -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the preview after ``debounce_ms`` of quiet; the latest request wins."""
        p = self.problem_view.problem
        problem = type(p).from_dict(p.to_dict())  # later edits cannot reach the worker
        home = self._home_loop()
        with self._lock:
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce_ms / 1000, self._work,
                                          args=(self._generation, problem, home))
            self._timer.daemon = True
            self._timer.start()
            # at exit: a pending preview is dropped, a running one finished (lab.workers)
            finish_at_exit(self._timer, self._timer.cancel)
        self.computing = True
        self.preview.loading = True
        self.status.object = f"Computing the reference of **{problem.title}** …"

    def wait(self, timeout: float | None = None) -> None:
        """Block until the latest request is computed, then show it (scripts, notebooks, tests).

        Call it from the thread that owns the view. Without an event loop to hand results to
        (a plain script, a test), this is what shows a computed preview.
        """
        with self._lock:
            timer = self._timer
        if timer is not None:
            timer.join(timeout)
        self._flush()

    @staticmethod
    def _home_loop():
        """Where results go back to: a served document, else the running event loop, else None.

        A served app gets them on the document's next tick (its lock held); a notebook on the
        kernel's asyncio loop. Either way, only the thread that owns the view ever draws.
        """
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            return doc
        try:
            return asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: results wait for ``wait()``
            return None

    def _work(self, generation: int, problem: BaseProblem, home) -> None:
        try:
            result: Preview | Exception = compute_preview(problem, self.max_points, self.n_samples)
        except Exception as err:  # shown in the alert; unexpected kinds are re-raised below
            result = err
        with self._lock:
            if generation == self._generation:
                self._pending = (generation, result)
        if isinstance(home, asyncio.AbstractEventLoop):
            home.call_soon_threadsafe(self._flush)
        elif home is not None:
            call_on_page(home, self._flush)  # a closed page draws nothing
        if isinstance(result, Exception) and not isinstance(result, REFUSED):
            raise result

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._deliver(*pending)

    def _deliver(self, generation: int, result: Preview | Exception) -> None:
        if generation != self._generation:  # superseded while waiting for the document
            return
        self.computing = False
        self.preview.loading = False
        if isinstance(result, Exception):
            self.result = None
            self.preview.objects = []
            self.status.object = "No preview for these parameters."
            kind = "" if isinstance(result, REFUSED) else f" ({type(result).__name__})"
            self.report_error(f"The reference could not be computed{kind}: {result}")
            return
        self.computed += 1
        self.clear_error()
        self.result = result
        self._render()

    # ---- drawing ------------------------------------------------------------------------
    def _render(self) -> None:
        self._draw()
        self.preview.visible = bool(self.preview.objects) or not self.volume_slot.visible

    def _draw(self) -> None:
        r = self.result
        if r is None:
            return
        p, kind = r.problem, r.problem.kind
        self.player = self.time_slider = None
        self.volume_slot.visible = False
        if kind == "operator":
            n = len(next(iter(r.data.values())))
            self.status.object = f"**{p.title}**: {n} samples of its dataset (inputs, outputs)"
            self.preview.objects = [plot_pane(operator_samples(p, r.grid, r.data),
                                              sizing_mode="stretch_width")]
            return
        if r.data is None:  # a problem without a reference (a user's own PDE)
            self.status.object = (f"**{p.title}** has no reference solution: train a model on it "
                                  "to see its prediction and PDE residual")
            self.preview.objects = []
            return
        shape = " × ".join(str(len(r.grid[a])) for a in p.axes)
        self.status.object = f"**{p.title}**: reference on a {shape} grid ({', '.join(p.axes)})"
        if kind == "ode":
            states = r.data.reshape(len(r.grid["t"]), -1)
            self.preview.objects = [plot_pane(
                trajectory_paths(r.grid["t"], states[:, :3], p.outputs[:3]), sizing_mode="stretch_width")]
            return
        name = self.output.value if self.output.value in p.outputs else p.outputs[0]
        field = r.data[..., p.outputs.index(name)] if len(p.outputs) > 1 else r.data
        if kind in ("1d+t", "2d"):
            self.preview.objects = [plot_pane(field_image(r.grid, field, p.axes, name,
                                                          title=f"reference {name}"),
                                              sizing_mode="stretch_width")]
            if has_geometry(p):  # a domain that is not a box: its parts and collocation points
                self.preview.objects = [*self.preview.objects,
                                        plot_pane(geometry_plot(p), sizing_mode="stretch_width")]
        elif kind == "2d+t":
            self.preview.objects = self._animation(r.grid, field, p.axes, name)
        elif kind == "3d":
            self.preview.objects = self._steady_volume(r.grid, field, name, p)
        elif kind == "3d+t":
            self.preview.objects = self._volume(r.grid, field, name)
        else:
            raise ValueError(f"no catalogue preview for problem kind {kind!r}")
        if len(p.coupled) == 2 and kind in ("2d", "2d+t"):
            self.preview.objects = [*self.preview.objects, self._coupled(r.grid, r.data, p)]

    @staticmethod
    def _coupled(grid, data, p: BaseProblem):
        """The coupled pair of outputs side by side (at the final time of a space-time field)."""
        space = tuple(a for a in p.axes if a != "t")
        images = []
        for name in p.coupled:
            field = data[..., p.outputs.index(name)]
            if "t" in p.axes:  # t is the last axis
                field = field[..., -1]
            when = " at the final time" if "t" in p.axes else ""
            images.append(field_image(grid, field, space, name, title=f"{name}{when}"))
        return plot_pane(hv.Layout(images).cols(2), sizing_mode="stretch_width")

    def _animation(self, grid, field, axes, name) -> list:
        """Frames over t with a player; one colour scale for all frames."""
        it = axes.index("t")
        space = tuple(a for a in axes if a != "t")
        t, clim = grid["t"], (float(field.min()), float(field.max()))
        self.player = pn.widgets.Player(label="frame", start=0, end=len(t) - 1, value=0, interval=250,
                                        loop_policy="loop", width=420)

        def frame(i):
            return field_image(grid, np.take(field, i, axis=it), space, name, clim,
                               title=f"reference {name} at t = {t[i]:.4g}")

        return [self.player, plot_pane(hv.DynamicMap(pn.bind(frame, i=self.player)),
                                       sizing_mode="stretch_width")]

    def _show_volume(self, grid, values, caption: str, scene_of: BaseProblem | None = None) -> None:
        """The 3D slot shows ``values`` as a volume and, for a problem with a geometry
        (``scene_of``), its domain's scene; made the first time, updated in place after."""
        spacing = tuple(float(grid[a][1] - grid[a][0]) for a in ("x", "y", "z"))
        origin = tuple(float(grid[a][0]) for a in ("x", "y", "z"))
        if self.volume is None:
            self.volume = render.volume_pane(values, spacing, origin, max_data_size=4.0, height=420,
                                             sizing_mode="stretch_width")
            self.volume_slot.objects = [self._volume_caption, self.volume]
        else:
            self.volume.param.update(object=np.ascontiguousarray(values), spacing=spacing, origin=origin)
        self._volume_caption.object = caption
        if scene_of is not None:
            pane, plotter = geometry_scene(scene_of)
            if self.scene is None:
                self.scene = pane
                self.volume_slot.objects = [*self.volume_slot.objects, self._scene_caption, self.scene]
            else:
                self.scene.object = plotter.ren_win
            if self._scene_plotter is not None:
                self._scene_plotter.close()
            self._scene_plotter = plotter
            parts = ", ".join(scene_of.region().parts)
            self._scene_caption.object = f"the domain: boundary points by part ({parts}) and outward normals"
        for shown in (self._scene_caption, self.scene):
            if shown is not None:
                shown.visible = scene_of is not None
        self.volume_slot.visible = True

    def _steady_volume(self, grid, field, name, p: BaseProblem) -> list:
        """The field's volume (NaN outside a geometry shown as its lowest value) and the domain."""
        outside = np.isnan(field)
        self._show_volume(grid, np.where(outside, np.nanmin(field), field) if outside.any() else field,
                          f"volume of **{name}** (drag to rotate)", p if has_geometry(p) else None)
        return []

    def _volume(self, grid, field, name) -> list:
        """Volume rendering at one time (the last), a slider for the others."""
        t = grid["t"]
        self._show_volume(grid, field[..., -1], f"volume of **{name}** (drag to rotate)")
        self.time_slider = pn.widgets.DiscreteSlider(
            label="t", options={f"{v:.4g}": i for i, v in enumerate(t)}, value=len(t) - 1, width=300)

        def show(event):
            self.volume.object = np.ascontiguousarray(field[..., event.new])

        self.time_slider.param.watch(show, "value")
        return [self.time_slider]

    # ---- reactions ----------------------------------------------------------------------
    def _problem_replaced(self, *_):
        if self._watched is not None:
            old, watcher = self._watched
            old.param.unwatch(watcher)
        p = self.problem_view.problem
        names = [n for n in p.param if n != "name"]
        self._watched = (p, p.param.watch(self._params_edited, names)) if names else None
        multi = len(p.outputs) > 1 and p.kind not in ("ode", "operator")
        with param.parameterized.discard_events(self.output):
            self.output.options = list(p.outputs)
            self.output.value = p.outputs[0]
        self.output.visible = multi
        self.parameters.object = parameter_table(p)
        self._select_row(p.key)
        self.clear_error()
        self.refresh()

    def _params_edited(self, *_):
        self.parameters.object = parameter_table(self.problem_view.problem)
        self.refresh()

    def _row_selected(self, event):
        if self._syncing or not event.new:
            return
        self.problem_view.picker.value = self.table.value["key"].iloc[event.new[0]]

    def _select_row(self, key: str) -> None:
        keys = list(self.table.value["key"])
        self._syncing = True
        try:
            self.table.selection = [keys.index(key)] if key in keys else []
        finally:
            self._syncing = False

    # ---- errors -------------------------------------------------------------------------
    def _param_error(self, name: str, err: ValueError) -> None:
        self.report_error(f"Invalid value for **{name}**: {err}")

    def report_error(self, message: str) -> None:
        self.alert.show(message)

    def clear_error(self) -> None:
        self.alert.clear()
