"""Error metrics. Relative L2 is *the* accuracy number of the lab (tables, views, tests)."""
from __future__ import annotations

import numpy as np
import torch


def relative_l2(pred, ref) -> float:
    """‖pred − ref‖₂ / ‖ref‖₂ over all entries (numpy arrays or tensors of equal shape)."""
    if tuple(np.shape(pred)) != tuple(np.shape(ref)):
        raise ValueError(f"pred shape {tuple(np.shape(pred))} != ref shape {tuple(np.shape(ref))}")
    if isinstance(pred, torch.Tensor) or isinstance(ref, torch.Tensor):
        pred, ref = torch.as_tensor(pred), torch.as_tensor(ref)
        ref = ref.to(pred)
        return float(torch.linalg.vector_norm(pred - ref) / torch.linalg.vector_norm(ref))
    pred, ref = np.asarray(pred, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(pred - ref) / np.linalg.norm(ref))
