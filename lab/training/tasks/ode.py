"""Learning a vector field from trajectories: the task of ``family = "ode"`` models (neural ODE).

Loss (one term, ``"data"``): the mean-square error of ``window``-step rollouts of the model
from ``batch`` random states of the problem's reference trajectory
(:func:`lab.models.neural_ode.trajectory_loss`). Short windows keep the gradient of a chaotic
flow bounded (multiple shooting); the starts are drawn from the trainer's generator.

:meth:`ODETask.evaluate` rolls the model out from the reference initial state over the whole
reference time grid. Pointwise agreement of two chaotic trajectories is lost after a few
Lyapunov times ``1 / lambda_1`` whatever the model, so the extras also report what a good
model of the *attractor* must reproduce (Pathak et al. 2018; Gilpin 2021):

* ``density_hellinger`` — Hellinger distance of the invariant densities of the rollout and
  the reference (:func:`lab.diagnostics.attractors.density_distance`), every evaluation; of
  the first ``density_components`` components for larger states (a histogram of a 40-site
  Lorenz-96 would have ``32^40`` cells; its sites are statistically alike);
* ``lyapunov_learned`` / ``lyapunov_true`` — the largest Lyapunov exponent of the learned and
  the true vector field by :func:`lab.diagnostics.attractors.separation_exponent`, on the
  first evaluation and every ``lyapunov_every``-th one after it; ``lyapunov_evaluation`` says
  on which evaluation the learned value was computed. (The tangent-space method of
  :func:`lab.diagnostics.attractors.lyapunov_spectrum` gives the whole spectrum but costs a
  ``jvp`` per stage, some fifty times more on a CPU: the Diagnostics view uses it on demand.)
"""
from __future__ import annotations

import copy
import math

import torch

from lab.diagnostics.attractors import density_distance, separation_exponent
from lab.diagnostics.metrics import relative_l2
from lab.models.neural_ode import trajectory_loss
from lab.training.tasks import Task, register_task


@register_task
class ODETask(Task):
    family = "ode"
    batch_inside_step = True  # the trajectory loss draws its windows in every call

    #: reference steps per training window, and windows per batch
    window: int = 10
    batch: int = 32
    #: largest-exponent estimate: every this many evaluations, over this time span (after a
    #: transient of a fifth of it), from ``lyapunov_starts`` states of the reference
    lyapunov_every: int = 5
    lyapunov_time: float = 20.0
    lyapunov_dt: float = 0.01
    lyapunov_starts: int = 4
    #: components whose joint invariant density is compared
    density_components: int = 3

    def __init__(self, problem, model, config, **kw):
        super().__init__(problem, model, config, **kw)
        if tuple(problem.axes) != ("t",) or not hasattr(problem, "field"):
            raise ValueError(f"ODE models need an ODE problem with axes ('t',) and a vector field; "
                             f"{problem.key!r} has axes {tuple(problem.axes)}")
        self.loss = trajectory_loss(problem, window=self.window, batch=self.batch,
                                    generator=self.generator, device=self.device, dtype=self.dtype)
        self.grid = problem.grid()
        ref = problem.reference(self.grid)
        self.reference = ref.reshape(len(self.grid["t"]), len(problem.outputs))
        self.t = torch.as_tensor(self.grid["t"], dtype=self.dtype, device=self.device)
        n = len(self.grid["t"])
        idx = torch.linspace(0, n - 1, self.lyapunov_starts + 2)[1:-1].round().long()
        self.lyapunov_x0 = torch.as_tensor(self.reference)[idx]
        self._evaluations = 0
        self._lyap: dict = {}

    def loss_terms(self, step):
        return {"data": self.loss(self.model)}

    def state_dict(self):
        """The generator (it draws the windows) and how many evaluations were made (every
        ``lyapunov_every``-th estimates the exponents)."""
        return {**super().state_dict(), "evaluations": self._evaluations}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._evaluations = state["evaluations"]

    def _largest_exponent(self, field) -> float:
        n = int(round(self.lyapunov_time / self.lyapunov_dt))
        with torch.no_grad():
            lam = separation_exponent(field, self.lyapunov_x0, self.lyapunov_dt, n, n_transient=n // 5)
        lam = lam[torch.isfinite(lam)]
        return float(lam.mean()) if lam.numel() else math.nan

    def lyapunov(self) -> dict:
        """Largest exponents of the learned and the true field, in float64 on the CPU (the
        true one computed once)."""
        if "lyapunov_true" not in self._lyap:
            true = self.problem.field()
            self._lyap["lyapunov_true"] = self._largest_exponent(lambda y: true(0.0, y))
        learned = copy.deepcopy(self.model).to(device="cpu", dtype=torch.float64)
        self._lyap["lyapunov_learned"] = self._largest_exponent(learned.field)
        self._lyap["lyapunov_evaluation"] = self._evaluations
        return dict(self._lyap)

    def evaluate(self):
        y0 = torch.as_tensor(self.reference[0], dtype=self.dtype, device=self.device)
        with torch.no_grad():
            pred = self.model(y0, self.t).double().cpu().numpy()
        fields = {"prediction": pred, "reference": self.reference, "error": pred - self.reference}
        extras = {}
        finite = bool(torch.isfinite(torch.as_tensor(pred)).all())
        shown = slice(0, self.density_components)
        extras["density_hellinger"] = (density_distance(torch.as_tensor(pred[:, shown]),
                                                        torch.as_tensor(self.reference[:, shown]))
                                       if finite else math.nan)
        if self._evaluations % self.lyapunov_every == 0:
            self.lyapunov()
        extras.update(self._lyap)
        self._evaluations += 1
        rel = relative_l2(pred, self.reference) if finite else math.inf
        return self.grid, fields, rel, extras
