"""What every diagnostics view shares: a source to look at, Refresh, live refresh, errors.

A :class:`Source` is what a view looks at — a problem's reference, a live run's newest
snapshot (with a copy of the model's weights taken on the training thread), or a saved run
rebuilt from its checkpoint. A :class:`DiagnosticPanel` computes on a worker thread
(``compute(source) -> result``, pure numerics from :mod:`lab`) and draws the result on the
document's thread (``show(result)``): with a served document through Bokeh's thread-safe
``add_next_tick_callback``, elsewhere (notebooks, tests) directly inside
``pn.io.unlocked()``. A request arriving while one is computing is dropped, so a slow view
never queues work behind a fast training run. ``ValueError`` from ``compute`` (a bad request:
a spectrum of a non-periodic field, a landscape over the memory budget) is shown in the
view's alert.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import panel as pn
import param
import torch

from lab.training.events import Snapshot
from lab.workers import finish_at_exit
from widgets.alerts import Message
from widgets.pages import call_on_page


@dataclass
class Source:
    """A problem plus, where there is one, a snapshot of fields and the model that made it."""

    problem: Any
    snapshot: Snapshot | None = None
    #: a private copy of the trained model (views may perturb its parameters)
    model: torch.nn.Module | None = None
    #: flattened parameters at earlier snapshots (oldest first), for PCA directions
    trajectory: list[torch.Tensor] = field(default_factory=list)
    label: str = ""
    #: the model family (``ModelConfig.family``): which loss the model was trained on
    family: str = ""

    @property
    def step(self) -> int | None:
        return None if self.snapshot is None else self.snapshot.step

    @classmethod
    def reference(cls, problem, grid_shape: tuple[int, ...] | None = None) -> "Source":
        """The problem's reference on its grid (``grid_shape`` overrides the default)."""
        if not problem.has_reference():
            raise ValueError(f"{problem.title} has no reference solution; look at a live or a saved run")
        grid = problem.grid(grid_shape)
        ref = np.asarray(problem.reference(grid))
        return cls(problem, Snapshot(0, grid, {"reference": ref}, float("nan")),
                   label=f"reference of {problem.title}")

    @classmethod
    def from_run(cls, run: str, runs_dir=None) -> "Source":
        """A saved run: problem and model rebuilt by :func:`lab.session.rebuild` (on the CPU),
        fields from the task's own evaluation (prediction, reference, error)."""
        from lab.session import rebuild

        saved = rebuild(run, runs_dir)
        return cls.from_saved(saved, f"saved run {saved.name}")

    @classmethod
    def from_zoo(cls, name: str, zoo_dir=None) -> "Source":
        """A trained model of the zoo (:func:`lab.zoo.load`, on the CPU), as a saved run."""
        from lab import zoo

        return cls.from_saved(zoo.load(name, zoo_dir).saved, f"trained model {name} (zoo)")

    @classmethod
    def from_saved(cls, saved, label: str) -> "Source":
        """A rebuilt :class:`lab.session.SavedRun`: its problem, its evaluation and its network."""
        return cls(saved.problem, saved.evaluate(), saved.model, label=label, family=saved.model_config.family)


def copy_model(model: torch.nn.Module) -> torch.nn.Module:
    """A detached deep copy (views perturb parameters; the training model must not move)."""
    with torch.no_grad():
        return copy.deepcopy(model)


class DiagnosticPanel(pn.viewable.Viewer):
    """Base of the diagnostics views: Refresh button, live refresh every k steps, alert, progress."""

    title = "Diagnostics"
    #: whether live refreshes need a copy of the model (not just the snapshot's fields)
    needs_model = False

    refresh_every = param.Integer(0, bounds=(0, 10_000_000),
                                  doc="With a live run: refresh every this many steps (0: only on Refresh)")
    busy = param.Boolean(False, doc="A computation is running")

    def __init__(self, **params):
        super().__init__(**params)
        self.source: Source | None = None
        self.result: Any = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._doc = None
        self._served = False  # whether _doc is a served page's (it may close while computing)
        self._last_live_step: int | None = None
        self.alert = Message()
        # what to do, until there is something to show (an empty plot explains nothing)
        self.caption = pn.pane.Markdown("Choose what to look at above and press **Load**, then "
                                        "**Refresh** here.", sizing_mode="stretch_width")
        self.progress = pn.indicators.Progress(value=-1, active=False, visible=False, width=160,
                                               height=14, bar_color="primary")
        self.refresh_button = pn.widgets.Button(label="Refresh", color="primary", width=90)
        self.refresh_button.on_click(lambda _: self.refresh())
        self.every_input = pn.widgets.IntInput.from_param(
            self.param.refresh_every, name="Refresh every k steps (live; 0: off)", width=200)

    # ---- to implement -------------------------------------------------------------------
    def controls(self) -> list:
        return []

    def compute(self, source: Source) -> Any:
        raise NotImplementedError

    def show(self, result: Any) -> None:
        raise NotImplementedError

    def body(self) -> list:
        raise NotImplementedError

    # ---- layout -------------------------------------------------------------------------
    def __panel__(self):
        # wraps on a narrow screen (a row of nine controls is wider than a laptop's main area)
        bar = pn.FlexBox(self.refresh_button, self.every_input, self.progress, *self.controls(),
                         sizing_mode="stretch_width")
        return pn.Column(bar, self.alert, self.caption, *self.body(), sizing_mode="stretch_width")

    # ---- requests -----------------------------------------------------------------------
    def set_source(self, source: Source | None, *, refresh: bool = False) -> None:
        self.source = source
        if refresh:
            self.refresh()

    def refresh(self, *, background: bool = True) -> bool:
        """Recompute for the current source; returns False when one is already running."""
        if self.busy:
            return False
        if pn.state.curdoc is not None:
            self._doc = pn.state.curdoc
            self._served = self._doc.session_context is not None
        self.clear_error()
        if self.source is None:
            self.report_error("Nothing to show yet: choose a reference, a saved run or start a run.")
            return False
        self.busy = True
        self.progress.param.update(visible=True, active=True)
        if background:
            self._thread = threading.Thread(target=self._work, args=(self.source,),
                                            name=f"sciml-lab-{type(self).__name__}", daemon=True)
            self._thread.start()
            finish_at_exit(self._thread)  # joined before exit: torch in a dying thread aborts
        else:
            self._work(self.source)
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running computation (if any) has been drawn."""
        if self._thread is not None:
            self._thread.join(timeout)

    def live(self, source: Source) -> None:
        """A live run reached ``source.step`` (called on the training thread: returns at once)."""
        self.source = source
        k = self.refresh_every
        step = source.step or 0
        if k and (self._last_live_step is None or step // k > self._last_live_step // k):
            if self.refresh():
                self._last_live_step = step

    def _work(self, source: Source) -> None:
        try:
            result, error = self.compute(source), None
        except ValueError as err:
            result, error = None, str(err)
        self._deliver(result, error)

    def _deliver(self, result, error) -> None:
        def apply():
            try:
                if error is None:
                    self.result = result
                    self.show(result)
                else:
                    self.report_error(error)
            finally:
                self.progress.param.update(visible=False, active=False)
                self.busy = False

        if self._served:
            call_on_page(self._doc, apply)  # a closed page draws nothing
        else:
            with pn.io.unlocked():
                apply()

    # ---- errors -------------------------------------------------------------------------
    def report_error(self, message: str) -> None:
        self.error = message
        self.alert.show(message)

    def clear_error(self) -> None:
        self.error = None
        self.alert.clear()
