"""The Adam step as one CUDA graph: capture it once, replay it every step.

A PINN step on a GPU is hundreds of tiny kernels — the forward pass, the two nested
reverse-mode passes that give u_xx (:class:`lab.autodiff.Fields`), the parameter backward and
Adam — and at the sizes PINNs use, launching them costs more than running them. A CUDA graph
(``torch.cuda.CUDAGraph``) records the kernels of one whole step, ``zero_grad → loss →
backward → Adam``, and replays them with a single launch. It replays on fixed memory, so:

* the batch lives in *static* tensors: before every replay the task draws the batch of that
  step on the host (``task.draw``: a PINN's fresh collocation points when resampling is due,
  uniform or RAD, even every step; an operator task's mini-batch), and new values are copied
  into the same storage;
* what a training method changes over training lives in device tensors, updated in place:
  causal weighting's ε level advances inside the step, without a host read; balanced loss
  weights need the gradients of each term, so every ``balance_every`` steps the step runs
  eagerly instead (``task.host_step_due``) and overwrites the weights the replays read;
* Adam is ``fused=True, capturable=True`` with its learning rate in a device tensor, which the
  host-side schedule refreshes before a replay;
* the loss terms and total are static outputs, read only when the Trainer logs (no host
  synchronisation per step); non-finite losses are recorded on the device (the first bad step)
  and checked every time the Trainer observes, before any checkpoint is written.

The captured step and the eager loop call the same :func:`weighted_loss`. The first
``warmup`` steps run eagerly on a side stream (they are real training steps), as PyTorch's
recipe for whole-network capture asks, so lazy initialisation stays out of the graph.

Features that need the host inside every step cannot be captured and fall back to the eager
loop automatically (:func:`blockers` names them): tasks that prepare their batch inside the
step (the neural-ODE task), and anything not on CUDA. A loss that cannot be captured — one that copies host
tensors to the device or reads a value back inside the step (e.g. problems that build
coefficients or initial data on the CPU per call) — is found at capture: nothing has run
then, so the runner logs the reason (``fallback``) and goes on eagerly, still without a host
synchronisation per step.
Loss weights from ``config.loss_weights`` and the problem's parameters are fixed at capture.
"""
from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

#: eager steps on a side stream before capture (PyTorch's whole-network capture recipe uses 3)
WARMUP_STEPS = 3


def weighted_loss(task, step: int):
    """``(total, terms, weights)`` of the task at ``step``: the one loss of both Adam paths."""
    terms = task.loss_terms(step)
    weights = task.weights(terms, step)
    total = sum(weights[k] * v for k, v in terms.items())
    return total, terms, weights


def _after_failed_capture(stream: torch.cuda.Stream, device: torch.device) -> None:
    """Undo what a failed capture leaves behind in the process.

    When ending a capture raises, ``torch.cuda.graph`` skips the rest of its exit: the capture
    stream stays current, and the device's default generator stays in its capture state, so
    every later random draw there fails ("Offset increment outside graph capture") — in the
    next run of the app, too. The generator gets a fresh state with the same seed and offset."""
    torch.cuda.set_stream(stream)
    gen = torch.cuda.default_generators[device.index if device.index is not None else torch.cuda.current_device()]
    fresh = torch.Generator(device=gen.device)
    fresh.set_state(gen.get_state())
    gen.graphsafe_set_state(fresh)


def blockers(task, config, device: torch.device) -> list[str]:
    """Why the Adam step of ``task`` cannot run as a CUDA graph; empty when it can."""
    out = []
    if not config.cuda_graphs:
        out.append("cuda_graphs=False")
    if device.type != "cuda":
        out.append(f"the device is {device.type}, not cuda")
    if task.batch_inside_step:
        out.append(f"the {task.family!r} task prepares its batch on the host inside every step")
    return out


def adam(params, lr: float, device: torch.device, *, capturable: bool) -> torch.optim.Adam:
    """Adam for the Trainer: fused on CUDA (one kernel for all parameters), PyTorch's default
    implementation elsewhere; ``capturable`` keeps its state on the device for graph capture."""
    if device.type != "cuda":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, fused=True, capturable=capturable)


class CapturedAdam:
    """Runs Adam steps of a task, from ``start`` on, as replays of one captured graph.

    ``step(s, lr)`` performs training step ``s`` with learning rate ``lr`` and returns
    ``(total, terms, weights)``; the tensors are valid until the next call. A step whose loss
    does host work (``task.host_step_due``) runs eagerly, before and after capture.
    ``nonfinite()`` returns the first step whose loss was not finite, or ``None``; it
    synchronises with the device, so call it only when the Trainer observes.
    """

    def __init__(self, task, optimizer: torch.optim.Adam, start: int, *, warmup: int = WARMUP_STEPS):
        self.task, self.opt = task, optimizer
        self.warmup_end = start + warmup
        dev = task.device
        self._next = torch.full((), start, dtype=torch.int64, device=dev)   # step of the next body
        self._first_bad = torch.full((), -1, dtype=torch.int64, device=dev)
        self._lr = torch.full((), float(optimizer.param_groups[0]["lr"]), dtype=torch.float32,
                              device=dev)  # fused Adam reads a tensor learning rate as float32
        self._lr_value = float(optimizer.param_groups[0]["lr"])
        self._side = torch.cuda.Stream(dev) if dev.type == "cuda" else None
        self.graph: torch.cuda.CUDAGraph | None = None
        self._static: dict[str, torch.Tensor] = {}
        self._out = None
        #: why capture failed (the steps then run eagerly), or ``None``
        self.fallback: str | None = None

    # ---- one training step, the same code eagerly and under capture -------------------------
    def _body(self, step: int):
        self.opt.zero_grad(set_to_none=True)
        total, terms, weights = weighted_loss(self.task, step)
        total.backward()
        self.opt.step()
        with torch.no_grad():  # remember the first non-finite loss without asking the host
            first = (self._first_bad < 0) & ~torch.isfinite(total.detach())
            self._first_bad.copy_(torch.where(first, self._next, self._first_bad))
            self._next.add_(1)
        return total.detach(), {k: v.detach() for k, v in terms.items()}, weights

    def _adopt_batch(self) -> None:
        """Copy the task's batch into the graph's inputs, which the task then keeps using."""
        if self.task.batch is not self._static:  # else draw kept the batch the graph holds
            for k, v in self._static.items():
                v.copy_(self.task.batch[k])
            self.task.batch = self._static

    def _eager(self, step: int):
        """Step ``step`` eagerly on the side stream; points it drew become the graph's inputs."""
        self._side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self._side):  # the copy, too: the points were made on this stream
            out = self._body(step)
            if self.graph is not None:  # (copying a tensor onto itself does nothing)
                self._adopt_batch()
        torch.cuda.current_stream().wait_stream(self._side)
        return out

    def _capture(self, step: int) -> None:
        self._static = dict(self.task.batch)  # these tensors are the graph's inputs from now on
        group = self.opt.param_groups[0]
        self.opt.zero_grad(set_to_none=True)  # gradients are allocated from the graph's pool
        self.graph = torch.cuda.CUDAGraph()
        group["lr"] = self._lr
        stream = torch.cuda.current_stream()
        try:
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self._out = self._body(step)
        except RuntimeError as err:  # nothing ran: the steps go on eagerly, with the same numbers
            _after_failed_capture(stream, self.task.device)
            self.graph, self._out, self.fallback = None, None, str(err).split("\n")[0]
            self.opt.zero_grad(set_to_none=True)
            log.warning("the Adam step of %s cannot be captured as a CUDA graph (%s); it runs "
                        "eagerly", self.task.problem.key, self.fallback)
        finally:
            group["lr"] = self._lr_value  # the schedule keeps working on a plain float

    def step(self, step: int, lr: float):
        if lr != self._lr_value:
            self._lr.fill_(lr)
            self._lr_value = lr
        if self.graph is None:
            # a host step must not be the captured one: its host work would replay every step
            if step < self.warmup_end or self.task.host_step_due(step) or self.fallback:
                return self._eager(step)
            self.task.draw(step)  # the batch the captured step reads, drawn outside it
            self._capture(step)  # records the step without running it
            if self.graph is None:
                return self._eager(step)
        elif self.task.host_step_due(step):
            return self._eager(step)
        else:
            self.task.draw(step)
            self._adopt_batch()
        self.graph.replay()
        return self._out

    def nonfinite(self) -> int | None:
        """The first step whose loss was non-finite, or ``None`` (synchronises)."""
        bad = int(self._first_bad)
        return None if bad < 0 else bad
