"""One place that picks where numbers are computed: ``cuda`` -> ``mps`` -> ``cpu``."""
from __future__ import annotations

import torch

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def pick_device(preference: str = "auto") -> torch.device:
    """Resolve ``"auto"`` to the fastest available device; validate an explicit choice."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={preference!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
    return device


def resolve_dtype(name: str) -> torch.dtype:
    """Map a dtype name from a config to a torch dtype, naming the allowed values on error."""
    try:
        return DTYPES[name]
    except KeyError:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {name!r}") from None


def describe(device: torch.device) -> str:
    """Human-readable device name, recorded next to every benchmark figure."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    import platform
    return f"CPU ({platform.processor() or platform.machine()})"
