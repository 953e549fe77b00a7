"""Problem picker: the catalogue grouped by kind, the equation, and the problem's parameters.

Everything shown comes from the problem class itself (``title``, ``latex``, ``description``,
``source``, its ``param`` declarations), so a newly registered problem appears here with no
change to this module.
"""
from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param

from lab.problems import BaseProblem, get_problem, list_problems
from widgets.forms import ErrorHandler, settings_form

KIND_LABELS = {"1d+t": "1D + time", "2d": "2D steady", "2d+t": "2D + time", "3d": "3D steady",
               "3d+t": "3D + time", "ode": "ODE / chaos", "operator": "Operator learning"}


class ProblemView(pn.viewable.Viewer):
    """Select a problem; edit its parameters; show what it solves."""

    problem = param.ClassSelector(class_=BaseProblem, doc="The selected problem, as edited")

    def __init__(self, key: str = "burgers", on_error: ErrorHandler | None = None,
                 on_change: Callable[[str], None] | None = None, **params):
        super().__init__(**params)
        self._on_error, self._on_change = on_error, on_change
        groups: dict[str, dict[str, str]] = {}
        for k, cls in list_problems().items():
            groups.setdefault(KIND_LABELS.get(cls.kind, cls.kind), {})[cls.title or k] = k
        self.picker = pn.widgets.Select(label="Problem", groups=groups, value=key,
                                        sizing_mode="stretch_width")
        self.editor = pn.Column(sizing_mode="stretch_width")
        self.title = pn.pane.Markdown(sizing_mode="stretch_width", margin=(0, 10))
        self.equation = pn.pane.LaTeX(renderer="katex", styles={"font-size": "1.15em"},
                                      sizing_mode="stretch_width")
        self.about = pn.pane.Markdown(sizing_mode="stretch_width", margin=(0, 10))
        self.header = pn.Column(self.title, self.equation, self.about, sizing_mode="stretch_width",
                                margin=0)
        self._shown: BaseProblem | None = None
        self.picker.param.watch(self._picked, "value")
        self._select()

    def __panel__(self):
        return pn.Column(self.picker, self.editor, self.header, sizing_mode="stretch_width")

    def show(self, problem: BaseProblem) -> None:
        """Select ``problem`` as it is (a saved run's, with its parameters), at once."""
        self._shown = problem
        try:
            if self.picker.value == problem.key:
                self._select()
            else:
                self.picker.value = problem.key  # selects it through the watcher
        finally:
            self._shown = None

    def _picked(self, *_):
        """A problem picked in a served page is built on the next tick, so the page shows the
        header busy meanwhile (building a problem and its forms takes seconds on a small CPU)."""
        doc = pn.state.curdoc
        if self._shown is None and doc is not None and doc.session_context is not None:
            self.header.loading = True
            doc.add_next_tick_callback(self._select)
        else:
            self._select()

    def _select(self, *_):
        shown = self._shown
        self.problem = shown if shown is not None else get_problem(self.picker.value)
        self.header.loading = False
        cls = type(self.problem)
        self.editor.objects = [settings_form(self.problem, on_error=self._on_error,
                                             on_change=self._on_change)]
        self.title.object = f"### {cls.title} <small>({cls.kind}, axes {', '.join(cls.axes)})</small>"
        self.equation.object = f"${cls.latex}$" if cls.latex else ""
        about = cls.description
        if cls.source:
            about += f"\n\n*Source:* {cls.source}"
        self.about.object = about

    def copy(self) -> BaseProblem:
        """An independent copy of the problem as edited (training must not see later edits)."""
        return type(self.problem).from_dict(self.problem.to_dict())
