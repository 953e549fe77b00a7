"""Studies in the app: many runs of the picked problem and model over a search space, with seeds.

The form takes what ``sciml-lab study run`` takes — the space as ``key=[values]`` lines, fixed
settings as ``key=value`` lines, seeds, objective, workers — and builds a
:class:`lab.studies.StudySpec` from it (a bad line is refused with its name before anything
runs). *Run study* drives :func:`lab.studies.run_study` in a thread of its own on a local Dask
cluster; each finished trial is posted to a mailbox that a periodic callback moves into the
table and the plot (objective against the first searched parameter, one dot per seed), so the
page never waits for the study. *Stop study* closes the cluster: the trials in flight stay "running"
in the study's storage, and running the same study again continues them from their
checkpoints, as the CLI does. Every trial is an ordinary run in the run store (*Saved runs*).
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

from lab.config import parse_assignments
from widgets.alerts import Message
from widgets.theme import ACCENT, PLOT_HEIGHT, plot_pane

OBJECTIVES = {"final relative L2 error": "rel_l2", "final total loss": "total"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


class StudiesView(pn.viewable.Viewer):
    """A study form, its progress, a table of trials and the objective against a parameter."""

    poll_ms = param.Integer(default=500, bounds=(50, None), doc="How often finished trials are shown")

    def __init__(self, current: Callable[[], tuple[str, str]], runs_dir=None, *, client=None,
                 on_finished: Callable[[], None] | None = None, **params):
        """``current()`` gives the (problem key, model kind) the sidebar shows; ``client`` a
        ``distributed.Client`` to use instead of a new local cluster (tests)."""
        super().__init__(**params)
        self.current, self.runs_dir, self.client = current, runs_dir, client
        self.on_finished = on_finished
        self.space = pn.widgets.TextAreaInput(
            label="Search space (one key=[values] per line)", value="model.width=[16, 32]", height=80,
            sizing_mode="stretch_width")
        self.fixed = pn.widgets.TextAreaInput(
            label="Fixed settings (key=value per line)", value="steps=300\nlbfgs_steps=0", height=80,
            sizing_mode="stretch_width")
        self.seeds = pn.widgets.IntInput(label="Seeds per point", value=2, start=1, end=1000, width=130)
        self.objective = pn.widgets.Select(label="Objective (minimised)", options=OBJECTIVES, width=200)
        self.workers = pn.widgets.IntInput(label="Workers", value=2, start=1, end=64, width=100)
        self.run_button = pn.widgets.Button(label="Run study", color="primary", width=110)
        self.stop_button = pn.widgets.Button(label="Stop study", color="danger", width=100, disabled=True)
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.alert = Message()
        self.status = pn.pane.Markdown("No study run in this session yet.", sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=260,
                                          layout="fit_data_stretch", sizing_mode="stretch_width")
        self.plot = plot_pane(self._scatter([], None), sizing_mode="stretch_width")
        self.spec = None
        self.rows: list[dict] = []
        self._mailbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._own_client = None
        self._stopping = False
        self._callback = None
        self._layout = pn.Column(
            pn.pane.Markdown("Train the problem and model picked in the sidebar over a search space, "
                             "several seeds per point, on a local Dask cluster; every trial is a saved run."),
            pn.Row(self.space, self.fixed, sizing_mode="stretch_width"),
            pn.Row(self.seeds, self.objective, self.workers, self.run_button, self.stop_button, align="end"),
            self.alert, self.status, self.plot, self.table, sizing_mode="stretch_width")

    def __panel__(self):
        return self._layout

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- actions ------------------------------------------------------------------------
    def build_spec(self):
        """The :class:`StudySpec` the form describes (``ValueError`` naming what is wrong)."""
        from lab.studies import StudySpec

        problem, model = self.current()
        space = parse_assignments(_lines(self.space.value), "search space")
        fixed = parse_assignments(_lines(self.fixed.value), "fixed settings")
        if not space:
            raise ValueError("the search space is empty: give at least one line such as model.width=[16, 32]")
        return StudySpec(problem=problem, model=model, space=space, fixed=fixed, seeds=self.seeds.value,
                         objective=self.objective.value)

    def run(self) -> None:
        """Start the study the form describes, in the background."""
        if self.running:
            self.alert.show("A study is running: stop it before starting another.")
            return
        try:
            self.spec = spec = self.build_spec()
        except (ValueError, TypeError) as err:
            self.alert.show(f"Cannot run this study: {err}")
            return
        self.alert.clear()
        self.rows = []
        self.table.value = pd.DataFrame()
        self.plot.object = self._scatter([], spec)
        self.status.object = f"Study **{spec.name}**: {spec.n_trials} runs, starting a local cluster …"
        self._thread = threading.Thread(target=self._drive, args=(spec,), name="sciml-lab-study", daemon=True)
        self._thread.start()
        self.run_button.disabled, self.stop_button.disabled = True, False
        if pn.state.curdoc is not None and self._callback is None:
            self._callback = pn.state.add_periodic_callback(self.drain, period=self.poll_ms)

    def stop(self) -> None:
        """End the study now; trials in flight continue when the same study is run again."""
        client = self._own_client  # a client handed in belongs to its owner
        if self.running and client is not None:
            self._stopping = True
            self.status.object = "Stopping: the trials in flight continue if this study is run again."
            client.close()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # ---- the study's thread -------------------------------------------------------------
    def _drive(self, spec) -> None:
        from lab.studies import connect, run_study

        post = self._mailbox.put
        try:
            if self.client is not None:
                run_study(spec, runs_dir=self.runs_dir, client=self.client, on_trial=lambda t: post(("trial", t)))
            else:
                with connect(n_workers=self.workers.value) as client:
                    self._own_client = client
                    post(("status", f"Study **{spec.name}**: {spec.n_trials} runs on "
                                    f"{self.workers.value} workers …"))
                    run_study(spec, runs_dir=self.runs_dir, client=client, on_trial=lambda t: post(("trial", t)))
            post(("done", None))
        except Exception as err:  # shown to the user; the study's storage keeps what finished
            post(("failed", f"{type(err).__name__}: {err}"))
        finally:
            self._own_client = None

    # ---- in the page --------------------------------------------------------------------
    def drain(self) -> None:
        """Move finished trials into the table and the plot."""
        changed, ended = False, None
        while True:
            try:
                kind, item = self._mailbox.get_nowait()
            except queue.Empty:
                break
            if kind == "trial":
                self.rows.append({"trial": item.number, "state": item.state.name, "value": item.value,
                                  **item.params, "seed": item.user_attrs.get("seed"),
                                  "run": str(item.user_attrs.get("run", "")).rsplit("/", 1)[-1]})
                changed = True
            elif kind == "status":
                self.status.object = item
            else:
                ended = (kind, item)
        if changed:
            self.table.value = pd.DataFrame(self.rows)
            self.plot.object = self._scatter(self.rows, self.spec)
            self.status.object = f"Study **{self.spec.name}**: {len(self.rows)} of {self.spec.n_trials} runs done."
        if ended is not None:
            kind, message = ended
            self.run_button.disabled, self.stop_button.disabled = False, True
            if kind == "failed" and not self._stopping:
                self.alert.show(f"The study ended early: {message}")
            self._stopping = False
            best = [r for r in self.rows if r["value"] is not None]
            best = min(best, key=lambda r: r["value"]) if best else None
            self.status.object = (f"Study **{self.spec.name}**: {len(self.rows)} of {self.spec.n_trials} runs done"
                                  + (f"; best {best['value']:.3g} (trial {best['trial']}, run `{best['run']}`)."
                                     if best else "."))
            if self.on_finished is not None:
                self.on_finished()

    def _scatter(self, rows: list[dict], spec) -> hv.Element:
        """The objective of each finished run against the first searched parameter (log y)."""
        key = spec.dimensions[0].key if spec is not None and spec.dimensions else "parameter"
        label = spec.objective if spec is not None else "objective"
        done = [(r[key], r["value"]) for r in rows if r.get("value") is not None and key in r]
        return hv.Scatter(done, key, label).opts(
            size=8, color=ACCENT, logy=bool(done) and min(v for _, v in done) > 0, height=PLOT_HEIGHT,
            responsive=True, tools=["hover"], framewise=True,
            title=f"{label} of each run (one dot per seed)" if done else "no run finished yet")
