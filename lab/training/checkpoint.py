"""Checkpoints as safetensors files, written atomically and loaded without unpickling.

A checkpoint holds the model's tensors plus JSON metadata (step, model kind and config, the
problem), so a run can be rebuilt and continued from the file alone.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file


def save_checkpoint(path: str | Path, model: torch.nn.Module, metadata: dict) -> None:
    """Write ``model.state_dict()`` and ``metadata`` to ``path`` atomically.

    The file is written beside the target and moved into place with ``os.replace``: a crash
    or a kill mid-write leaves the previous checkpoint intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"sciml_lab": json.dumps(metadata)})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """``(state_dict, metadata)``; raises ``ValueError`` for a missing or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("sciml_lab", "{}"))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"checkpoint {path} is corrupt or not a sciml-lab checkpoint: {err}") from err
    return tensors, meta
