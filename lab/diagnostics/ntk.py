"""The empirical neural tangent kernel of a PINN, block by loss term.

Wang, Yu & Perdikaris, "When and why PINNs fail to train: a neural tangent kernel
perspective" (J. Comput. Phys. 449, 2022): under gradient flow the per-point residuals
``r`` of every loss term evolve as ``dr/dt = -K r`` with ``K = J Jᵀ``, ``J = ∂r/∂θ``. The
blocks ``K_uu`` (data: initial and boundary terms), ``K_rr`` (PDE residual) and their cross
block tell *why* training stalls: a residual block whose eigenvalues are orders of magnitude
above the data block's (``tr K_rr / tr K_uu ≫ 1``) fits the PDE and ignores the data, and
fast-decaying spectra mean the high-frequency parts of the solution are learnt last (spectral
bias).

:func:`jacobian` builds ``J`` one batch of rows at a time (``autograd.grad`` with batched
gradient outputs, i.e. ``vmap`` over the rows), so a PDE residual whose derivatives come from
autograd works unchanged; :func:`empirical_ntk` assembles the blocks after checking that
``J`` and ``K`` fit ``max_bytes``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

Residuals = Callable[[], dict[str, torch.Tensor]]


def ntk_bytes(n_points: int, n_params: int, itemsize: int = 4) -> int:
    """Memory of ``J`` (``n_points × n_params``) and ``K`` (``n_points²``), in bytes."""
    return (n_points * n_params + n_points * n_points) * itemsize


def jacobian(out: torch.Tensor, params: list[torch.Tensor], batch: int = 64) -> torch.Tensor:
    """``∂out_i/∂θ`` as an ``(len(out), n_params)`` matrix, ``batch`` rows per reverse pass."""
    out = out.reshape(-1)
    n = out.numel()
    rows = []
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        eye = torch.zeros(stop - start, n, dtype=out.dtype, device=out.device)
        eye[torch.arange(stop - start), torch.arange(start, stop)] = 1
        grads = torch.autograd.grad(out, params, grad_outputs=eye, is_grads_batched=True,
                                    retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros(stop - start, *p.shape, dtype=p.dtype,
                                                                    device=p.device)).reshape(stop - start, -1)
                               for g, p in zip(grads, params)], dim=1).detach())
    return torch.cat(rows)


@dataclass(frozen=True)
class NTK:
    """The kernel ``K`` over the points of every term, in the order of ``terms``."""

    K: np.ndarray                      # (N, N), symmetric positive semi-definite
    terms: tuple[str, ...]
    sizes: tuple[int, ...]             # points per term

    def block(self, a: str, b: str | None = None) -> np.ndarray:
        """``K_ab`` (``K_aa`` when ``b`` is omitted)."""
        s = self._slices()
        return self.K[s[a], s[b or a]]

    def _slices(self) -> dict[str, slice]:
        edges = np.cumsum((0,) + self.sizes)
        return {t: slice(int(edges[i]), int(edges[i + 1])) for i, t in enumerate(self.terms)}

    def eigenvalues(self, term: str | None = None) -> np.ndarray:
        """Eigenvalues of ``K_tt`` (or of the whole ``K``), largest first, clipped at 0."""
        k = self.K if term is None else self.block(term)
        return np.clip(np.linalg.eigvalsh(k)[::-1], 0.0, None)

    def traces(self) -> dict[str, float]:
        """``tr K_tt / n_t``, the mean rate at which each term's residual decays."""
        return {t: float(np.trace(self.block(t))) / n for t, n in zip(self.terms, self.sizes)}

    def trace_ratios(self, reference: str = "pde") -> dict[str, float]:
        """Each term's mean trace over ``reference``'s: ≫ 1 or ≪ 1 means an imbalance."""
        tr = self.traces()
        if reference not in tr:
            raise ValueError(f"reference term must be one of {self.terms}, got {reference!r}")
        return {t: v / tr[reference] if tr[reference] > 0 else float("inf") for t, v in tr.items()}


def empirical_ntk(residuals: Residuals, model: torch.nn.Module, *, max_bytes: int = 2**30,
                  batch: int = 64) -> NTK:
    """The NTK of the per-point residuals ``residuals()`` (``{term: (n_t,)}``) of ``model``.

    ``max_bytes`` caps the memory of ``J`` and ``K``; a request above it is refused before any
    Jacobian is built, naming the sizes that set it.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    res = {k: v.reshape(-1) for k, v in residuals().items()}
    if not res or any(v.numel() == 0 for v in res.values()):
        raise ValueError("the NTK needs at least one point in every loss term")
    n = sum(v.numel() for v in res.values())
    n_params = sum(p.numel() for p in params)
    need = ntk_bytes(n, n_params, params[0].element_size())
    if need > max_bytes:
        raise ValueError(f"the NTK of {n} points and {n_params} parameters needs about {need / 2**30:.2f} GB, "
                         f"above the {max_bytes / 2**30:.2f} GB allowed: use fewer NTK points per term "
                         "or a smaller model")
    J = torch.cat([jacobian(v, params, batch) for v in res.values()])
    K = (J @ J.T).double().cpu().numpy()
    return NTK(K, tuple(res), tuple(v.numel() for v in res.values()))
