"""Checkpoints as safetensors files, written atomically and loaded without unpickling.

A checkpoint holds the model's tensors plus JSON metadata (step, model kind and config, the
problem), so a run can be rebuilt and continued from the file alone. It also holds what a
continued run needs to go on exactly as if it had never stopped:

* the Adam moments, under the key prefix ``@adam/<param index>/<name>`` (no module name can
  start with ``@``), so Adam does not restart from zero moments;
* the training loop's state (:class:`Checkpoint.state`): the task's generator, collocation
  points, balancing weights, causal level, the L-BFGS history, ... — any tree of dicts and
  lists whose leaves are tensors or JSON values. Its tensors go under ``@state/<path>`` and
  the tree itself, with a reference in place of each tensor, into the header.

A SHA-256 checksum over every tensor (name, dtype, shape, bytes) and the JSON in the header
is stored with them and checked on load, so a file damaged on disk — bytes flipped inside
the data, which safetensors alone would load — is refused with a ``ValueError`` instead of
continuing a run from wrong numbers. Files written before checksums existed load unchecked.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from lab.atomic import write_atomic


#: key prefix of the optimiser's per-parameter state: ``@adam/<param index>/<name>``
OPTIMIZER_PREFIX = "@adam/"
#: key prefix of the training loop's tensors: ``@state/<path in the state tree>``
STATE_PREFIX = "@state/"
#: header keys: the metadata, the loop-state tree, the checksum
_META, _STATE, _SHA = "sciml_lab", "sciml_lab_state", "sciml_lab_sha256"
_TENSOR, _INT_KEYS = "@tensor", "@int_keys"


@dataclass
class Checkpoint:
    """One checkpoint file's content."""

    weights: dict[str, torch.Tensor]
    metadata: dict
    #: Adam's per-parameter state, in the form of ``Optimizer.state_dict()["state"]``
    optimizer: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    #: the training loop's state tree (``{}`` for files that have none)
    state: dict = field(default_factory=dict)


def save_checkpoint(path: str | Path, model: torch.nn.Module, metadata: dict,
                    optimizer: torch.optim.Optimizer | dict | None = None, state: dict | None = None) -> None:
    """Write ``model.state_dict()``, ``metadata``, ``optimizer``'s state (an optimiser or its
    ``state_dict()["state"]``) and the loop ``state`` tree to ``path`` atomically.

    A crash or a kill mid-write leaves the previous checkpoint intact (:mod:`lab.atomic`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: _cpu(v) for k, v in model.state_dict().items()}
    if isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer.state_dict()["state"]
    for i, per_param in (optimizer or {}).items():
        for name, v in per_param.items():
            if torch.is_tensor(v):
                tensors[f"{OPTIMIZER_PREFIX}{i}/{name}"] = _cpu(v)
    header = {_META: json.dumps(metadata), _STATE: json.dumps(_split(state or {}, STATE_PREFIX[:-1], tensors))}
    header[_SHA] = _checksum(tensors, header)
    write_atomic(path, lambda f: f.write(save(tensors, metadata=header)))


def read_checkpoint(path: str | Path) -> Checkpoint:
    """The whole checkpoint at ``path``; ``ValueError`` naming the file if it is missing,
    damaged (checksum) or not a sciml-lab checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = json.loads(header.get(_META, "{}"))
        tree = json.loads(header.get(_STATE, "{}"))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"checkpoint {path} is corrupt or not a sciml-lab checkpoint: {err}") from err
    if _SHA in header and header[_SHA] != _checksum(tensors, header):
        raise ValueError(f"checkpoint {path} is damaged: its content does not match its checksum")
    weights, optimizer = {}, {}
    for k, v in tensors.items():
        if k.startswith(OPTIMIZER_PREFIX):
            i, name = k[len(OPTIMIZER_PREFIX):].split("/", 1)
            optimizer.setdefault(int(i), {})[name] = v
        elif not k.startswith(STATE_PREFIX):
            weights[k] = v
    try:
        state = _join(tree, tensors)
    except (KeyError, TypeError) as err:
        raise ValueError(f"checkpoint {path} is corrupt: its training state refers to a missing tensor {err}") from err
    return Checkpoint(weights, meta, optimizer, state)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """``(state_dict, metadata)`` of the model; raises ``ValueError`` for a missing or corrupt
    file (see :func:`read_checkpoint` for the rest of it)."""
    ckpt = read_checkpoint(path)
    return ckpt.weights, ckpt.metadata


def optimizer_state(path: str | Path) -> dict[int, dict[str, torch.Tensor]]:
    """The saved optimiser state per parameter index (``{}`` if the file has none), in the
    form of ``Optimizer.state_dict()["state"]``."""
    return read_checkpoint(path).optimizer


def _cpu(v: torch.Tensor) -> torch.Tensor:
    return v.detach().to("cpu").contiguous()


def _checksum(tensors: dict[str, torch.Tensor], header: dict[str, str]) -> str:
    """SHA-256 of the header's JSON and of every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256()
    for key in (_META, _STATE):
        h.update(header.get(key, "").encode())
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _split(tree, key: str, tensors: dict[str, torch.Tensor]):
    """``tree`` as JSON, each tensor moved into ``tensors[key/path]`` and replaced by a reference."""
    if torch.is_tensor(tree):
        tensors[key] = _cpu(tree)
        return {_TENSOR: key}
    if isinstance(tree, dict):
        if all(isinstance(k, str) for k in tree):
            return {k: _split(v, f"{key}/{k}", tensors) for k, v in tree.items()}
        if all(isinstance(k, int) for k in tree):  # e.g. an optimiser's state by parameter index
            return {_INT_KEYS: {str(k): _split(v, f"{key}/{k}", tensors) for k, v in tree.items()}}
        raise TypeError(f"a checkpoint's state needs all-str or all-int keys, got {list(tree)}")
    if isinstance(tree, (list, tuple)):
        return [_split(v, f"{key}/{i}", tensors) for i, v in enumerate(tree)]
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    raise TypeError(f"a checkpoint cannot store {type(tree).__name__} at {key}")


def _join(tree, tensors: dict[str, torch.Tensor]):
    """Inverse of :func:`_split`."""
    if isinstance(tree, dict):
        if set(tree) == {_TENSOR}:
            return tensors[tree[_TENSOR]]
        if set(tree) == {_INT_KEYS}:
            return {int(k): _join(v, tensors) for k, v in tree[_INT_KEYS].items()}
        return {k: _join(v, tensors) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_join(v, tensors) for v in tree]
    return tree
