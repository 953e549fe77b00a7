"""Residual-based adaptive collocation: RAD (Wu, Zhu, Tan, Kartha & Lu, CMAME 403, 2023).

Fresh candidates are drawn uniformly by the problem's own sampler (a box, or a domain of
:mod:`lab.geometry`) and ``n`` of them are kept with probability

    p(x) ∝ |r(x)|^k / mean(|r|^k) + c

so points concentrate where the residual is large (``k`` sharpens, ``c`` keeps a uniform
floor). The paper's recommended default is ``k = 1, c = 1``; ``c → ∞`` is uniform sampling.
"""
from __future__ import annotations

import torch

from lab.autodiff import Fields


def residual_magnitude(problem, model, X: torch.Tensor, chunk: int = 16384) -> torch.Tensor:
    """``|r|`` at ``X`` (root-mean-square over outputs for systems), without a training graph."""
    out = []
    for xc in X.split(chunk):
        r = problem.residual(Fields(model, xc, problem.axes)).detach()
        out.append(r.abs() if r.ndim == 1 else r.pow(2).mean(1).sqrt())
    return torch.cat(out)


def rad_sample(problem, model, n: int, generator: torch.Generator, *, k: float = 1.0,
               c: float = 1.0, candidates: int = 10, device=None, dtype=torch.float32) -> torch.Tensor:
    """``n`` interior points drawn from ``candidates × n`` uniform ones with the RAD density."""
    cand = problem.sample(candidates * n, 0, 0, generator, device=device, dtype=dtype)["pde"]
    rk = residual_magnitude(problem, model, cand).double().pow(k)
    p = rk / rk.mean().clamp_min(torch.finfo(torch.float64).tiny) + c
    idx = torch.multinomial(p.cpu(), n, replacement=False, generator=generator)
    return cand[idx.to(cand.device)]
