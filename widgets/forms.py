"""Settings forms generated from a config's ``param`` declarations, validated at the UI boundary.

``pn.Param`` builds one widget per parameter and writes edits straight into the object, so an
out-of-range value makes ``param`` raise ``ValueError`` inside Panel's event handling. Here the
same widgets are kept, but each edit goes through a guard that shows the error (which names the
parameter and its allowed range) right under the field and hands it to a callback, and Panel
puts the widget back to the last valid value (also where a ``param.depends`` validator rejects
a value after it was set, e.g. a list parameter such as ``TrainConfig.causal_eps``, edited as a
Python literal). The message goes once the field (or another of the form) takes a value.
Numbers get plain input boxes without start/end, so a typed value reaches ``param`` and is
validated there rather than silently clamped; whole numbers too take any number, since
Bokeh's integer box silently drops a typed 2.5 and the field would snap back unexplained.
Decimals are shown to 6 significant digits (0.003183098861837907 as 0.0031831).
"""
from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param
from bokeh.models import CustomJSTickFormatter

from lab.config import describe_bounds
from widgets.alerts import Message

ErrorHandler = Callable[[str, ValueError], None]

def significant() -> CustomJSTickFormatter:
    """A decimal's display: 6 significant digits, no trailing zeros (the value is unchanged).
    A new model per form: a Bokeh model shared by two pages' documents showed "undefined"."""
    return CustomJSTickFormatter(code="return String(Number(tick.toPrecision(6)))")


def machine_devices() -> list[str]:
    """The device choices this machine has ("auto" picks the best of them)."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return ["auto", "cpu", *(["cuda"] if torch.cuda.is_available() else []),
            *(["mps"] if mps is not None and mps.is_available() else [])]


def _widget_specs(obj: param.Parameterized, options: dict | None = None) -> dict:
    specs = {name: {"options": list(choices)} for name, choices in (options or {}).items()}
    for name, p in obj.param.objects("existing").items():
        if name == "name":
            continue
        spec: dict = specs.get(name, {})
        if isinstance(p, param.Integer):  # checked as a whole number by the guard
            spec = {"type": pn.widgets.FloatInput, "start": None, "end": None}
        elif isinstance(p, param.Number):
            spec = {"type": pn.widgets.FloatInput, "start": None, "end": None, "format": significant()}
        bounds = describe_bounds(p)
        if p.doc and bounds:
            spec["description"] = f"{p.doc} ({bounds})"
        if spec:
            specs[name] = spec
    return specs


def _label(p_name: str) -> str:
    """The field's label as ``pn.Param`` writes it ("n_pde" is "N pde")."""
    return p_name.replace("_", " ").capitalize()


def _whole(obj: param.Parameterized, p_name: str, event):
    """``event`` with an integer parameter's whole float as an ``int``; a fraction refused."""
    value = event.new
    if isinstance(obj.param[p_name], param.Integer) and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{_label(p_name)} must be a whole number, not {value:g}")
        return event._replace(new=int(value))
    return event


class GuardedParam(pn.Param):
    """``pn.Param`` whose refused edits are shown under their field and reported to
    ``on_error`` instead of raising."""

    on_error = param.Callable(default=None, doc="Called with (parameter name, error) on a rejected edit")
    on_change = param.Callable(default=None, doc="Called with the parameter name after an accepted edit")

    def __init__(self, *args, **params):
        super().__init__(*args, **params)
        self.message = Message()
        self._message_under: str | None = None

    def show_error(self, p_name: str, message: str) -> None:
        """Show ``message`` right under the field of ``p_name``."""
        objects = [o for o in self.layout.objects if o is not self.message]
        widget = self._widgets.get(p_name)
        at = objects.index(widget) + 1 if widget in objects else len(objects)
        self.layout.objects = objects[:at] + [self.message] + objects[at:]
        self._message_under = p_name
        self.message.show(message)

    def clear_error(self) -> None:
        if self._message_under is not None:
            self.message.clear()
            self.layout.objects = [o for o in self.layout.objects if o is not self.message]
            self._message_under = None

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
                link(_whole(self.object, p_name, event))
            except (ValueError, TypeError) as err:  # TypeError: a list item of the wrong type
                err = err if isinstance(err, ValueError) else ValueError(str(err))
                # a validator watching the parameter raises after the value is set: put it back
                if getattr(self.object, p_name) is not before:
                    setattr(self.object, p_name, before)
                self.show_error(p_name, str(err))
                if self.on_error is not None:
                    self.on_error(p_name, err)
            else:
                self.clear_error()
                if self.on_change is not None:
                    self.on_change(p_name)
        return guarded


def settings_form(obj: param.Parameterized, on_error: ErrorHandler | None = None,
                  on_change: Callable[[str], None] | None = None, options: dict | None = None,
                  **kw) -> GuardedParam:
    """Widgets for every parameter of ``obj`` (inputs for numbers, selects for choices);
    ``options`` narrows a choice to what applies (``{"device": machine_devices()}``)."""
    return GuardedParam(obj, widgets=_widget_specs(obj, options), show_name=False, on_error=on_error,
                        on_change=on_change, sizing_mode="stretch_width", **kw)
