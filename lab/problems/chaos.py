"""Chaotic ODEs: Lorenz-63, Rössler, Lorenz-96, and any flow of the ``dysts`` catalogue.

Every system exposes a batched torch vector field ``vector_field(t, state)`` (state
``(..., d)``), used by the PINN residual, by the reference integrator and by the diagnostics
(Lyapunov exponents via its Jacobian). The reference is Dormand–Prince 5(4) at
``rtol = atol = 1e-12`` (:func:`lab.solvers.ode.dopri5`). Nearby trajectories separate like
``e^{λt}`` (λ the largest Lyapunov exponent), so any reference is only meaningful for a few
dozen Lyapunov times: the default horizons keep ``1e-12 · e^{λT}`` below about 1e-7.

``dysts`` (Gilpin 2021) is optional: nothing from it is registered at import; call
:func:`dysts_problem` to wrap one of its flows.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import param
import torch

from lab.config import ConfigError
from lab.problems import register
from lab.problems.numpy_torch import on_torch, vector_field
from lab.problems.base import Problem
from lab.solvers.ode import dopri5


class ChaoticODE(Problem):
    """Base of autonomous ODE problems ``dy/dt = F(y)``, ``y(0) = y0``, on ``t ∈ [0, T]``."""

    kind = "ode"
    axes = ("t",)
    grid_shape = (2001,)
    reference_rtol: ClassVar[float] = 1e-12
    reference_atol: ClassVar[float] = 1e-12

    t_end = param.Number(10.0, bounds=(0.1, 200.0), doc="Final time T")

    def bounds(self):
        return {"t": (0.0, self.t_end)}

    def initial_state(self) -> torch.Tensor:
        """``y0`` as a float64 vector of length ``len(outputs)``."""
        raise NotImplementedError

    def field(self):
        """``F`` as a function ``(t, state) -> (..., d)`` with the current parameter values
        bound as floats (reading ``param`` attributes costs microseconds, a lot per RK stage).
        """
        raise NotImplementedError

    def vector_field(self, t, state: torch.Tensor) -> torch.Tensor:
        """``F(state)``, batched over leading dims of ``state`` (``(..., d) -> (..., d)``)."""
        return self.field()(t, state)

    def residual(self, f):
        """``dy_i/dt − F_i(y)`` for every component: shape ``(N, d)``."""
        rhs = self.vector_field(f.coord("t"), f.u)
        return torch.stack([f.d("t", out=i) - rhs[:, i] for i in range(rhs.shape[-1])], dim=1)

    def initial_condition(self, X):
        y0 = self.initial_state().to(device=X.device, dtype=X.dtype)
        return y0.expand(X.shape[0], -1)

    def _reference(self, grid):
        t = np.asarray(grid["t"], dtype=np.float64)
        if t.size and t.min() < 0:
            raise ValueError(f"reference times must be >= 0, got min {t.min()}")
        knots, inverse = np.unique(t, return_inverse=True)
        start = knots[0] > 0
        knots = np.concatenate([[0.0], knots]) if start else knots
        with torch.no_grad():
            y = dopri5(self.field(), self.initial_state(), torch.as_tensor(knots),
                       rtol=self.reference_rtol, atol=self.reference_atol)
        return y[int(start):].numpy()[inverse]


@register
class Lorenz63(ChaoticODE):
    """``x' = σ(y − x)``, ``y' = x(ρ − z) − y``, ``z' = xy − βz`` (Lorenz 1963).

    σ = 10, ρ = 28, β = 8/3: the butterfly attractor, largest Lyapunov exponent ≈ 0.906.
    """

    key = "lorenz63"
    title = "Lorenz-63"
    latex = (r"\dot x = \sigma(y - x),\quad \dot y = x(\rho - z) - y,"
             r"\quad \dot z = xy - \beta z")
    description = ("Convection rolls truncated to three modes: the first strange attractor. "
                   "Trajectories flip unpredictably between two wings.")
    source = ("Lorenz, Deterministic nonperiodic flow, J. Atmos. Sci. 20 (1963); Wang, "
              "Sankaran & Perdikaris, Respecting causality ... (2022)")
    outputs = ("x", "y", "z")

    sigma = param.Number(10.0, bounds=(0.0, 50.0), doc="Prandtl number σ")
    rho = param.Number(28.0, bounds=(0.0, 200.0), doc="Rayleigh number ratio ρ")
    beta = param.Number(8 / 3, bounds=(0.0, 20.0), doc="Geometric factor β")
    x0 = param.Number(1.0, bounds=(-50.0, 50.0), doc="Initial x")
    y0 = param.Number(1.0, bounds=(-50.0, 50.0), doc="Initial y")
    z0 = param.Number(1.0, bounds=(-50.0, 80.0), doc="Initial z")
    t_end = param.Number(10.0, bounds=(0.1, 50.0), doc="Final time T")

    def initial_state(self):
        return torch.tensor([self.x0, self.y0, self.z0], dtype=torch.float64)

    def field(self):
        sigma, rho, beta = self.sigma, self.rho, self.beta

        def f(t, state):
            x, y, z = state.unbind(-1)
            return torch.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], dim=-1)
        return f


@register
class Rossler(ChaoticODE):
    """``x' = −y − z``, ``y' = x + a y``, ``z' = b + z (x − c)`` (Rössler 1976).

    a = b = 0.2, c = 5.7: a single-band folded attractor, largest Lyapunov exponent ≈ 0.07.
    """

    key = "rossler"
    title = "Rössler"
    latex = r"\dot x = -y - z,\quad \dot y = x + a y,\quad \dot z = b + z(x - c)"
    description = ("The simplest continuous chaos: a spiral in the x–y plane, occasionally "
                   "lifted and folded back by z.")
    source = "Rössler, An equation for continuous chaos, Phys. Lett. A 57 (1976)"
    outputs = ("x", "y", "z")

    a = param.Number(0.2, bounds=(0.0, 1.0), doc="Parameter a")
    b = param.Number(0.2, bounds=(0.0, 2.0), doc="Parameter b")
    c = param.Number(5.7, bounds=(0.0, 20.0), doc="Parameter c")
    x0 = param.Number(1.0, bounds=(-20.0, 20.0), doc="Initial x")
    y0 = param.Number(1.0, bounds=(-20.0, 20.0), doc="Initial y")
    z0 = param.Number(1.0, bounds=(-20.0, 40.0), doc="Initial z")
    t_end = param.Number(50.0, bounds=(0.1, 200.0), doc="Final time T")

    def initial_state(self):
        return torch.tensor([self.x0, self.y0, self.z0], dtype=torch.float64)

    def field(self):
        a, b, c = self.a, self.b, self.c

        def f(t, state):
            x, y, z = state.unbind(-1)
            return torch.stack([-y - z, x + a * y, b + z * (x - c)], dim=-1)
        return f


def _l96_names(n: int) -> tuple[str, ...]:
    return tuple(f"x{i + 1}" for i in range(n))


@register
class Lorenz96(ChaoticODE):
    """``x_i' = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + F``, ``i = 1..N`` cyclic (Lorenz 1996).

    N = 40, F = 8: extensive chaos, largest Lyapunov exponent ≈ 1.7. Start: ``x_i = F`` (the
    unstable fixed point) with ``x_1`` nudged by ``perturbation``. ``outputs`` (``x1..xN``)
    follows ``N``: it is set on the instance whenever ``N`` changes.
    """

    key = "lorenz96"
    title = "Lorenz-96"
    latex = (r"\dot x_i = (x_{i+1} - x_{i-2})\,x_{i-1} - x_i + F,"
             r"\quad i = 1,\dots,N\ \text{cyclic}")
    description = ("A ring of N sites with advection, damping and forcing: a toy atmosphere "
                   "whose chaos grows with N. The data-assimilation workhorse.")
    source = "Lorenz, Predictability — a problem partly solved, ECMWF Seminar (1996)"
    outputs = _l96_names(40)

    N = param.Integer(40, bounds=(4, 200), doc="Number of sites N")
    F = param.Number(8.0, bounds=(-20.0, 50.0), doc="Forcing F")
    perturbation = param.Number(0.01, bounds=(-1.0, 1.0), doc="Initial nudge of x1")
    t_end = param.Number(5.0, bounds=(0.1, 50.0), doc="Final time T")

    @param.depends("N", watch=True, on_init=True)
    def _update_outputs(self):
        self.outputs = _l96_names(self.N)

    def initial_state(self):
        y0 = torch.full((self.N,), float(self.F), dtype=torch.float64)
        y0[0] += self.perturbation
        return y0

    def field(self):
        forcing = float(self.F)

        def f(t, state):
            return ((torch.roll(state, -1, -1) - torch.roll(state, 2, -1))
                    * torch.roll(state, 1, -1) - state + forcing)
        return f


# ---- optional bridge to the dysts catalogue ----------------------------------------------
def _dysts_flows():
    try:
        import dysts.flows
    except ImportError as err:
        raise ImportError("the dysts catalogue of chaotic flows is optional; install it with "
                          "`pip install sciml-lab[chaos]`") from err
    return dysts.flows


class DystsFlow(ChaoticODE):
    """A ``dysts`` flow (Gilpin, NeurIPS Datasets & Benchmarks 2021) as a Problem.

    Uses the flow's published parameters and initial condition. Its right-hand side, written
    for numpy, is evaluated on torch tensors (:mod:`lab.problems.numpy_torch`), so it is
    differentiable: PINN residuals, Jacobians and Lyapunov exponents work as for the lab's own
    systems. A flow whose right-hand side cannot run on tensors is refused when the problem is
    made, with the reason.
    """

    key = "dysts"
    title = "dysts flow"
    source = "Gilpin, Chaos as an interpretable benchmark for forecasting and data-driven modelling (2021)"

    system = param.String("Lorenz", doc="Name of a continuous flow in dysts.flows")

    def __init__(self, **params):
        super().__init__(**params)
        flows = _dysts_flows()
        flow_cls = getattr(flows, self.system, None)
        from dysts.base import DynSys

        if not (isinstance(flow_cls, type) and issubclass(flow_cls, DynSys)
                and flow_cls.__module__ == flows.__name__):  # not a base class it imports
            raise ConfigError("system", f"System: {self.system!r} is not a continuous flow of dysts.flows")
        self._cls = flow_cls
        self._flow = flow_cls()
        self.outputs = tuple(f"x{i + 1}" for i in range(self.initial_state().numel()))
        self.title = f"{self.system} (dysts)"
        self.description = (flow_cls.__doc__ or "").strip().split("\n")[0]
        self._fields: dict = {}
        y0 = self.initial_state()
        try:  # one state and a batch of two, with a gradient: what training and diagnostics do
            f = self.field()
            y = torch.stack([y0, y0]).requires_grad_(True)
            out = f(0.0, y)
            if out.requires_grad:  # a constant field (e.g. a torus) has no graph
                torch.autograd.grad(out.sum(), y, allow_unused=True)
            single = f(0.0, y0)
        except Exception as err:  # why is part of the message; nothing is swallowed
            raise ConfigError("system", f"System: the right-hand side of {self.system!r} cannot be evaluated "
                                        f"on torch tensors ({type(err).__name__}: {err}); pick another flow") from err
        if out.shape != y.shape or single.shape != y0.shape or not torch.isfinite(single).all():
            raise ConfigError("system", f"System: {self.system!r} gives a right-hand side of shape "
                                        f"{tuple(single.shape)} for a state of {y0.numel()} values at its "
                                        "initial condition (or a non-finite one); pick another flow")

    def initial_state(self):
        ic = np.asarray(self._flow.ic, dtype=np.float64)
        return torch.as_tensor(ic[0] if ic.ndim > 1 else ic)

    def field(self, dtype: torch.dtype = torch.float64, device=None):
        """The flow's right-hand side on tensors of ``dtype`` on ``device`` (one rebuilt
        flow per dtype and device: its arrays of parameters live there)."""
        key = (dtype, str(torch.device(device or "cpu")))
        if key not in self._fields:
            flow = on_torch(self._cls, dtype, torch.device(key[1]))()
            values = {k: torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype, device=key[1])
                      if np.ndim(v) else float(v) for k, v in flow.params.items()}
            for k, v in values.items():
                setattr(flow, k, v)
            if any("rhs" in vars(c) for c in self._cls.__mro__ if c.__module__ == self._cls.__module__):
                rhs = flow.rhs
            else:  # dysts' own rhs transposes a 1-D array; call the static form with the parameters
                params = [values[k] for k in sorted(values)]
                rhs = lambda x, t: flow._rhs(*x.unbind(0), t, *params)  # noqa: E731
            self._fields[key] = vector_field(rhs)
        return self._fields[key]

    def vector_field(self, t, state):
        return self.field(state.dtype, state.device)(t, state)


def dysts_problem(name: str, **params) -> DystsFlow:
    """Wrap the ``dysts`` flow ``name`` (e.g. ``"Lorenz"``, ``"Chua"``) as a chaotic-ODE Problem.

    Raises ``ImportError`` naming ``pip install sciml-lab[chaos]`` when dysts is missing and
    ``ValueError`` for an unknown flow.
    """
    return DystsFlow(system=name, **params)
