"""Memory estimates checked before anything is allocated, refused in the user's terms.

A :class:`Need` is one large allocation a run will make (the model and its optimiser state,
the collocation points' autograd tape, a reference grid, a dataset), the parameters whose
values set its size, and the parameter that caps it where the user can raise the cap
(``max_memory_gb``, ``max_gb``). :func:`check_needs` refuses a need above its cap, or above
what this machine holds: a value read from a run's ``config.json`` can lower a cap but never
raise it past :func:`machine_limit_bytes`, so a foreign run folder cannot make the server
allocate more than the machine (or its operator, with ``SCIML_LAB_MAX_GB``) allows.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import param

from lab.config import ConfigError, label

GB = 2**30


#: a container's memory limit (cgroup v2, v1): Binder gives a few GB on a large host
CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def machine_limit_bytes() -> int | None:
    """Physical memory of this machine or its container's limit, lowered by
    ``SCIML_LAB_MAX_GB`` when set; ``None`` where none is known (the OS gives no page count)."""
    limit = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for path in CGROUP_LIMITS:
        text = path.read_text().strip() if path.is_file() else ""
        if text.isdigit():  # "max" means no limit
            limit = int(text) if limit is None else min(limit, int(text))
    env = os.environ.get("SCIML_LAB_MAX_GB", "").strip()
    if env:
        try:
            cap = float(env) * GB
        except ValueError:
            raise ValueError(f"SCIML_LAB_MAX_GB must be a number of GB, got {env!r}") from None
        if not cap > 0:
            raise ValueError(f"SCIML_LAB_MAX_GB must be positive, got {env!r}")
        limit = cap if limit is None else min(limit, cap)
    return None if limit is None else int(limit)


def capped_bytes(gb: float) -> float:
    """``gb`` GB as bytes, never above :func:`machine_limit_bytes` (guards read from run files)."""
    limit = machine_limit_bytes()
    return gb * GB if limit is None else min(gb * GB, limit)


@dataclass(frozen=True)
class Need:
    """``bytes`` of ``what`` (e.g. "the reference solve"), sized by the parameters ``by`` of
    ``owner``; ``cap`` names the parameter of ``owner`` (in GB) that limits it, if any."""

    bytes: float
    what: str
    owner: param.Parameterized
    by: tuple[str, ...]
    cap: str | None = None


def _most_raised(obj: param.Parameterized, names: tuple[str, ...]) -> tuple[str, ...]:
    """The parameters among ``names`` set above their defaults, most raised first (the ones
    the user is likely to lower); the first of ``names`` where none is."""
    ratio = {n: getattr(obj, n) / obj.param[n].default for n in names
             if isinstance(obj.param[n].default, (int, float)) and obj.param[n].default > 0}
    raised = sorted((n for n, r in ratio.items() if r > 1), key=lambda n: -ratio[n])
    return tuple(raised) or names[:1]


def check_needs(needs: list[Need], device_bytes: int | None = None) -> None:
    """Raise :class:`ConfigError` naming the parameters of the first need above its limit:
    its cap, the machine's memory, or ``device_bytes`` (a GPU's)."""
    machine = machine_limit_bytes()
    for need in needs:
        obj = need.owner
        limits = []
        if machine is not None:
            limits.append((machine, f"the {machine / GB:.1f} GB this machine allows"))
        if device_bytes is not None:
            limits.append((device_bytes, f"the device's {device_bytes / GB:.1f} GB"))
        if need.cap is not None:
            cap = getattr(obj, need.cap)
            limits.append((cap * GB, f"{label(obj.param[need.cap])} = {cap:g}"))
        if not limits or need.bytes <= min(limits)[0]:
            continue
        limit, name = min(limits)
        by = _most_raised(obj, need.by)
        sizes = ", ".join(f"{label(obj.param[n])} = {getattr(obj, n):,}" for n in by)
        todo = f"Lower {' or '.join(label(obj.param[n]) for n in by)}" if by else "Use smaller sizes"
        if need.cap is not None and name.startswith(label(obj.param[need.cap])):
            todo += f", or raise {label(obj.param[need.cap])}"
            todo += f" (up to {machine / GB:.1f} on this machine)" if machine is not None else ""
        raise ConfigError(by[0] if by else (need.cap or ""),
                          f"{sizes + ': ' if sizes else ''}{need.what} needs about {need.bytes / GB:.3g} GB, "
                          f"above {name}. {todo}.")
