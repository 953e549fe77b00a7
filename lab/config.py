"""Configuration objects declared once, validated at construction, round-tripped through JSON.

Problems, model configs and training configs all derive from :class:`Config`. Every value set
on one (in the constructor, by assignment, from a form or ``--set``) is checked here first, with
a message in the user's terms: the field's label as the app shows it, the allowed range and
what to do (``param``'s own messages name ``Class.attribute`` and Python types). A boolean is
not a number, and a number must be finite. An unknown keyword is an error (``param`` only
warns), and :meth:`Config.to_dict` / :meth:`Config.from_dict` give the JSON form used by the
CLI and run records.
"""
from __future__ import annotations

import json
import math
import numbers
import re

import param


class Config(param.Parameterized):
    """Strict ``param.Parameterized``: unknown keywords raise, values serialise to JSON."""

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self.param) - {"name"})
        if unknown:
            allowed = ", ".join(sorted(p for p in self.param if p != "name"))
            owner = getattr(self, "title", "") or "these settings"
            raise ConfigError(unknown[0], f"unknown setting{'s' if len(unknown) > 1 else ''} "
                                          f"{', '.join(map(repr, unknown))} for {owner}; the settings are: {allowed}")
        super().__init__(**params)

    def __setattr__(self, name, value):
        p = self.param[name] if name in self.param and name != "name" else None
        if p is not None:
            check_value(p, value)
        try:
            super().__setattr__(name, value)
        except (TypeError, ValueError) as err:
            if p is None or isinstance(err, ConfigError):
                raise
            # param's own checks (class_, item types, ...), reworded: no 'Class.attr', no types
            raise ConfigError(name, f"{label(p)}: {plain(err)}") from err

    def to_dict(self) -> dict:
        """Parameter values (``name`` excluded), JSON-serialisable."""
        return {k: v for k, v in self.param.values().items() if k != "name"}

    @classmethod
    def from_dict(cls, values: dict):
        return cls(**{k: v for k, v in values.items() if k != "name"})


class ConfigError(ValueError):
    """A refused value; ``parameter`` is the attribute name (the message uses the label)."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


def label(p: param.Parameter) -> str:
    """The field's name as the app shows it (``param``'s label, e.g. 'Max memory (GB)')."""
    return p.label or p.name


def plain(err: Exception) -> str:
    """``param``'s message without the ``Class.attribute`` and ``<class 'x'>`` jargon."""
    text = re.sub(r"^\w+ parameter '[\w.]+' ", "", str(err))
    for old, new in (("<class 'str'>", "text"), ("<class 'bool'>", "true/false"),
                     ("<class 'float'>", "a decimal number"), ("<class 'int'>", "a whole number"),
                     ("<class 'list'>", "a list"), ("<class 'dict'>", "a mapping"),
                     ("<class 'NoneType'>", "nothing"), ("<class 'tuple'>", "a list")):
        text = text.replace(old, new)
    return text


def _fmt(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _shown(value) -> str:
    return json.dumps(value) if isinstance(value, (bool, type(None))) else repr(value)


def check_value(p: param.Parameter, value) -> None:
    """Raise :class:`ConfigError` in the user's terms when ``value`` does not fit ``p``.

    Booleans are refused where a number is expected (``steps=true`` is no step count), numbers
    must be finite, bounds honour ``inclusive_bounds``; other checks are left to ``param``.
    """
    name, what = label(p), describe_bounds(p)
    if value is None:
        if not p.allow_None:
            raise ConfigError(p.name, f"{name} needs a value ({what})." if what else f"{name} needs a value.")
        return
    if isinstance(p, param.Boolean):
        if not isinstance(value, bool):
            raise ConfigError(p.name, f"{name} must be true or false, got {_shown(value)}.")
        return
    if isinstance(p, param.Selector) and not isinstance(p, param.ListSelector) and p.check_on_set:
        if value not in p.objects:
            raise ConfigError(p.name, f"{name} must be {what}, got {_shown(value)}.")
        return
    if isinstance(p, param.String) and not isinstance(value, str):
        raise ConfigError(p.name, f"{name} must be text, got {_shown(value)}.")
    if isinstance(p, param.Dict) and not isinstance(value, dict):
        raise ConfigError(p.name, f"{name} must be a mapping such as {{\"ic\": 10}}, got {_shown(value)}.")
    if isinstance(p, param.List) and not isinstance(value, list):
        raise ConfigError(p.name, f"{name} must be a list such as [1, 2], got {_shown(value)}.")
    if not isinstance(p, param.Number):
        return
    whole = isinstance(p, param.Integer)
    where = f" {what}" if what else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (
            whole and not isinstance(value, numbers.Integral)):
        raise ConfigError(p.name, f"{name} must be {'a whole number' if whole else 'a number'}{where}, "
                                  f"got {_shown(value)}.")
    if not math.isfinite(value):
        raise ConfigError(p.name, f"{name} must be a finite number{where}, got {value}.")
    lo, hi = p.bounds or (None, None)
    lo_in, hi_in = p.inclusive_bounds
    if (lo is not None and (value < lo or (value == lo and not lo_in))) or (
            hi is not None and (value > hi or (value == hi and not hi_in))):
        raise ConfigError(p.name, f"{name} must be {what}; {_fmt(value)} is out of range. "
                                  f"Enter a value {what}.")


def describe_bounds(p: param.Parameter) -> str:
    """'from lo to hi' / 'at least lo' / 'one of [...]': the allowed values, for messages and tooltips."""
    if isinstance(p, param.Selector):
        return f"one of {list(p.objects)}"
    if not isinstance(p, param.Number) or not p.bounds:
        return ""
    (lo, hi), (lo_in, hi_in) = p.bounds, p.inclusive_bounds
    low = None if lo is None else f"{'at least' if lo_in else 'above'} {_fmt(lo)}"
    high = None if hi is None else f"{'at most' if hi_in else 'below'} {_fmt(hi)}"
    if low and high:
        return f"from {_fmt(lo)} to {_fmt(hi)}" if lo_in and hi_in else f"{low} and {high}"
    return low or high or ""


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
