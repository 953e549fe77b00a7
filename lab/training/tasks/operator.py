"""Operator learning: minibatch training of function-to-function maps on generated datasets.

The problem (:mod:`lab.problems.operators`) supplies the data and, with ``physics`` on, the
PINO residual terms; the model is any ``family = "operator"`` network. Loss terms:

* ``data`` — the relative L2 loss ``mean_b ||G(a_b) - u_b|| / ||u_b||`` of Li et al. (2021),
  averaged over the rollout steps for trajectory problems; a map whose problem gives an
  :meth:`~lab.problems.operators.OperatorProblem.output_mask` is scored on ``pred * mask``
  and ``u * mask``, here and in every error below (the points outside count for nothing);
* ``pde``, ``ic``, ``bc`` — PINO terms (:mod:`lab.solvers.residuals`) when ``problem.physics``.

A model with an output normaliser (the FNO's ``normalize_output``) has it fitted to the
training outputs here, once the data are loaded; it decodes inside the model, so every term
and metric stays in physical units.

Weights come from ``TrainConfig.loss_weights`` (``{"data": 0}`` trains from physics alone).
Rollout problems train autoregressively: ``rollout_steps`` applications of the model, each
feeding its prediction back as the newest input frame (gradients flow through the whole
rollout; ``rollout_steps = 1`` is one-step teacher forcing). Batches and rollout start
frames are drawn from the trainer's generator.

:meth:`OperatorTask.evaluate` reports the relative L2 error over the whole validation set
(``relative_l2`` of the lab), the fields of one validation sample (``input``, ``prediction``,
``reference``, ``error``) and extras: the trivial predictor's error (the mean training
output), the error per rollout step, and shell-averaged energy spectra of prediction and
truth on periodic grids (:mod:`lab.diagnostics.spectra`). :func:`super_resolution` evaluates
a trained model zero-shot on the same samples generated at a finer resolution.
"""
from __future__ import annotations


import torch

from lab.diagnostics.metrics import relative_l2
from lab.diagnostics.spectra import energy_spectrum
from lab.training.tasks import Task, register_task


def relative_l2_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean_b ||pred_b - target_b||_2 / ||target_b||_2`` over the leading (batch) axis."""
    p, t = pred.reshape(pred.shape[0], -1), target.reshape(target.shape[0], -1)
    return (torch.linalg.vector_norm(p - t, dim=1) / torch.linalg.vector_norm(t, dim=1).clamp_min(1e-30)).mean()


def rollout(model, x: torch.Tensor, steps: int, channels: int) -> torch.Tensor:
    """Apply ``model`` autoregressively: ``x`` ``(B, h*C, *s)`` -> predictions ``(B, steps, C, *s)``."""
    preds = []
    for _ in range(steps):
        p = model(x)
        preds.append(p)
        x = torch.cat([x[:, channels:], p], dim=1)
    return torch.stack(preds, dim=1)


def _subsample(x: torch.Tensor, shape: tuple[int, ...], periodic: tuple[bool, ...]) -> torch.Tensor:
    """Restrict fields to a coarser grid that is a subset of their nodes (exact injection)."""
    idx = []
    for n_f, n_c, p in zip(x.shape[-len(shape):], shape, periodic):
        ok = n_f % n_c == 0 if p else (n_f - 1) % (n_c - 1) == 0
        if not ok:
            raise ValueError(f"grid size {n_f} does not contain the {n_c}-point grid")
        idx.append(slice(None, None, n_f // n_c if p else (n_f - 1) // (n_c - 1)))
    return x[(Ellipsis, *idx)]


def masked(problem, x: torch.Tensor, *fields: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``fields`` times ``problem.output_mask(x)`` (unchanged where the problem gives none)."""
    mask = problem.output_mask(x)
    return fields if mask is None else tuple(f * mask for f in fields)


def predict(model, x: torch.Tensor, out_shape: tuple[int, ...], periodic: tuple[bool, ...]) -> torch.Tensor:
    """Model output on ``out_shape``; models with fixed sensors read a subsampled input."""
    sensors = getattr(model, "sensor_shape", None)
    if sensors is not None:
        return model(_subsample(x, sensors, periodic), out_shape=out_shape)
    return model(x)


@register_task
class OperatorTask(Task):
    family = "operator"

    def __init__(self, problem, model, config, **kw):
        super().__init__(problem, model, config, **kw)
        if getattr(problem, "kind", None) != "operator":
            raise ValueError(f"operator models need an operator problem; {problem.key!r} is of "
                             f"kind {problem.kind!r}")
        data = problem.datasets(device=self.device, dtype=self.dtype, progress=self.progress)
        self.train, self.val = data["train"], data["val"]
        self.periodic = tuple(a in problem.periodic for a in problem.axes)
        n = len(next(iter(self.train.values())))
        if problem.batch_size > n:
            raise ValueError(f"batch_size={problem.batch_size} exceeds n_train={n}")
        normalizer = getattr(model, "normalizer", None)
        if normalizer is not None:  # the FNO paper's pointwise normaliser, from the training outputs
            normalizer.fit(self.train["trajectories"][:, problem.history:] if problem.rollout else self.train["y"])
        #: the mini-batch ``{"x", "y"}`` last drawn, and the step :meth:`draw` drew it for
        self.batch: dict[str, torch.Tensor] = {}
        self._drawn_for: int | None = None

    # ---- batches --------------------------------------------------------------------------
    def _batch(self):
        p = self.problem
        if not p.rollout:
            idx = torch.randperm(p.n_train, generator=self.generator)[: p.batch_size].to(self.device)
            return self.train["x"][idx], self.train["y"][idx]
        traj = self.train["trajectories"]
        span = p.history + p.rollout_steps
        idx = torch.randint(0, traj.shape[0], (p.batch_size,), generator=self.generator)
        start = torch.randint(0, traj.shape[1] - span + 1, (p.batch_size,), generator=self.generator)
        windows = torch.stack([traj[i, s:s + span] for i, s in zip(idx.tolist(), start.tolist())])
        x = windows[:, : p.history].flatten(1, 2)
        return x, windows[:, p.history:]

    def draw(self, step: int) -> None:
        """Draw the mini-batch of ``step`` ahead of it into ``self.batch``.

        A captured step (:mod:`lab.training.graphs`) draws each batch this way, outside the
        graph, and copies it into the graph's fixed inputs; eager steps draw inside
        :meth:`loss_terms`. Both take one batch per step from the generator, in step order.
        """
        x, y = self._batch()
        self.batch, self._drawn_for = {"x": x, "y": y}, step

    def state_dict(self):
        """The generator (it orders the mini-batches) and the batch drawn ahead, if any."""
        return {**super().state_dict(), "drawn_for": self._drawn_for, "batch": dict(self.batch)}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._drawn_for = state["drawn_for"]
        self.batch = {k: v.to(device=self.device, dtype=self.dtype) for k, v in state["batch"].items()}

    def loss_terms(self, step):
        p = self.problem
        if self._drawn_for == step:
            x, y = self.batch["x"], self.batch["y"]
        else:  # every evaluation draws afresh (L-BFGS evaluates one step several times)
            x, y = self._batch()
        x, y = self.group.shard(x), self.group.shard(y)
        if p.rollout:
            pred = rollout(self.model, x, p.rollout_steps, p.channels[0])
            data = torch.stack([relative_l2_loss(pred[:, r], y[:, r]) for r in range(pred.shape[1])]).mean()
        else:
            pred = self.model(x)
            data = relative_l2_loss(*masked(p, x, pred, y))
        terms = {"data": data}
        if p.physics:
            terms.update(p.physics_losses(x, pred))
        return terms

    # ---- evaluation -----------------------------------------------------------------------
    def _val_predictions(self, chunk: int = 64):
        """Validation inputs, predictions and truths (maps: masked); rollouts start at the first frame."""
        p = self.problem
        was = self.model.training
        self.model.eval()
        xs, preds, ys = [], [], []
        with torch.no_grad():
            if p.rollout:
                traj = self.val["trajectories"]
                steps = min(p.eval_steps, traj.shape[1] - p.history)
                for i in range(0, len(traj), chunk):
                    x = traj[i:i + chunk, : p.history].flatten(1, 2)
                    xs.append(x)
                    preds.append(rollout(self.model, x, steps, p.channels[0]))
                    ys.append(traj[i:i + chunk, p.history:p.history + steps])
            else:
                for i in range(0, len(self.val["x"]), chunk):
                    x = self.val["x"][i:i + chunk]
                    pred, y = masked(p, x, predict(self.model, x, tuple(p.shape), self.periodic),
                                     self.val["y"][i:i + chunk])
                    xs.append(x)
                    preds.append(pred)
                    ys.append(y)
        self.model.train(was)
        return torch.cat(xs), torch.cat(preds), torch.cat(ys)

    def evaluate(self):
        p = self.problem
        x, pred, y = self._val_predictions()
        rel = relative_l2(pred, y)
        extras: dict = {}
        grid = {a: g for a, g in p.grid().items() if a in p.snapshot_axes}
        if p.rollout:
            extras["rollout_error"] = [relative_l2(pred[:, r], y[:, r]) for r in range(pred.shape[1])]
            persistence = x[:, -p.channels[0]:].unsqueeze(1).expand_as(y)
            extras["trivial_rel_l2"] = relative_l2(persistence, y)  # u(t_k+r) ~ u(t_k)
            last_pred, last_true, show_in = pred[:, -1, 0], y[:, -1, 0], x[0, -1]
        else:
            mean = self.train["y"].mean(0, keepdim=True).expand_as(y)
            (mean,) = masked(p, x, mean)
            extras["trivial_rel_l2"] = relative_l2(mean, y)
            last_pred, last_true, show_in = pred[:, 0], y[:, 0], x[0, 0]
            if p.frame_axis:  # a space-time map: the error per frame, and the last frame drawn
                frames = pred.shape[-1]
                extras["rollout_error"] = [relative_l2(pred[..., r], y[..., r]) for r in range(frames)]
                last_pred, last_true, show_in = last_pred[..., -1], last_true[..., -1], x[0, -1, ..., -1]
        shown = tuple(grid)
        if all(a in p.periodic for a in shown):  # spectra need a periodic box
            lengths = [hi - lo for a, (lo, hi) in p.bounds().items() if a in shown]
            k, e_pred = energy_spectrum(last_pred.double(), len(shown), lengths)
            _, e_true = energy_spectrum(last_true.double(), len(shown), lengths)
            extras["spectrum"] = {"k": k.tolist(), "prediction": e_pred.mean(0).tolist(),
                                  "reference": e_true.mean(0).tolist()}
        fields = {k: v.detach().double().cpu().numpy() for k, v in
                  {"input": show_in, "prediction": last_pred[0], "reference": last_true[0],
                   "error": last_pred[0] - last_true[0]}.items()}
        return grid, fields, rel, extras


def super_resolution(model, problem, resolution: int, *, device=None, dtype=torch.float32) -> float:
    """Zero-shot relative L2 error of ``model`` on ``problem``'s validation set at ``resolution``.

    The same samples (same seed, same solver grid) are stored at the finer ``resolution``; a
    resolution-invariant model (FNO) reads and predicts on that grid, a fixed-sensor model
    (DeepONet) reads the subsampled input and predicts on the fine grid. Rollout problems are
    scored on the first predicted frame.
    """
    fine = type(problem)(**{**problem.config(), "resolution": resolution})
    val = fine.dataset("val", device=device, dtype=dtype)
    periodic = tuple(a in fine.periodic for a in fine.axes)
    with torch.no_grad():
        if fine.rollout:
            traj = val["trajectories"]
            x, y = traj[:, : fine.history].flatten(1, 2), traj[:, fine.history]
            pred = predict(model, x, tuple(fine.shape), periodic)
        else:
            x = val["x"]
            pred, y = masked(fine, x, predict(model, x, tuple(fine.shape), periodic), val["y"])
    return relative_l2(pred, y)


__all__ = ["OperatorTask", "masked", "relative_l2_loss", "rollout", "super_resolution"]
