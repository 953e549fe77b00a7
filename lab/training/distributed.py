"""Data-parallel training: one run split over the ranks of ``torch.distributed``.

Every rank holds the whole model and draws the whole batch from the same seeded generator (so
the points and mini-batches are those of the one-process run); each takes its own share of the
batch (every ``world``-th point, :meth:`Group.shard`), computes its loss terms and gradients
on it, and the gradients are averaged over the ranks before the optimiser steps. A loss that is
a mean over points (the PINN's terms, the operator's relative L2 over the batch) then has the
one-process gradient up to round-off, so a run on N ranks follows the run on one. Rank 0 alone
writes the run folder, checkpoints, metrics and events.

Why gradients are averaged here and not by ``DistributedDataParallel``: a PINN loss calls the
model several times per step and differentiates through its derivatives (``create_graph``), which
DDP's once-per-step gradient hooks do not support; one ``all_reduce`` of the flattened gradients
per step costs what DDP's would, without its hooks.

Launch with ``torchrun`` (``sciml-lab train --nproc N ...`` runs it): NCCL on GPUs (one per
rank, ``LOCAL_RANK``), gloo on CPUs. Methods whose state depends on the whole batch at once
(causal weights, loss balancing) are refused on more than one rank rather than silently
changed.
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass

import torch

#: settings whose effect depends on every point of the batch at once: refused when ``world > 1``
WHOLE_BATCH = {"causal": "causal weighting", "balancing": "loss balancing"}


@dataclass(frozen=True)
class Group:
    """This process's place among the ranks of a run (``world = 1``: a run of its own)."""

    rank: int = 0
    world: int = 1

    @property
    def lead(self) -> bool:
        """Whether this rank writes the run folder and emits events."""
        return self.rank == 0

    def shard(self, t: torch.Tensor) -> torch.Tensor:
        """This rank's share of a batch along its first axis: every ``world``-th row."""
        return t if self.world == 1 else t[self.rank::self.world]

    def average_gradients(self, params: list[torch.Tensor]) -> None:
        """Replace each gradient by its mean over the ranks (one flattened ``all_reduce``)."""
        if self.world == 1:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.world
        for p, chunk in zip(params, flat.split([p.numel() for p in params])):
            p.grad = chunk.view_as(p).clone()

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        """The mean of a (detached) tensor over the ranks."""
        if self.world == 1:
            return t
        out = t.detach().clone()
        torch.distributed.all_reduce(out)
        return out / self.world

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any rank (so every rank stops at the same step)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())


SINGLE = Group()


def _collective_device() -> torch.device:
    return torch.device("cuda") if torch.distributed.get_backend() == "nccl" else torch.device("cpu")


def current() -> Group:
    """The group of the initialised default process group, else :data:`SINGLE`."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return Group(torch.distributed.get_rank(), torch.distributed.get_world_size())
    return SINGLE


def setup_from_environment() -> Group:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE`` in the environment).

    NCCL with one GPU per rank where CUDA is present, gloo otherwise; outside ``torchrun`` it
    does nothing and returns :data:`SINGLE`."""
    if "WORLD_SIZE" not in os.environ or torch.distributed.is_initialized():
        return current()
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = "nccl"
    else:
        backend = "gloo"
    # torch._dynamo, imported lazily by the first meta-device operation (the preflight's model
    # build), holds on to a process group that exists at its import: destroy_process_group then
    # left gloo's workers running, and a rank could abort at interpreter exit (a worker freeing
    # a tensor after the interpreter had gone). Imported before the group exists, it holds none.
    importlib.import_module("torch._dynamo")
    torch.distributed.init_process_group(backend)
    return current()


def teardown() -> None:
    """Leave the process group, if this process joined one (torch warns of one left open).

    The ranks meet at a barrier first: a rank that destroyed its group while a peer still had
    a collective in flight aborted that peer's process (gloo's worker thread), after a run
    that had completed."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        try:
            torch.distributed.barrier()
        finally:
            torch.distributed.destroy_process_group()


def check(problem, model_config, config, group: Group) -> None:
    """Refuse what a run on ``group.world`` ranks cannot split exactly, naming the setting."""
    if group.world == 1:
        return
    family = model_config.family
    if family not in ("pinn", "operator"):
        raise ValueError(f"data-parallel training covers PINN/PIG and operator models; the {family} "
                         f"model {model_config.kind!r} trains on one process: drop --nproc")
    for name, what in WHOLE_BATCH.items():
        value = getattr(config, name, None)
        if value not in (None, False, "none"):
            raise ValueError(f"{what} ({name}={value!r}) weighs the whole batch at once and is not split "
                             f"over ranks: turn it off or train on one process (--nproc 1)")
    if family == "operator":
        counts = {"batch_size": problem.batch_size}
    else:
        counts = {"n_pde": config.n_pde, "n_ic": config.n_ic, "n_bc": config.n_bc}
    for name, n in counts.items():
        if n % group.world:
            raise ValueError(f"{name}={n} must be a multiple of the {group.world} ranks, so each rank "
                             f"takes an equal share: use e.g. {name}={n - n % group.world or group.world}")


def check_ranks(n: int, what: str = "--nproc (ranks of a data-parallel run)") -> None:
    """At least one rank, and on a GPU machine no more ranks than GPUs (one GPU per rank)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{what} must be at least 1, got {n!r}")
    if torch.cuda.is_available() and n > torch.cuda.device_count():
        raise ValueError(f"{what}: {n} ranks are more than this machine's "
                         f"{torch.cuda.device_count()} GPUs (one GPU per rank)")


def launch_command(nproc: int, argv: list[str]) -> list[str]:
    """The ``torchrun`` command that runs ``python -m lab.cli <argv>`` on ``nproc`` local ranks."""
    check_ranks(nproc)
    # the ranks get the command without --nproc (torchrun's parser would take it for its own)
    rest, skip = [], False
    for a in argv:
        if skip or a.startswith("--nproc="):
            skip = False
        elif a == "--nproc":
            skip = True
        else:
            rest.append(a)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "lab.cli", *rest]
