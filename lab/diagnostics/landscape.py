"""Loss landscapes: the loss on a line or plane through the trained parameters.

``L(theta* + alpha d1 + beta d2)`` is evaluated on a grid of ``(alpha, beta)`` for directions

* drawn at random and *filter-normalised* (Li, Xu, Taylor, Studer & Goldstein, "Visualizing the
  loss landscape of neural nets", NeurIPS 2018): each filter (row of a weight) of ``d`` is
  rescaled to the norm of the same filter of ``theta*``, so that landscapes of networks with
  different weight scales are comparable; 1-D parameters (biases) get zero direction by default;
* or taken from the optimiser's path: the top principal components of the snapshots
  ``theta_i - theta_final`` (Li et al., sec. 7), with the path projected onto them.

Two ways to write the loss, and the evaluation path each one gets (reported in the result):

* ``loss_fn(model) -> scalar`` — any closure, e.g. a physics-informed loss whose residual uses
  ``torch.autograd.grad``. The grid is evaluated point by point (``path="loop"``), copying each
  parameter set into the model and restoring the original afterwards.
* ``loss_fn(params) -> scalar`` with ``params`` a ``{name: tensor}`` dict, written with
  ``torch.func`` (``functional_call``, ``jacrev``, ``hessian``) — pass ``functional=True``. The
  grid is then evaluated in chunks of parameter sets under ``torch.vmap`` (``path="vmap"``),
  which on a GPU is many times faster; ``vectorize=False`` forces the loop for a functional
  loss that does not vmap (data-dependent control flow, ``.item()``).

Memory: a vmap chunk of ``c`` points holds ``c`` parameter sets and ``c`` copies of the
loss's intermediates. The latter are measured once on one point (CUDA: peak allocation; other
devices: the bytes of every tensor the evaluation creates, an upper bound) unless given as
``activation_bytes``. The chunk is the largest that fits ``memory_budget``; if a single point
does not fit, or an explicit ``chunk_size`` does not, a ``ValueError`` says by how much.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

DEFAULT_BUDGET = 2 * 2 ** 30  # bytes; a Binder session has about 2 GB in all


def flat_parameters(model: nn.Module) -> torch.Tensor:
    """The model's parameters as one detached vector, in ``named_parameters`` order."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def unflatten(model: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{name: view}`` of a flat vector ``(..., P)`` shaped like the model's parameters."""
    out, offset = {}, 0
    for name, p in model.named_parameters():
        out[name] = theta[..., offset:offset + p.numel()].reshape(*theta.shape[:-1], *p.shape)
        offset += p.numel()
    if offset != theta.shape[-1]:
        raise ValueError(f"theta has {theta.shape[-1]} entries but the model has {offset} parameters")
    return out


def random_directions(model: nn.Module, n: int, generator: torch.Generator, *,
                      filter_normalize: bool = True, zero_1d: bool = True) -> torch.Tensor:
    """``n`` Gaussian directions ``(n, P)``, filter-normalised as in Li et al. (2018).

    A weight of shape ``(out, ...)`` has ``out`` filters; each filter ``d_i`` becomes
    ``d_i ||theta_i|| / ||d_i||``. 1-D parameters (biases, norms) get a zero direction when
    ``zero_1d`` (Li et al.'s default), otherwise they are rescaled as a single filter. Drawn on
    the CPU from ``generator`` (reproducible on every device), returned on the model's device.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    dirs = []
    for p in model.parameters():
        d = torch.randn(n, *p.shape, generator=generator, dtype=torch.float64).to(p)
        if filter_normalize:
            if p.ndim <= 1 and zero_1d:
                d = torch.zeros_like(d)
            else:
                rows = p.detach().reshape(p.shape[0], -1) if p.ndim > 1 else p.detach().reshape(1, -1)
                dr = d.reshape(n, rows.shape[0], -1)
                d = (dr * (rows.norm(dim=-1) / dr.norm(dim=-1).clamp_min(1e-30))[..., None]).reshape(d.shape)
        dirs.append(d.reshape(n, -1))
    return torch.cat(dirs, 1)


@dataclass
class PCADirections:
    """Principal axes of an optimiser path and the path's coordinates on them."""

    #: ``(n, P)`` orthonormal directions
    directions: torch.Tensor
    #: fraction of the path's variance about the final point along each direction
    explained: torch.Tensor
    #: ``(T, n)`` coordinates of the snapshots, relative to the final one
    coords: torch.Tensor
    #: ``(P,)`` final snapshot: the landscape's centre
    center: torch.Tensor


def pca_directions(snapshots: torch.Tensor | Sequence[torch.Tensor], n: int = 2) -> PCADirections:
    """Top-``n`` principal directions of ``theta_i - theta_final`` over flattened snapshots ``(T, P)``."""
    S = torch.stack(list(snapshots)) if not isinstance(snapshots, torch.Tensor) else snapshots
    if S.ndim != 2 or S.shape[0] < n + 1:
        raise ValueError(f"snapshots must be (T, P) with T > n={n}, got shape {tuple(S.shape)}")
    M = S - S[-1]
    _, sv, Vh = torch.linalg.svd(M, full_matrices=False)
    return PCADirections(Vh[:n], sv[:n].square() / sv.square().sum(), M @ Vh[:n].T, S[-1].clone())


@dataclass
class Landscape:
    """Loss values on a grid of direction coefficients."""

    #: coefficient vector of each axis (``alphas`` or ``alphas, betas``)
    axes: tuple[torch.Tensor, ...]
    #: ``(len(alphas),)`` or ``(len(alphas), len(betas))``
    values: torch.Tensor
    #: ``"vmap"`` (chunked, vectorised) or ``"loop"`` (one point at a time)
    path: str
    chunk_size: int
    #: estimated peak bytes of one chunk
    bytes_estimate: int


class _AllocationCounter(TorchDispatchMode):
    """Sums the bytes of every tensor an evaluation creates: an upper bound of its peak."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.bytes += sum(t.numel() * t.element_size() for t in tree_leaves(out)
                          if isinstance(t, torch.Tensor))
        return out


def measure_activation_bytes(evaluate: Callable[[], torch.Tensor], device: torch.device) -> int:
    """Working memory of one loss evaluation (see the module docstring)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        evaluate()
        torch.cuda.synchronize(device)
        return max(0, torch.cuda.max_memory_allocated(device) - base)
    with _AllocationCounter() as counter:
        evaluate()
    return counter.bytes


def estimate_memory(n_params: int, n_directions: int, chunk_size: int, activation_bytes: int,
                    itemsize: int) -> int:
    """Bytes for centre + directions + a chunk of parameter sets and their intermediates."""
    return (1 + n_directions) * n_params * itemsize + chunk_size * (n_params * itemsize
                                                                    + activation_bytes)


def loss_grid(model: nn.Module, loss_fn: Callable, directions: torch.Tensor, coords: torch.Tensor, *,
              center: torch.Tensor | None = None, functional: bool = False, vectorize: bool = True,
              chunk_size: int | None = None, memory_budget: int = DEFAULT_BUDGET,
              activation_bytes: int | None = None) -> tuple[torch.Tensor, str, int, int]:
    """Loss at ``center + coords @ directions`` for each row of ``coords`` ``(M, n)``.

    Returns ``(values (M,), path, chunk_size, bytes_estimate)``; see the module docstring for
    the two loss forms and the memory rule. ``center`` defaults to the model's parameters.
    """
    theta0 = flat_parameters(model)
    center = theta0 if center is None else center.to(theta0)
    directions = directions.to(theta0)
    coords = coords.to(theta0)
    if directions.ndim != 2 or directions.shape[1] != theta0.numel():
        raise ValueError(f"directions must be (n, {theta0.numel()}), got {tuple(directions.shape)}")
    if coords.ndim != 2 or coords.shape[1] != directions.shape[0]:
        raise ValueError(f"coords must be (M, {directions.shape[0]}), got {tuple(coords.shape)}")
    if memory_budget <= 0:
        raise ValueError(f"memory_budget must be positive bytes, got {memory_budget}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    P, itemsize, M = theta0.numel(), theta0.element_size(), coords.shape[0]
    use_vmap = functional and vectorize
    if use_vmap:
        if activation_bytes is None:
            activation_bytes = measure_activation_bytes(
                lambda: loss_fn(unflatten(model, center)), center.device)
        fixed = estimate_memory(P, directions.shape[0], 0, activation_bytes, itemsize)
        per_point = estimate_memory(P, 0, 1, activation_bytes, itemsize)
        fits = max(0, (memory_budget - fixed) // per_point)
        if fits < 1:
            raise ValueError(f"one landscape point needs about {(fixed + per_point) / 2**20:.1f} MiB "
                             f"(parameters + loss intermediates of {activation_bytes / 2**20:.1f} MiB) "
                             f"but memory_budget is {memory_budget / 2**20:.1f} MiB")
        if chunk_size is not None and chunk_size > fits:
            raise ValueError(f"chunk_size={chunk_size} needs about "
                             f"{(fixed + chunk_size * per_point) / 2**20:.1f} MiB but memory_budget "
                             f"is {memory_budget / 2**20:.1f} MiB; at most {fits} points fit")
        chunk = min(M, chunk_size or fits)
        batched = torch.vmap(loss_fn)
        values = torch.cat([batched(unflatten(model, center + coords[s:s + chunk] @ directions)).detach()
                            for s in range(0, M, chunk)])
        return values.reshape(M), "vmap", chunk, fixed + chunk * per_point
    values = torch.empty(M, dtype=theta0.dtype, device=theta0.device)
    if functional:
        for i in range(M):
            values[i] = loss_fn(unflatten(model, center + coords[i] @ directions)).detach()
    else:
        params = list(model.parameters())
        try:
            for i in range(M):
                _load(params, center + coords[i] @ directions)
                values[i] = loss_fn(model).detach()
        finally:
            _load(params, theta0)
    return values, "loop", 1, estimate_memory(P, directions.shape[0] + 1, 0, 0, itemsize)


def _load(params: list[nn.Parameter], theta: torch.Tensor) -> None:
    """Copy a flat vector into the parameters in place (their storage and identity are kept)."""
    offset = 0
    with torch.no_grad():
        for p in params:
            p.copy_(theta[offset:offset + p.numel()].view_as(p))
            offset += p.numel()


def landscape_1d(model: nn.Module, loss_fn: Callable, direction: torch.Tensor, alphas, **kw) -> Landscape:
    """``L(theta* + alpha d)`` for each ``alpha``; keywords as :func:`loss_grid`."""
    a = torch.as_tensor(alphas).reshape(-1)
    d = direction.reshape(1, -1)
    values, path, chunk, nbytes = loss_grid(model, loss_fn, d, a[:, None], **kw)
    return Landscape((a,), values, path, chunk, nbytes)


def landscape_2d(model: nn.Module, loss_fn: Callable, d1: torch.Tensor, d2: torch.Tensor, alphas,
                 betas, **kw) -> Landscape:
    """``L(theta* + alpha d1 + beta d2)`` on the ``alphas x betas`` grid; keywords as :func:`loss_grid`."""
    a, b = torch.as_tensor(alphas).reshape(-1), torch.as_tensor(betas).reshape(-1)
    A, B = torch.meshgrid(a, b, indexing="ij")
    coords = torch.stack([A.reshape(-1), B.reshape(-1)], 1)
    values, path, chunk, nbytes = loss_grid(model, loss_fn, torch.stack([d1.reshape(-1), d2.reshape(-1)]),
                                            coords, **kw)
    return Landscape((a, b), values.reshape(a.numel(), b.numel()), path, chunk, nbytes)


def physics_loss(problem, n_pde: int, n_ic: int, n_bc: int, seed: int, device, dtype):
    """``model -> sum of problem.losses(model, batch)`` on one fixed seeded batch."""
    batch = problem.sample(n_pde, n_ic, n_bc, torch.Generator().manual_seed(seed), device=device, dtype=dtype)

    def loss(model):
        return sum(problem.losses(model, batch).values())
    return loss
