"""What the benchmarks share: device synchronisation, peak memory, kernel counts.

Timings read the clock only after :func:`sync`, since CUDA launches return before the work
is done; on the CPU every helper is a no-op or ``None``.
"""
from __future__ import annotations

import torch


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gb(device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def profiled_kernels(step, device, steps: int, activities=None):
    """``(profiler, GPU kernel events)`` of ``steps`` calls of ``step()``, timed after a sync."""
    from torch.profiler import ProfilerActivity, profile

    sync(device)
    with profile(activities=activities or [ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        sync(device)
    return prof, [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
