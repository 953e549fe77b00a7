"""The whole lab in one view: pick a problem and a model, train, watch, stop, reopen runs.

``LabApp()`` is a ``pn.viewable.Viewer`` (display it in JupyterLab after :func:`extension`);
``serve()`` runs it as a web app with one ``LabApp`` per browser session, in a
``FastListTemplate`` with the controls in the sidebar. Every edit goes into the ``param``
configs ``lab`` declares; an out-of-range value is refused with a message naming the
parameter and its range, and the app carries on.
"""
from __future__ import annotations

import os

import panel as pn
import param

from lab.models import get_model_config, list_models
from lab.session import RunSpec
from lab.training import Done, Failed, TrainConfig, Trainer
from lab.training.process import ProcessTrainer
from lab.training.slots import TrainingSlots, available_cores
from widgets.alerts import Message
from widgets.catalogue_view import CatalogueView
from widgets.diagnostics import DiagnosticsView
from widgets.discovery_view import DiscoveryView
from widgets.forms import machine_devices, settings_form
from widgets.inverse_view import DATA_SETTINGS, DataView
from widgets.offline import (OfflineFast, indent_at_newlines_only, inline_stylesheets_on_update,
                             serve_stylesheets_locally)
from widgets.operator_view import OperatorView
from widgets.problem_view import ProblemView
from widgets.runs_view import RunsView
from widgets.studies_view import StudiesView
from widgets.theme import ACCENT, FIT, fit_width
from widgets.training_view import TrainingView

#: a quick run on a laptop CPU (the backend's own defaults stay as they are)
APP_TRAIN_DEFAULTS = dict(steps=2000, n_pde=1000, lbfgs_steps=0, snapshot_every=50, log_every=10)
#: what those defaults reach, and the recipe that converges (measured over seeds 0-9 by
#: benchmarks/burgers_pinn.py --recipe app / default; tests/test_burgers_recipes.py checks the figures)
APP_DEFAULT_NOTE = (
    "The default training is a quick look: 2000 Adam steps, seconds to a minute on a CPU. On Burgers it "
    "ends at a relative L2 of 0.30–0.47 over seeds 0–9. Converged, below 1e-2 for 10 of 10 seeds on a "
    "CPU and on a GPU: a 4×32 network, 4000 points redrawn by RAD every 500 steps, learning rate 3e-3, "
    "3000 Adam + 5000 L-BFGS steps; or *Load a trained model* (`burgers-pinn`) in Saved runs.")
#: Panel extensions the views need: tables, equations, 3D fields (vtk.js)
EXTENSIONS = ("tabulator", "katex", "vtk")
#: how ``serve`` trains unless told otherwise: "process" (a worker process per training) or
#: "thread" (inside the server, as in a notebook; lighter on memory)
TRAINING_ENV = "SCIML_LAB_TRAINING"
#: model families that train on each problem kind (``ModelConfig.family``); other kinds: PINNs
FAMILIES_FOR_KIND = {"operator": ("operator",), "ode": ("pinn", "ode"), "1d+t": ("pinn", "lagrangian")}
#: training settings only a PINN's task reads (collocation points, residual weighting, ...)
PINN_SETTINGS = ("derivatives", "n_pde", "n_ic", "n_bc", "resample_every", "resampling", "rad_k",
                 "rad_c", "rad_candidates", "causal", "causal_chunks", "causal_eps", "causal_delta",
                 "balancing", "balance_every", "balance_momentum", "ntk_points")


def train_settings(family: str) -> list[str]:
    """The training settings that apply to a model ``family`` on this machine."""
    import torch

    skip = set(PINN_SETTINGS if family != "pinn" else ()) | set(DATA_SETTINGS)  # DataView edits these
    if family == "lagrangian":  # a Lagrangian PINN draws its points as a PINN does
        skip -= {"n_pde", "n_ic", "n_bc", "resample_every"}
    if not torch.cuda.is_available():
        skip.add("cuda_graphs")
    return [n for n in TrainConfig.param if n != "name" and n not in skip]


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def models_for(kind: str) -> dict[str, str]:
    """Model picker options ``{title: kind}`` for a problem of this ``kind``."""
    families = FAMILIES_FOR_KIND.get(kind, ("pinn",))
    models = list_models().items()  # grouped by family, in the order above: PINNs first
    return {cls.title or k: k for family in families for k, cls in models if cls.family == family}


class LabApp(pn.viewable.Viewer):
    """Problem + model + training settings in a sidebar; live training and saved runs in tabs."""

    runs_dir = param.String(default=None, allow_None=True, doc="Where runs are saved (None: default)")
    training_mode = param.Selector(default="thread", objects=["thread", "process"], doc=(
        "Train in a thread of this process (notebooks) or in a worker process each (a served lab: "
        "the server stays responsive)"))
    slots = param.ClassSelector(class_=TrainingSlots, default=None, allow_None=True, doc=(
        "Limits on concurrent trainings shared by the sessions of a server (None: no limit)"))
    worker_threads = param.Integer(default=1, bounds=(1, None), doc="Torch threads of a training process")

    def __init__(self, problem: str = "burgers", model: str = "mlp", **params):
        super().__init__(**params)
        self.alert = Message(floating=True)
        self.problem_view = ProblemView(key=problem,
                                        on_change=self._edited)
        self.model_picker = pn.widgets.Select(
            name="Model", options=models_for(self.problem_view.problem.kind), value=model,
            sizing_mode="stretch_width")
        self.model_editor = pn.Column(sizing_mode="stretch_width")
        self.train_config = TrainConfig(**APP_TRAIN_DEFAULTS)
        self.train_editor = settings_form(self.train_config, on_change=self._edited,
                                          options={"device": machine_devices()})
        # data-parallel ranks, one GPU each: offered only where there are GPUs to split over
        # (end > start even then: Bokeh rejects a slider whose ends are equal)
        self.gpus = pn.widgets.IntSlider(name="GPUs (data-parallel)", start=1, end=max(gpu_count(), 2),
                                         value=1, visible=gpu_count() > 1 and self.training_mode == "process",
                                         sizing_mode="stretch_width")
        self.data = DataView(self.train_config, lambda: self.problem_view.problem, self.runs_dir,
                             on_change=self._edited)
        self.training = TrainingView(on_error=self.report_error, on_finished=self._finished)
        self.runs = RunsView(self.runs_dir, on_open=self._open_run, on_continue=self.start,
                             on_error=self.report_error)

        self.train_button = pn.widgets.Button(label="Train", color="primary", width=90)
        self.stop_button = pn.widgets.Button(label="Stop", color="danger", width=90, disabled=True)
        self.pause_button = pn.widgets.Button(label="Pause", color="warning", width=90,
                                              disabled=True)
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())
        self.pause_button.on_click(lambda _: self.toggle_pause())
        self.training.param.watch(self._running_changed, ["running", "queued", "stopping"])
        #: a run asked for while the stopped one saves its checkpoint: it starts right after
        self._next_run: Trainer | None = None
        self.model_picker.param.watch(self._select_model, "value")
        self.problem_view.param.watch(self._problem_changed, "problem")
        self._select_model()
        self.operator = OperatorView(on_error=self.report_error)
        self._problem_changed()

        self.catalogue = CatalogueView(self.problem_view)  # follows the picker and parameter edits
        self.diagnostics = DiagnosticsView.for_app(self)  # its "Look at" list follows the runs
        self.studies = StudiesView(lambda: (self.problem_view.problem.key, self.model_picker.value),
                                   self.runs_dir, on_finished=self.runs.refresh)
        self.discovery = DiscoveryView(lambda: self.problem_view.problem)
        views = [("Catalogue", self.catalogue), ("Training", pn.Column(self.training, self.operator)),
                 ("Saved runs", self.runs), ("Diagnostics", self.diagnostics), ("Studies", self.studies),
                 ("Discovery", self.discovery)]
        #: tabs drawn when first opened: half of a fresh page's models (and of the time the
        #: server and the browser take to build it) are in them. Once drawn a tab stays
        #: (``dynamic=False``): vtk.js throws when a 3D view is taken off the page.
        self._undrawn = {i: view for i, (name, view) in enumerate(views) if name not in ("Catalogue", "Training")}
        self.tabs = pn.Tabs(*((name, fit_width(None if i in self._undrawn else view))
                              for i, (name, view) in enumerate(views)),
                            dynamic=False, sizing_mode="stretch_width", styles=FIT)
        self.tabs.param.watch(self._draw_tab, "active")
        self.sidebar = [
            self.problem_view.picker, self.model_picker,
            pn.Row(self.train_button, self.stop_button, self.pause_button),
            self.alert,
            pn.Card(self.problem_view.editor, title="Problem parameters", collapsed=False,
                    sizing_mode="stretch_width"),
            pn.Card(self.model_editor, title="Model", collapsed=False, sizing_mode="stretch_width"),
            pn.Card(pn.pane.Markdown(APP_DEFAULT_NOTE, styles={"font-size": "0.85em"}, sizing_mode="stretch_width"),
                    self.gpus, self.train_editor, title="Training", collapsed=True, sizing_mode="stretch_width"),
            pn.Card(self.data, title="Learning from data", collapsed=True, sizing_mode="stretch_width"),
        ]
        self.main = [self.problem_view.header, self.tabs]
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            pn.state.on_session_destroyed(lambda _ctx: (self.training.shutdown(), self.operator.shutdown(),
                                                        self.studies.stop(), self.discovery.stop()))

    def __panel__(self):
        return pn.Row(pn.Column(*self.sidebar, width=340), pn.Column(*self.main, sizing_mode="stretch_width"),
                      sizing_mode="stretch_width")

    def template(self) -> pn.template.FastListTemplate:
        """The app as a full page: controls in the sidebar, views in the main area (the page
        requests nothing off-host: see :class:`widgets.offline.OfflineFast`)."""
        return pn.template.FastListTemplate(title="sciml-lab", sidebar=self.sidebar, main=self.main,
                                            accent=ACCENT, sidebar_width=360, theme_toggle=False,
                                            design=OfflineFast)

    # ---- actions ------------------------------------------------------------------------
    def train(self) -> None:
        """Start a new run from the settings as edited (copies: later edits do not leak in)."""
        try:
            trainer = Trainer(self.problem_view.copy(),
                              type(self.model_config).from_dict(self.model_config.to_dict()),
                              TrainConfig.from_dict(self.train_config.to_dict()),
                              runs_dir=self.runs_dir)
        except ValueError as err:
            self.report_error(str(err))
            return
        self.start(trainer)

    def start(self, trainer: Trainer) -> None:
        """Hand a trainer (new or resumed) to the training view."""
        if self.training.running and self.training.stopping:
            self._next_run = trainer
            self._running_changed()
            self.training.status.object = ("Stopping: the new run starts as soon as the stopped "
                                           "one has saved its checkpoint …")
            return
        if self.training.running:
            self.report_error("A run is in progress: stop it before starting another.")
            return
        if self.training_mode == "process":
            try:
                trainer = ProcessTrainer(trainer, threads=self.worker_threads, ranks=self.gpus.value)
            except ValueError as err:  # e.g. a problem defined in a notebook cannot travel
                self.report_error(str(err))
                return
        self.clear_error()
        self.tabs.active = 1  # Training
        self.operator.attach(trainer, polled=False)  # no-op unless the problem is an operator problem
        self.training.start(trainer, None if self.slots is None else self.slots.request(self),
                            readers=[self.operator.read])  # one mailbox, drained once, for both

    def stop(self) -> None:
        """Stop the run (it checkpoints), or take it out of the queue. Train is enabled again at
        once: a run asked for meanwhile starts as soon as the stopped one has saved (a busy
        server's worker may need seconds for that). Stop then cancels that next run."""
        if self._next_run is not None:
            self._next_run = None
            self._running_changed()
            self.training.status.object = "The next run was cancelled; the stopped one is saving."
            return
        queued = self.training.queued
        self.training.stop()
        if queued:
            self.operator.shutdown()

    def toggle_pause(self) -> None:
        if self.training.trainer is None or not self.training.running:
            return
        if self.training.trainer.is_paused:
            self.training.resume()
            self.pause_button.label = "Pause"
        else:
            self.training.pause()
            self.pause_button.label = "Resume"

    # ---- errors -------------------------------------------------------------------------
    def report_error(self, message: str) -> None:
        """Show what concerns the whole session (refused forms show their own under the field)."""
        self.alert.show(message)

    def clear_error(self) -> None:
        self.alert.clear()

    # ---- reactions ----------------------------------------------------------------------
    def _edited(self, _name: str) -> None:
        self.clear_error()

    def _select_model(self, *_):
        self.model_config = get_model_config(self.model_picker.value)
        if hasattr(self, "train_editor"):
            self.train_editor.parameters = train_settings(self.model_config.family)
        self.model_editor.objects = [settings_form(self.model_config, on_change=self._edited)]

    def _problem_changed(self, *_):
        p = self.problem_view.problem
        self.clear_error()  # what went wrong concerned the problem left
        options = models_for(p.kind)
        if self.model_picker.options != options:
            keep = self.model_picker.value in options.values()
            self.model_picker.param.update(options=options, value=self.model_picker.value if keep
                                           else next(iter(options.values())))
        if hasattr(self, "data"):
            self.data.problem_changed()
        if not self.training.running:
            self.training.configure(p.bounds(), p.outputs)
            self.operator.configure(p)  # shows itself only for operator problems

    def _draw_tab(self, event) -> None:
        view = self._undrawn.pop(event.new, None)
        if view is not None:
            self.tabs[event.new].objects = [view]

    def _running_changed(self, *_events):
        running, stopping, waiting = self.training.running, self.training.stopping, self._next_run is not None
        self.train_button.disabled = (running and not stopping) or waiting
        self.stop_button.disabled = not running or (stopping and not waiting)
        self.pause_button.disabled = not running or self.training.queued or stopping
        self.pause_button.label = "Pause"

    def _finished(self, _ev: Done | Failed) -> None:
        self.runs.refresh()
        if self._next_run is not None:
            trainer, self._next_run = self._next_run, None
            self.start(trainer)

    def _open_run(self, problem, snapshot, history, spec: RunSpec, label: str | None = None) -> None:
        """Show a saved run (or a zoo entry: ``label`` says which), with the sidebar and header
        set to its problem and model (so Train next trains what is shown)."""
        if not self.training.running:
            self.problem_view.show(problem)
            self.model_picker.value = spec.model
            _, saved, _ = spec.build()
            self.model_config.param.update(**saved.to_dict())
        self.clear_error()  # e.g. "Select a run first" of an earlier click
        self.training.show_saved(problem.bounds(), problem.outputs, snapshot, history)
        self.operator.show_saved(problem, snapshot, history)
        shown = f"{label} · {problem.title}" if label else f"Saved run of **{problem.title}**"
        self.training.status.object = (f"{shown} at step {snapshot.step} (checkpoint)"
                                       + (f" · relative L2 {snapshot.rel_l2:.3e}" if snapshot.rel_l2 is not None else ""))
        self.tabs.active = 1  # Training


def extension(inline: bool = True, **params) -> None:
    """Load the views' JavaScript into a notebook; call it once before displaying ``LabApp()``.

    Inline (the default) the kernel sends BokehJS, Panel and the extensions with the cell's
    output, so the views render with no network (offline, a firewalled Binder); displaying the
    app then takes longer, as Panel also inlines every view's stylesheet. From the CDN
    (``inline=False``, ``pn.extension``'s default) one unreachable script stalls Panel's loader
    and every Panel output of the notebook stays empty. ``params`` go to ``pn.extension``.
    """
    if inline:
        indent_at_newlines_only()  # vtk.js survives being inlined
        inline_stylesheets_on_update()  # and views changed later link no stylesheet off-host
    pn.extension(*EXTENSIONS, inline=inline, **params)


def session_page(runs_dir=None, **app) -> pn.template.FastListTemplate:
    """The page of one served browser session (built in that session's document); ``app``:
    :class:`LabApp`'s parameters (how and how many trainings run)."""
    pn.extension(*EXTENSIONS, notifications=False)
    serve_stylesheets_locally(pn.state.curdoc)
    return LabApp(runs_dir=runs_dir, **app).template()


def serve(port: int = 5006, show: bool = True, runs_dir=None, address: str = "localhost",
          threaded: bool = False, allow_websocket_origin: list[str] | None = None,
          prefix: str = "", unix_socket: str | None = None, training: str | None = None,
          max_trainings: int | None = None, max_trainings_per_session: int = 1, **auth):
    """Serve the lab; each browser session gets its own :class:`LabApp`.

    Behind a reverse proxy (jupyter-server-proxy on Binder, see :mod:`widgets.proxy`) the
    browser's host differs from ``address:port``, so its origin must be allowed
    (``allow_websocket_origin``) and, when the proxy forwards the full path, the app lives
    under ``prefix``; ``unix_socket`` serves on that socket instead of a port. ``auth`` holds
    ``panel.serve``'s sign-in options (:func:`widgets.sharing.auth_options`): with them, each
    signed-in user gets a runs folder of their own. Blocks until interrupted unless
    ``threaded`` (then the server thread is returned).

    Trainings run in worker processes (``training="process"``, the default unless
    ``$SCIML_LAB_TRAINING`` says ``thread``), so the server keeps answering every session while
    they train. At most ``max_trainings`` run at once on the server (default: one per core but
    one) and ``max_trainings_per_session`` per session; more wait in a queue the page shows.
    """
    from widgets.closed_pages import quiet_closed_pages
    from widgets.sharing import user_runs_dir

    quiet_closed_pages()
    runs_dir = None if runs_dir is None else str(runs_dir)
    training = training or os.environ.get(TRAINING_ENV) or "process"
    if training not in ("process", "thread"):
        raise ValueError(f"training must be 'process' or 'thread' (${TRAINING_ENV}), not {training!r}")
    slots = TrainingSlots(max_trainings, max_trainings_per_session)
    threads = max(1, (available_cores() - 1) // slots.per_server)

    def session():
        return session_page(user_runs_dir(runs_dir, pn.state.user) if auth else runs_dir,
                            training_mode=training, slots=slots, worker_threads=threads)

    origins = sorted({f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}",
                      *(allow_websocket_origin or ())})
    where = {"unix_socket": unix_socket} if unix_socket else {"port": port, "address": address}
    return pn.serve({"/": session}, show=show, title="sciml-lab", websocket_origin=origins,
                    threaded=threaded, prefix=prefix, **where, **auth)
