"""Lagrangian PINNs: residuals on the moving grid, the error on the fixed one.

The task of ``family = "lagrangian"`` networks (:class:`lab.models.lagrangian.LagrangianNet`,
outputs ``(u, x)`` at inputs ``(ξ, t)``) for ``u_t + a(u) u_x = ν u_xx`` (Mojgani, Balajewicz
& Hassanzadeh, CMAME 404, 2023). Loss terms, each a mean square over its points:

    pde    ∂u/∂t − ν u_xx              the state along the characteristics,
    path   ∂x/∂t − a(u)                the characteristics themselves,
    ic     u(ξ, t0) − u0(ξ)            (x(ξ, t0) = ξ holds by construction),
    bc     u − g on the boundary labels (a non-periodic axis: its end characteristics then
           stay put, as ``a(g) = 0`` there for Burgers).

Space derivatives on the moving grid follow the chain rule, ``u_x = u_ξ / x_ξ`` and
``u_xx = (u_ξξ − u_x x_ξξ) / x_ξ²``, from autograd through :class:`lab.autodiff.Fields`
(its ``"x"`` column holds ``ξ``). The authors minimise L2 norms; here, as for every PINN in
the lab, mean squares. Evaluation maps the prediction back to the problem's fixed grid: at
each reference time the network is read at ``LABELS_PER_POINT`` labels per grid point and
``u`` interpolated from the moving points ``x(ξ, t)`` (wrapped onto the period on a periodic
axis) to the grid (:func:`to_eulerian`), so the relative L2 is against the same reference,
on the same grid, as every other method's.
"""
from __future__ import annotations

import numpy as np
import torch

from lab.autodiff import Fields
from lab.diagnostics.metrics import relative_l2
from lab.models.lagrangian import check_lagrangian
from lab.training.tasks import Task, register_task
from lab.training.tasks.pinn import evaluate_at

#: labels ξ per point of the fixed grid at which the moving grid is read for evaluation: linear
#: interpolation from spacing h errs by at most h² max|u_xx| / 8
LABELS_PER_POINT = 4
#: characteristics drawn in a snapshot (``extras["characteristics"]``)
SHOWN_PATHS = 24


def loss_names(problem) -> tuple[str, ...]:
    """The terms a Lagrangian PINN minimises on ``problem``."""
    return ("pde", "path", "ic") + (("bc",) if problem.boundary_axes() else ())


def to_eulerian(x: np.ndarray, u: np.ndarray, grid_x: np.ndarray, bounds: tuple[float, float],
                periodic: bool) -> np.ndarray:
    """``u`` at the fixed points ``grid_x`` from its values at the moving points ``x`` (one time).

    Linear interpolation between the moving points sorted by position; on a periodic axis the
    points are first wrapped onto ``[lo, hi)`` and the interpolation is periodic, so a grid
    point between the last and the first moving point reads both. Characteristics that have
    crossed (``x`` no longer increasing in ``ξ``) are only sorted, not mended: with viscosity
    they do not cross."""
    x, u, grid_x = (np.asarray(a, dtype=np.float64) for a in (x, u, grid_x))
    if x.shape != u.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x and u must be matching 1-d arrays of at least 2 points, got shapes "
                         f"{x.shape} and {u.shape}")
    lo, hi = bounds
    if not hi > lo:
        raise ValueError(f"bounds must be increasing, got {bounds}")
    if periodic:
        x = lo + np.mod(x - lo, hi - lo)
    order = np.argsort(x, kind="stable")
    return np.interp(grid_x, x[order], u[order], period=(hi - lo) if periodic else None)


def drawn_lines(t: np.ndarray, x: np.ndarray, bounds: tuple[float, float], periodic: bool) -> list[np.ndarray]:
    """Each characteristic ``x[i]`` over the times ``t`` as ``(n, 2)`` arrays of ``(t, x)``; on a
    periodic axis wrapped onto ``[lo, hi)`` and cut where it leaves one side and enters the other."""
    lo, hi = bounds
    lines = []
    for row in x:
        if periodic:
            row = lo + np.mod(row - lo, hi - lo)
            cuts = np.flatnonzero(np.abs(np.diff(row)) > (hi - lo) / 2) + 1
        else:
            cuts = []
        lines += [np.stack([a, b], 1) for a, b in zip(np.split(t, cuts), np.split(row, cuts)) if len(a) > 1]
    return lines


@register_task
class LagrangianTask(Task):
    family = "lagrangian"

    def __init__(self, problem, model, config, **kw):
        super().__init__(problem, model, config, **kw)
        check_lagrangian(problem)
        self.grid = problem.grid()
        self.reference = problem.reference(self.grid)
        lo, hi = problem.bounds()["x"]
        n = LABELS_PER_POINT * len(self.grid["x"])
        self.periodic = "x" in problem.periodic
        self.labels = lo + (hi - lo) * np.arange(n) / n if self.periodic else np.linspace(lo, hi, n)
        self.resample()
        self._drawn_for: int | None = None

    def resample(self) -> None:
        c = self.config
        self.batch = self.problem.sample(c.n_pde, c.n_ic, c.n_bc, self.generator,
                                         device=self.device, dtype=self.dtype)

    def draw(self, step: int) -> None:
        """Fresh uniform points every ``resample_every`` steps, once per step (as the PINN task)."""
        every = self.config.resample_every
        if every and step and step % every == 0 and step != self._drawn_for:
            self.resample()
        self._drawn_for = step

    def residuals(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(∂u/∂t − ν u_xx, ∂x/∂t − a(u))`` at the labels and times ``X``."""
        f = Fields(self.model, X, ("x", "t"))
        state = f.d("t", out=0)
        nu = float(self.problem.diffusivity)
        if nu:
            x_xi = f.d("x", out=1)
            u_x = f.d("x", out=0) / x_xi
            state = state - nu * (f.d("x", "x", out=0) - u_x * f.d("x", "x", out=1)) / x_xi ** 2
        return state, f.d("t", out=1) - self.problem.characteristic_speed(f(0))

    def loss_terms(self, step):
        self.draw(step)
        b = self.batch
        state, path = self.residuals(b["pde"])
        terms = {"pde": state.pow(2).mean(), "path": path.pow(2).mean(),
                 "ic": (self.model(b["ic"])[:, :1] - self.problem.initial_condition(b["ic"])).pow(2).mean()}
        if "bc" in b:
            terms["bc"] = (self.model(b["bc"])[:, :1] - self.problem.boundary_value(b["bc"])).pow(2).mean()
        return terms

    def state_dict(self):
        out = {**super().state_dict(), "drawn_for": self._drawn_for}
        if self.config.resample_every:
            out["batch"] = dict(self.batch)
        return out

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._drawn_for = state["drawn_for"]
        if "batch" in state:
            self.batch = {k: v.to(device=self.device, dtype=self.dtype) for k, v in state["batch"].items()}

    def moving_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, u)`` at every label and reference time, each ``(labels, times)``."""
        t = self.grid["t"]
        xi, tt = np.meshgrid(self.labels, t, indexing="ij")
        out = evaluate_at(self.model, np.stack([xi.ravel(), tt.ravel()], 1), device=self.device, dtype=self.dtype)
        out = out.double().cpu().numpy().reshape(len(self.labels), len(t), 2)
        return out[..., 1], out[..., 0]

    def evaluate(self):
        x, u = self.moving_grid()
        bounds = self.problem.bounds()["x"]
        pred = np.stack([to_eulerian(x[:, j], u[:, j], self.grid["x"], bounds, self.periodic)
                         for j in range(x.shape[1])], axis=1)
        fields, rel = {"prediction": pred}, None
        if self.reference is not None:
            fields.update(reference=self.reference, error=pred - self.reference)
            rel = relative_l2(pred, self.reference)
        shown = np.linspace(0, len(self.labels) - 1, SHOWN_PATHS).round().astype(int)
        t = self.grid["t"]
        extras = {"characteristics": {"t": t, "xi": self.labels[shown], "x": x[shown],
                                      "lines": drawn_lines(t, x[shown], bounds, self.periodic)}}
        return self.grid, fields, rel, extras
