"""Saved runs: a table from :func:`lab.training.runs.list_runs`; reopen one or continue it.

*Open* shows a run's logged loss history and the fields of its checkpoint against the
reference; *Continue* resumes training from the checkpoint, in the same run folder, through
:func:`lab.session.resume`; *Export* writes those fields as a file (netCDF, VTK for ParaView,
GIF, MP4: :func:`lab.session.export`, as ``sciml-lab export`` does) that *Download* then
hands to the browser. *Load a trained model* opens an entry of the model zoo (:mod:`lab.zoo`,
the trained models shipped in the repository) the way *Open* opens a run, so every view
works on it. A damaged run is listed with status "damaged" and the file and
reason in the *note* column (a killed one as "interrupted"); opening or continuing it says
why it cannot, and every other run works as before.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import panel as pn

from lab import zoo
from lab.session import RunSpec, evaluate, export, resume
from lab.training import Trainer, list_runs

COLUMNS = ["name", "problem", "model", "status", "step", "rel_l2", "created", "note"]
#: formats a browser can take as one file (a zarr store is a folder: ``sciml-lab export``)
DOWNLOADS = {"netCDF (.nc)": "nc", "VTK for ParaView (.vti)": "vti", "GIF animation": "gif",
             "MP4 animation": "mp4"}


class RunsView(pn.viewable.Viewer):
    """Table of saved runs with Open / Continue, and the zoo's trained models with Load.

    ``on_open(problem, snapshot, history, spec)`` shows a run; a zoo entry adds ``label=`` (what
    the training view says it shows)."""

    def __init__(self, runs_dir=None, *, zoo_dir=None,
                 on_open: Callable[..., None] | None = None,
                 on_continue: Callable[[Trainer], None] | None = None,
                 on_error: Callable[[str], None] | None = None, **params):
        super().__init__(**params)
        self.runs_dir, self.zoo_dir = runs_dir, zoo_dir
        self.on_open, self.on_continue, self.on_error = on_open, on_continue, on_error
        self.table = pn.widgets.Tabulator(self._frame(), selectable=1, disabled=True,
                                          show_index=False, height=360, layout="fit_data_stretch",
                                          sizing_mode="stretch_width",
                                          formatters={"rel_l2": {"type": "money", "precision": 5}})
        # 0 finishes a stopped run's planned steps where its schedule left off
        self.more_steps = pn.widgets.IntInput(label="More steps (0: finish the plan)", value=0,
                                              start=0, width=190)
        self.refresh_button = pn.widgets.Button(label="Refresh", color="light", width=90)
        self.open_button = pn.widgets.Button(label="Open", color="primary", width=90)
        self.continue_button = pn.widgets.Button(label="Continue training", color="success",
                                                 width=150)
        self.export_format = pn.widgets.Select(label="Export as", options=DOWNLOADS, value="nc", width=170)
        self.export_button = pn.widgets.Button(label="Export", color="light", width=90)
        self.download = pn.widgets.FileDownload(label="Download", visible=False, width=260)
        self.zoo_picker = pn.widgets.Select(label="Trained models (zoo)", options=self._zoo_options(), width=330)
        self.zoo_button = pn.widgets.Button(label="Load a trained model", color="primary", width=170,
                                            disabled=not self.zoo_picker.options)
        self.zoo_button.on_click(lambda _: self.open_zoo())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.open_button.on_click(lambda _: self.open_selected())
        self.continue_button.on_click(lambda _: self.continue_selected())
        self.export_button.on_click(lambda _: self.export_selected())
        self._exports: Path | None = None  # this view's scratch folder, made on first export
        self._layout = pn.Column(
            pn.Row(self.refresh_button, self.open_button, self.more_steps, self.continue_button,
                   align="end"),
            pn.Row(self.export_format, self.export_button, self.download, align="end"),
            pn.Row(self.zoo_picker, self.zoo_button, align="end"),
            self.table, sizing_mode="stretch_width")

    def __panel__(self):
        return self._layout

    def _frame(self) -> pd.DataFrame:
        try:
            rows = list_runs(self.runs_dir)
        except OSError as err:  # an unreadable runs folder: say so, keep the view usable
            if self.on_error is None:
                raise
            self.on_error(f"Cannot list the saved runs: {err}")
            rows = []
        return pd.DataFrame(rows, columns=COLUMNS)

    def refresh(self) -> None:
        """List the saved runs and the zoo's entries again."""
        self.table.value = self._frame()
        self.zoo_picker.options = self._zoo_options()
        self.zoo_button.disabled = not self.zoo_picker.options

    def selected(self) -> str | None:
        sel = self.table.selection
        return str(self.table.value.iloc[sel[0]]["name"]) if sel else None

    def _need_selection(self) -> str | None:
        name = self.selected()
        if name is None and self.on_error is not None:
            self.on_error("Select a run in the table first.")
        return name

    def open_selected(self) -> None:
        name = self._need_selection()
        if name is None:
            return
        try:
            problem, snapshot, history = evaluate(name, self.runs_dir)
            spec = RunSpec.from_run(name, self.runs_dir)
        except (OSError, ValueError, KeyError) as err:
            if self.on_error is None:
                raise
            self.on_error(f"Cannot open run {name}: {err}")
            return
        if self.on_open is not None:
            self.on_open(problem, snapshot, history, spec)

    # ---- the model zoo ------------------------------------------------------------------
    def _zoo_options(self) -> dict[str, str]:
        """``{"name — problem, rel. L2, spread over seeds": name}`` of the zoo's readable entries."""
        def error(rel) -> str:
            return f"rel. L2 {rel:.1e}" if isinstance(rel, float) else "no recorded error"

        rows = [r for r in zoo.list(self.zoo_dir) if "damaged" not in r]
        return {f"{r['name']} — {r['problem']} · {r['model']} · {error(r['rel_l2'])} ({zoo.spread(r)})": r["name"]
                for r in rows}

    def open_zoo(self, name: str | None = None) -> None:
        """Open the zoo entry ``name`` (default: the picked one) as *Open* opens a saved run."""
        name = name or self.zoo_picker.value
        if name is None:
            if self.on_error is not None:
                self.on_error("No trained models in the zoo.")
            return
        try:
            entry = zoo.load(name, self.zoo_dir)
            snapshot = entry.evaluate()
        except (OSError, ValueError, KeyError) as err:
            if self.on_error is None:
                raise
            self.on_error(f"Cannot load the trained model {name}: {err}")
            return
        if self.on_open is not None:
            self.on_open(entry.problem, snapshot, entry.history(), entry.spec,
                         label=f"Trained model **{name}** from the zoo ({entry.card.get('device')}-trained)")

    def continue_selected(self) -> None:
        name = self._need_selection()
        if name is None:
            return
        try:
            trainer = resume(name, steps=self.more_steps.value or None, runs_dir=self.runs_dir)
        except (OSError, ValueError, KeyError) as err:
            if self.on_error is None:
                raise
            self.on_error(f"Cannot continue run {name}: {err}")
            return
        if self.on_continue is not None:
            self.on_continue(trainer)

    def export_selected(self) -> Path | None:
        """Export the selected run in the chosen format and offer the file for download."""
        name = self._need_selection()
        if name is None:
            return None
        self._exports = self._exports or Path(tempfile.mkdtemp(prefix="sciml-lab-exports-"))
        try:
            path = export(name, self.export_format.value, self._exports / name, self.runs_dir)
        except (OSError, ValueError, KeyError) as err:
            self.download.visible = False
            if self.on_error is None:
                raise
            self.on_error(f"Cannot export run {name}: {err}")
            return None
        self.download.param.update(file=str(path), filename=path.name, label=f"Download {path.name}",
                                   visible=True)
        return path
