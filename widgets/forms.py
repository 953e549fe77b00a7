"""Settings forms generated from a config's ``param`` declarations, validated at the UI boundary.

``pn.Param`` builds one widget per parameter and writes edits straight into the object, so an
out-of-range value makes ``param`` raise ``ValueError`` inside Panel's event handling. Here the
same widgets are kept, but each edit goes through a guard that hands the error (which names the
parameter and its allowed range) to a callback — the app shows it in an alert — and Panel puts
the widget back to the last valid value (also where a ``param.depends`` validator rejects a
value after it was set, e.g. a list parameter such as ``TrainConfig.causal_eps``, edited as a
Python literal). Numbers get plain input boxes without start/end, so a
typed value reaches ``param`` and is validated there rather than silently clamped.
"""
from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param

from lab.config import describe_bounds

ErrorHandler = Callable[[str, ValueError], None]


def _widget_specs(obj: param.Parameterized) -> dict:
    specs = {}
    for name, p in obj.param.objects("existing").items():
        if name == "name":
            continue
        spec: dict = {}
        if isinstance(p, param.Integer):
            spec = {"type": pn.widgets.IntInput, "start": None, "end": None}
        elif isinstance(p, param.Number):
            spec = {"type": pn.widgets.FloatInput, "start": None, "end": None}
        bounds = describe_bounds(p)
        if p.doc and bounds:
            spec["description"] = f"{p.doc} ({bounds})"
        if spec:
            specs[name] = spec
    return specs


class GuardedParam(pn.Param):
    """``pn.Param`` whose edits report ``ValueError`` to ``on_error`` instead of raising."""

    on_error = param.Callable(default=None, doc="Called with (parameter name, error) on a rejected edit")
    on_change = param.Callable(default=None, doc="Called with the parameter name after an accepted edit")

    def widget(self, p_name):
        before = len(self._internal_callbacks)
        widget = super().widget(p_name)
        for i in range(before, len(self._internal_callbacks)):
            watcher = self._internal_callbacks[i]
            if watcher.inst is widget and watcher.fn.__name__ == "link_widget":
                widget.param.unwatch(watcher)
                self._internal_callbacks[i] = widget.param.watch(
                    self._guard(p_name, watcher.fn), list(watcher.parameter_names))
        return widget

    def _guard(self, p_name: str, link: Callable) -> Callable:
        def guarded(event):
            before = getattr(self.object, p_name)
            try:
                link(event)
            except (ValueError, TypeError) as err:  # TypeError: a list item of the wrong type
                if self.on_error is None:
                    raise
                # a validator watching the parameter raises after the value is set: put it back
                if getattr(self.object, p_name) is not before:
                    setattr(self.object, p_name, before)
                self.on_error(p_name, err if isinstance(err, ValueError) else ValueError(str(err)))
            else:
                if self.on_change is not None:
                    self.on_change(p_name)
        return guarded


def settings_form(obj: param.Parameterized, on_error: ErrorHandler | None = None,
                  on_change: Callable[[str], None] | None = None, **kw) -> GuardedParam:
    """Widgets for every parameter of ``obj`` (inputs for numbers, selects for choices)."""
    return GuardedParam(obj, widgets=_widget_specs(obj), show_name=False, on_error=on_error,
                        on_change=on_change, sizing_mode="stretch_width", **kw)
