"""Configuration objects declared once, validated at construction, round-tripped through JSON.

Problems, model configs and training configs all derive from :class:`Config`. ``param`` gives
bounds checking with messages that name the parameter and its range; on top of that an
unknown keyword is an error (``param`` only warns), and :meth:`Config.to_dict` /
:meth:`Config.from_dict` give the JSON form used by the CLI and run records.
"""
from __future__ import annotations

import json

import param


class Config(param.Parameterized):
    """Strict ``param.Parameterized``: unknown keywords raise, values serialise to JSON."""

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self.param) - {"name"})
        if unknown:
            allowed = sorted(p for p in self.param if p != "name")
            raise ValueError(f"{type(self).__name__} got unknown parameter(s) {unknown}; "
                             f"allowed: {allowed}")
        super().__init__(**params)

    def to_dict(self) -> dict:
        """Parameter values (``name`` excluded), JSON-serialisable."""
        return {k: v for k, v in self.param.values().items() if k != "name"}

    @classmethod
    def from_dict(cls, values: dict):
        return cls(**{k: v for k, v in values.items() if k != "name"})


def describe_bounds(p: param.Parameter) -> str:
    """'in [lo, hi]' / 'one of [...]' text for error messages and tooltips."""
    if isinstance(p, param.Selector):
        return f"one of {list(p.objects)}"
    bounds = getattr(p, "bounds", None)
    if bounds:
        lo, hi = bounds
        return f"in [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    return ""


def parse_assignments(pairs: list[str], option: str = "--set") -> dict:
    """``["key=value", ...]`` from a command line as a dict; a value is read as JSON where it
    parses (``421``, ``1e-3``, ``true``, ``[1, 2]``), else kept as text (``fourier``)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"{option} expects key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


class _Checked:
    """Mixin: run ``check(value)`` during validation, *before* a value is assigned.

    ``param.depends(..., watch=True)`` validators run after assignment and leave a bad value
    in place; this keeps the previous value when ``check`` raises.
    """

    __slots__ = ()

    def __init__(self, default=None, *, check=None, **kw):
        self.check = check
        super().__init__(default=default, **kw)

    def _validate(self, val):
        super()._validate(val)
        if self.check is not None and val is not None:
            self.check(val)


class CheckedDict(_Checked, param.Dict):
    __slots__ = ["check"]


class CheckedList(_Checked, param.List):
    __slots__ = ["check"]
