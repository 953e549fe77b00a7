"""Physics-informed training of pointwise networks: residual + initial + boundary losses.

Optional training methods (see :class:`lab.training.config.TrainConfig`): causal weighting
of the residual over time (:mod:`lab.training.causal`), adaptive loss balancing
(:mod:`lab.training.balancing`), residual-adaptive resampling (:mod:`lab.training.resampling`);
terms a hard-constrained model satisfies exactly (its ``enforced`` names, :mod:`lab.models.hard`)
leave the loss. Snapshots carry, besides the fields, ``|r|`` on a coarsened grid (where the
physics is still violated) and what the model's parts add through their ``snapshot_extras()``
hook (PIG: its Gaussians, :meth:`lab.models.pig.GaussianField.snapshot_extras`). A problem whose
reference lives on a finite-element mesh (``reference_nodes()``, :mod:`lab.problems.geometric`)
is measured at the mesh's nodes: the snapshot's ``rel_l2`` is over those nodes, and its
``extras["nodes"]`` holds points, triangles, prediction, reference and error. Hooks, not
type checks: the task serves any model without importing the model families.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from lab.autodiff import Fields
from lab.diagnostics.metrics import relative_l2
from lab.io.observations import draw_sensors, read_observations
from lab.sampling import coarse_grid
from lab.training.balancing import MovingWeights, balanced, grad_norms, ntk_traces
from lab.training.causal import CausalWeighting
from lab.training.inverse import InferredParameters, check_differentiable
from lab.training.resampling import rad_sample
from lab.training.tasks import Task, register_task


def evaluate_at(model, points: np.ndarray, *, device, dtype, chunk: int = 65536) -> torch.Tensor:
    """Model output ``(N, outputs)`` at the ``(N, d)`` points, ``chunk`` points at a time."""
    pts = torch.as_tensor(points, dtype=dtype, device=device)
    with torch.no_grad():
        return torch.cat([model(pts[i:i + chunk]) for i in range(0, len(pts), chunk)]).reshape(len(pts), -1)


def evaluate_on_grid(model, problem, grid: dict[str, np.ndarray], *, device, dtype,
                     chunk: int = 65536) -> np.ndarray:
    """Model output on a tensor-product grid, shaped like :meth:`Problem.reference`."""
    mesh = np.meshgrid(*[grid[a] for a in problem.axes], indexing="ij")
    out = evaluate_at(model, np.stack([m.ravel() for m in mesh], axis=1), device=device, dtype=dtype, chunk=chunk)
    shape = mesh[0].shape + ((len(problem.outputs),) if len(problem.outputs) > 1 else ())
    return problem.outside_nan(out.double().cpu().numpy().reshape(shape), grid)


#: at most this many points for the residual map of a snapshot (second derivatives are costly)
RESIDUAL_POINTS = 2**14


def residual_on_grid(problem, model, grid: dict[str, np.ndarray], *, device, dtype,
                     chunk: int = 4096) -> np.ndarray:
    """PDE residual ``r`` of ``model`` on a tensor-product grid, shaped like the reference.

    Derivatives come from autograd (:class:`lab.autodiff.Fields`) one chunk at a time, each
    chunk's graph freed before the next; a system's residual keeps a trailing component axis.
    """
    mesh = np.meshgrid(*[grid[a] for a in problem.axes], indexing="ij")
    pts = torch.as_tensor(np.stack([m.ravel() for m in mesh], axis=1), dtype=dtype, device=device)
    with torch.enable_grad():
        out = torch.cat([problem.residual(Fields(model, pts[i:i + chunk], problem.axes)).detach()
                         for i in range(0, len(pts), chunk)])
    return problem.outside_nan(out.double().cpu().numpy().reshape(mesh[0].shape + out.shape[1:]), grid)


@register_task
class PINNTask(Task):
    family = "pinn"

    def __init__(self, problem, model, config, **kw):
        super().__init__(problem, model, config, **kw)
        c = self.config
        self.grid = problem.grid()
        self.reference = problem.reference(self.grid)
        nodes = getattr(problem, "reference_nodes", None)
        self.nodes = nodes() if callable(nodes) else None  # a mesh's reference: the error is measured there
        self.causal = None
        if c.causal:
            if problem.time_axis is None:
                raise ValueError(f"causal=True needs a time axis; {problem.key} has axes {problem.axes}")
            self.causal = CausalWeighting(problem.bounds()["t"], c.causal_chunks, c.causal_eps,
                                          c.causal_delta, device=self.device, dtype=self.dtype)
        self.balance = None
        if c.balancing != "none":
            self.balance = MovingWeights(c.balance_momentum, device=self.device, dtype=self.dtype)
        self._balanced_at: int | None = None
        self.enforced = getattr(model, "enforced", ())  # terms the model meets exactly
        self.extra_sources = [m for m in model.modules() if callable(getattr(m, "snapshot_extras", None))]
        self.resample()
        self._drawn_for: int | None = None  # the step draw() last prepared the batch of
        self.observations = self._observations()
        self.inferred = InferredParameters(problem, c.infer, model) if c.infer else None
        self.truth = {}  # the declared values, the truth when the sensors come from the reference
        if self.inferred is not None:
            if not c.observations:
                self.truth = {n: float(getattr(problem, n)) for n in self.inferred.names}
            with self.inferred.substituted(problem):
                check_differentiable(self.inferred, problem, problem.losses(model, self.batch, c.derivatives))

    def _observations(self):
        """``(points, values, output columns)`` as tensors when the run fits observations."""
        c = self.config
        if c.observations:
            obs = read_observations(c.observations, self.problem)
        elif c.sensors:
            obs = draw_sensors(self.problem, c.sensors, c.sensor_noise, c.sensor_layout, c.sensor_seed)
        else:
            return None
        columns = [self.problem.outputs.index(o) for o in obs.outputs]
        return (obs, torch.as_tensor(obs.points, dtype=self.dtype, device=self.device),
                torch.as_tensor(obs.values, dtype=self.dtype, device=self.device), columns)

    def _physics(self):
        """The problem, reading inferred parameters as their current estimates."""
        return self.inferred.substituted(self.problem) if self.inferred is not None else contextlib.nullcontext()

    def resample(self, adaptive: bool = False) -> None:
        """Fresh points; ``adaptive`` draws the interior ones with RAD from the current residual."""
        c = self.config
        self.batch = self.problem.sample(c.n_pde, c.n_ic, c.n_bc, self.generator,
                                         device=self.device, dtype=self.dtype)
        if adaptive:
            self.batch["pde"] = rad_sample(self.problem, self.model, c.n_pde, self.generator,
                                           k=c.rad_k, c=c.rad_c, candidates=c.rad_candidates,
                                           device=self.device, dtype=self.dtype)

    def draw(self, step: int) -> None:
        """Prepare the batch of ``step``: fresh points when resampling is due, once per step.

        A captured step (:mod:`lab.training.graphs`) calls this outside the graph and copies
        the points into the graph's inputs, so even ``resample_every=1`` replays; eager steps
        call it from :meth:`loss_terms`, and an L-BFGS step evaluating its loss several times
        keeps one batch.
        """
        every = self.config.resample_every
        if every and step and step % every == 0 and step != self._drawn_for:
            self.resample(adaptive=self.config.resampling == "rad")
        self._drawn_for = step

    def loss_terms(self, step):
        with self._physics():
            terms = self._loss_terms(step)
        if self.observations is not None:  # the fit to the measurements: mean square misfit
            _, X, Y, columns = self.observations
            terms["data"] = (self.model(X)[:, columns] - Y).pow(2).mean()
        return terms

    def _loss_terms(self, step):
        self.draw(step)
        mine = {k: self.group.shard(v) for k, v in self.batch.items()}
        # causal training weighs the residual per time chunk itself: skip the plain mean there
        batch = mine if self.causal is None else {k: v for k, v in mine.items() if k != "pde"}
        terms = self.problem.losses(self.model, batch, self.config.derivatives)
        for k in self.enforced:
            terms.pop(k, None)
        if self.causal is not None:
            X = mine["pde"]
            r = self.problem.residual(Fields.for_problem(self.problem, self.model, X, self.config.derivatives))
            sq = r.pow(2) if r.ndim == 1 else r.pow(2).mean(1)
            terms["pde"] = self.causal.loss(sq, X[:, self.problem.time_axis])
        return terms

    def _balance_due(self, step: int) -> bool:
        # once per step: an L-BFGS line search evaluates the loss of one step several times
        c = self.config
        return self.balance is not None and step % c.balance_every == 0 and step != self._balanced_at

    def host_step_due(self, step):
        return self._balance_due(step)  # new weights come from this step's gradients, eagerly

    def weights(self, terms, step):
        with self._physics():  # NTK balancing differentiates the residual
            return self._weights(terms, step)

    def _weights(self, terms, step):
        fixed = super().weights(terms, step)
        if self.balance is None:
            return fixed
        if self._balance_due(step):
            params = [p for p in self.model.parameters() if p.requires_grad]
            if self.config.balancing == "grad_norm":
                stats = grad_norms(terms, params)
            else:
                stats = ntk_traces(self.point_residuals(terms), params)
            self.balance.update(balanced(stats))
            self._balanced_at = step
        return {k: fixed[k] * w for k, w in self.balance.current(terms).items()}

    def point_residuals(self, terms) -> dict[str, torch.Tensor]:
        """Per-point residuals of each loss term on ``ntk_points`` random points of its batch."""
        unknown = sorted(set(terms) - {"pde", "ic", "bc", "data"})
        if unknown:
            raise ValueError(f"balancing='ntk' needs per-point residuals, which loss terms {unknown} "
                             f"of {self.problem.key} do not expose; use balancing='grad_norm'")
        out = {}
        for k in terms:
            if k == "data":  # the misfit at a random subset of the sensors
                _, X, Y, columns = self.observations
                pick = torch.randperm(len(X), generator=self.generator)[:self.config.ntk_points].to(X.device)
                out[k] = (self.model(X[pick])[:, columns] - Y[pick]).reshape(-1)
                continue
            X = self.batch[k]
            X = X[torch.randperm(len(X), generator=self.generator)[:self.config.ntk_points].to(X.device)]
            if k == "pde":
                r = self.problem.residual(Fields(self.model, X, self.problem.axes))
            else:  # the problem's own terms: Neumann, Robin, ... conditions included
                r = self.problem.point_residuals(self.model, {k: X})[k]
            out[k] = r.reshape(-1)
        return out

    def state_dict(self):
        """Besides the generator: the points in use when they are redrawn during training
        (fixed points are the seed's), the steps drawn and balanced last, and the balancing
        and causal state."""
        out = {**super().state_dict(), "drawn_for": self._drawn_for, "balanced_at": self._balanced_at}
        if self.config.resample_every:
            out["batch"] = dict(self.batch)
        if self.balance is not None:
            out["balance"] = self.balance.state_dict()
        if self.causal is not None:
            out["causal"] = self.causal.state_dict()
        return out

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._drawn_for, self._balanced_at = state["drawn_for"], state["balanced_at"]
        if "batch" in state:
            self.batch = {k: v.to(device=self.device, dtype=self.dtype) for k, v in state["batch"].items()}
        if self.balance is not None:
            self.balance.load_state_dict(state["balance"])
        if self.causal is not None:
            self.causal.load_state_dict(state["causal"])

    def extras(self):
        out = {}
        if self.causal is not None:
            out.update(self.causal.state())
        if self.balance is not None:
            out["balance_weights"] = {k: float(w) for k, w in self.balance.weights.items()}
        if self.inferred is not None:
            out["inferred"] = self.inferred.estimates()
            out["inferred_true"] = dict(self.truth)
        return out

    def scalars(self):
        return {f"inferred_{k}": v for k, v in self.inferred.estimates().items()} if self.inferred else {}

    def evaluate(self):
        pred = evaluate_on_grid(self.model, self.problem, self.grid, device=self.device, dtype=self.dtype)
        fields, rel = {"prediction": pred}, None  # a problem without a reference: no error either
        if self.reference is not None:
            fields.update(reference=self.reference, error=pred - self.reference)
            known = np.isfinite(self.reference)  # a domain that is not a box: its points only
            rel = relative_l2(pred[known], self.reference[known])
        extras = {}
        if self.nodes is not None:
            at = evaluate_at(self.model, self.nodes["points"], device=self.device, dtype=self.dtype)
            at = at.double().cpu().numpy()
            ref = self.nodes["values"]
            extras["nodes"] = {"axes": self.problem.axes, "points": self.nodes["points"],
                               "triangles": self.nodes["triangles"], "prediction": at, "reference": ref,
                               "error": at - ref}
            rel = relative_l2(at, ref)
        for source in self.extra_sources:
            extras.update(source.snapshot_extras())
        coarse = coarse_grid(self.grid, RESIDUAL_POINTS)
        with self._physics():
            r = residual_on_grid(self.problem, self.model, coarse, device=self.device, dtype=self.dtype)
        extras["residual"] = {"grid": coarse, "abs": np.abs(r)}
        if self.observations is not None:
            extras["sensors"] = {"axes": self.problem.axes, "points": self.observations[0].points}
        if self.inferred is not None:
            extras["inferred"] = {"estimate": self.inferred.estimates(), "true": dict(self.truth)}
        return self.grid, fields, rel, extras
