"""Finished chunks of a dataset being generated, kept on disk so an interrupted generation resumes.

``part-<i>.npz`` (read with ``allow_pickle=False``) holds chunk ``i``'s arrays as stored,
``generator_state``, the state of the dataset's generator after that chunk, and ``device``,
the device that solved it. Restoring the state draws exactly what an uninterrupted
generation would draw next, so resuming on the same device changes no bit. Another device
(the CPU against a GPU, or another GPU model) rounds differently, so its parts are not
mixed in: they are generated again. Parts are written atomically, so one is whole or
absent; a part that does not load, has the wrong fields, shape or dtype, holds non-finite
values or comes from another device is discarded with every part after it, and those
chunks are generated again.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from lab.atomic import write_atomic

STATE = "generator_state"
DEVICE = "device"


def _path(directory: Path, index: int) -> Path:
    return directory / f"part-{index}.npz"


def save(directory: Path, index: int, arrays: dict[str, np.ndarray], generator: torch.Generator,
         device: str) -> None:
    """Store chunk ``index``, the state ``generator`` has after drawing it, and the ``device``
    (as :func:`lab.device.describe` names it) that solved it."""
    directory.mkdir(parents=True, exist_ok=True)
    state = generator.get_state().numpy()
    write_atomic(_path(directory, index),
                 lambda f: np.savez(f, **arrays, **{STATE: state, DEVICE: np.array(device)}))


def _read(path: Path, shapes: dict[str, tuple[int, ...]], dtype: np.dtype, state_shape: tuple[int, ...],
          device: str) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """The part's arrays and generator state, or ``None`` when it fails any check."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if set(z.files) != {*shapes, STATE, DEVICE} or str(z[DEVICE]) != device:
                return None
            arrays, state = {k: z[k] for k in shapes}, z[STATE]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None  # absent or truncated
    if state.dtype != np.uint8 or state.shape != state_shape:
        return None
    for k, a in arrays.items():
        if a.shape != shapes[k] or a.dtype != dtype or not np.all(np.isfinite(a)):
            return None
    return arrays, state


def resume(directory: Path, plan: list[dict[str, tuple[int, ...]]], dtype,
           generator: torch.Generator, device: str) -> list[dict[str, np.ndarray]]:
    """The valid chunks ``device`` saved in ``directory``, consecutive from the first, with
    ``generator`` set to its state after the last of them; the parts after those are deleted.

    ``plan[i]`` gives the shape of each array of chunk ``i``; ``dtype`` is the stored one.
    """
    chunks: list[dict[str, np.ndarray]] = []
    state_shape = tuple(generator.get_state().shape)
    for i, shapes in enumerate(plan):
        part = _read(_path(directory, i), shapes, np.dtype(dtype), state_shape, device)
        if part is None:
            break
        arrays, state = part
        generator.set_state(torch.from_numpy(state))
        chunks.append(arrays)
    for path in directory.glob("part-*.npz"):
        index = path.stem.removeprefix("part-")
        if index.isdigit() and int(index) >= len(chunks):
            path.unlink(missing_ok=True)
    return chunks
