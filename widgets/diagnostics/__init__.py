"""The Diagnostics tab: 3D fields, spectra, attractors, loss landscapes and the NTK of one source.

The source is the selected problem's reference, a saved run (rebuilt from its checkpoint), a
trained model of the zoo (:mod:`lab.zoo`) or
the live run of a :class:`widgets.training_view.TrainingView`: attached to one, the view
subscribes a sink to each trainer it starts. The sink runs on the training thread at every
Snapshot event and only records it (with a copy of the weights, taken between two steps so
it is consistent, and the flattened parameters for PCA paths) and wakes the panels whose
"refresh every k steps" is due; they compute on their own threads.
"""
from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param

from lab import zoo
from lab.diagnostics.landscape import flat_parameters
from lab.training.events import Snapshot, Started
from lab.training.runs import list_runs
from widgets.alerts import Message
from widgets.diagnostics.attractor_view import AttractorView
from widgets.diagnostics.base import DiagnosticPanel, Source, copy_model
from widgets.diagnostics.fields3d_view import Fields3DView
from widgets.diagnostics.landscape_view import LandscapeView
from widgets.diagnostics.ntk_view import NTKView
from widgets.diagnostics.sde_view import NeuralSDEView
from widgets.diagnostics.spectra_view import SpectraView
from widgets.diagnostics.uncertainty_view import UncertaintyView

__all__ = ["AttractorView", "DiagnosticPanel", "DiagnosticsView", "Fields3DView", "LandscapeView",
           "NTKView", "NeuralSDEView", "Source", "SpectraView", "UncertaintyView"]

#: how the picker names a zoo entry
ZOO_PREFIX = "zoo: "
#: parameter snapshots kept per live run for PCA directions
MAX_TRAJECTORY = 200


class DiagnosticsView(pn.viewable.Viewer):
    """One tab per diagnostic, all looking at one chosen source."""

    runs_dir = param.String(default=None, allow_None=True, doc="Where saved runs are listed from")

    def __init__(self, problem: Callable[[], object] | None = None, **params):
        super().__init__(**params)
        self._problem = problem
        self.panels = {"3D fields": Fields3DView(), "Spectra": SpectraView(),
                       "Attractors": AttractorView(), "Loss landscape": LandscapeView(), "NTK": NTKView(),
                       "Uncertainty": UncertaintyView(), "Neural SDE": NeuralSDEView()}
        self.alert = Message()
        self.picker = pn.widgets.Select(name="Look at", options=["reference", "live run"], width=320)
        self.load_button = pn.widgets.Button(label="Load", color="primary", width=80)
        self.load_button.on_click(lambda _: self.load())
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        # every view stays in the page (hidden while another tab is shown): a dynamic Tabs removed
        # the vtk.js views of 3D fields on each switch, and vtk.js threw on the second removal
        # ("getInteractor" of undefined), which stopped the other tabs from drawing their controls
        self.tabs = pn.Tabs(*self.panels.items(), dynamic=False, sizing_mode="stretch_width")
        self.training = None
        self._live_source: Source | None = None
        self._trajectory: list = []
        self.refresh_runs()

    def __panel__(self):
        return pn.Column(pn.Row(self.picker, self.load_button, self.status), self.alert,
                         self.tabs, sizing_mode="stretch_width")

    @classmethod
    def for_app(cls, app) -> "DiagnosticsView":
        """The tab of a :class:`widgets.app.LabApp`: its problem, its runs, its live training."""
        view = cls(problem=lambda: app.problem_view.problem, runs_dir=app.runs_dir)
        view.attach(app.training)
        return view

    # ---- sources ------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        """List the saved runs, then the zoo's trained models (the choice stays where it still exists)."""
        names = [r["name"] for r in list_runs(self.runs_dir) if r["status"] != "damaged"]
        entries = [ZOO_PREFIX + r["name"] for r in zoo.list() if "damaged" not in r]
        options = ["reference", "live run", *names, *entries]
        keep = self.picker.value if self.picker.value in options else "reference"
        self.picker.param.update(options=options, value=keep)

    def set_source(self, source: Source, *, refresh: bool = False) -> None:
        self.status.object = f"Showing the **{source.label}**"
        for panel in self.panels.values():
            panel.set_source(source, refresh=refresh)

    def load(self) -> None:
        """Point every panel at the picked source (panels compute on their Refresh)."""
        self.alert.clear()
        choice = self.picker.value
        try:
            if choice == "reference":
                if self._problem is None:
                    raise ValueError("no problem selected")
                source = Source.reference(self._problem())
            elif choice == "live run":
                if self._live_source is None:
                    raise ValueError("no live run has produced a snapshot yet: start one in Training")
                source = self._live_source
            elif choice.startswith(ZOO_PREFIX):
                source = Source.from_zoo(choice[len(ZOO_PREFIX):])
            else:
                source = Source.from_run(choice, self.runs_dir)
        except ValueError as err:
            self.alert.show(str(err))
            return
        self.set_source(source)

    # ---- live runs ----------------------------------------------------------------------
    def attach(self, training) -> None:
        """Follow the runs that ``training`` (a TrainingView) starts."""
        self.training = training
        training.param.watch(self._running_changed, "running")

    def _running_changed(self, event) -> None:
        if event.new and self.training.trainer is not None:
            self.training.trainer.subscribe(self.sink_for(self.training.trainer))
        if not event.new:  # a run ended: it is a saved run now
            self.refresh_runs()

    def sink_for(self, trainer) -> Callable:
        """A Trainer sink feeding the live source (runs on the training thread: quick)."""
        def sink(event):
            if isinstance(event, Started):
                self._trajectory = []
            elif isinstance(event, Snapshot):
                model = copy_model(trainer.model)
                self._trajectory = (self._trajectory + [flat_parameters(model)])[-MAX_TRAJECTORY:]
                self._live_source = Source(trainer.problem, event, model, list(self._trajectory),
                                           label=f"live run at step {event.step}",
                                           family=trainer.model_config.family)
                if self.picker.value == "live run":
                    for panel in self.panels.values():
                        panel.live(self._live_source)
        return sink
