"""Checkpoints as safetensors files, written atomically and loaded without unpickling.

A checkpoint holds the model's tensors plus JSON metadata (step, model kind and config, the
problem), so a run can be rebuilt and continued from the file alone. It may also hold the
Adam moments (under the key prefix ``@adam/``, which no module name can take), so a run cut
short continues as if it had never stopped instead of restarting Adam from zero moments.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from lab.atomic import write_atomic


#: key prefix of the optimiser's per-parameter state: ``@adam/<param index>/<name>``
OPTIMIZER_PREFIX = "@adam/"


def save_checkpoint(path: str | Path, model: torch.nn.Module, metadata: dict,
                    optimizer: torch.optim.Optimizer | None = None) -> None:
    """Write ``model.state_dict()``, ``metadata`` and ``optimizer``'s state to ``path`` atomically.

    A crash or a kill mid-write leaves the previous checkpoint intact (:mod:`lab.atomic`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    if optimizer is not None:
        for i, state in optimizer.state_dict()["state"].items():
            for name, v in state.items():
                if torch.is_tensor(v):
                    tensors[f"{OPTIMIZER_PREFIX}{i}/{name}"] = v.detach().to("cpu").contiguous()
    write_atomic(path, lambda f: f.write(save(tensors, metadata={"sciml_lab": json.dumps(metadata)})))


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """``(state_dict, metadata)`` of the model; raises ``ValueError`` for a missing or corrupt
    file. The optimiser's state, if any, is :func:`optimizer_state`'s."""
    tensors, meta = _read(path)
    return {k: v for k, v in tensors.items() if not k.startswith(OPTIMIZER_PREFIX)}, meta


def optimizer_state(path: str | Path) -> dict[int, dict[str, torch.Tensor]]:
    """The saved optimiser state per parameter index (``{}`` if the file has none), in the
    form of ``Optimizer.state_dict()["state"]``."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in _read(path)[0].items():
        if k.startswith(OPTIMIZER_PREFIX):
            i, name = k[len(OPTIMIZER_PREFIX):].split("/", 1)
            state.setdefault(int(i), {})[name] = v
    return state


def _read(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
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
