"""Hard constraints: output transforms that satisfy the initial / Dirichlet conditions exactly.

With a network ``N(x, t)``, ``τ = (t − t0)/(T − t0)``, boundary data ``g`` (the problem's
``boundary_value``, a smooth function on the whole box, hence its own extension inside) and
the box distance ``D(x) = Π_a (x_a − lo_a)(hi_a − x_a) / ((hi_a − lo_a)/2)²`` over the
non-periodic spatial axes (zero exactly on their faces):

* ``"ic"``:    ``u = u0(x) + τ N``
* ``"bc"``:    ``u = g(x, t) + D(x) N``
* ``"ic+bc"``: ``u = u0(x) + g(x, t) − g(x, t0) + τ D(x) N``

(Lagaris, Likas & Fotiadis 1998; Sukumar & Srivastava 2022 for distance functions.) A domain
that is not a box supplies its own ``D`` through the problem's ``hard_distance()`` (a smooth
distance to its Dirichlet boundary, :mod:`lab.problems.geometric`). A problem whose Dirichlet
data cannot take the form ``g + D N`` supplies the whole transform instead:
``hard_output(X, net, params)``, with ``params`` the trainable scalars it declares in
``hard_parameters()`` (a channel's stream function and its unknown value on an obstacle,
:mod:`lab.problems.channel_flow`). Where the constraint imposes only some boundary parts or
outputs, the problem's ``hard_covers_boundary()`` is false and the boundary term stays in
the loss for the rest. The combined form needs ``u0 = g(·, t0)`` on the boundary, which is checked at construction.
The constrained terms drop out of the loss (``enforced``); a condition on ``u_t`` (wave-type
problems) stays a soft loss.
"""
from __future__ import annotations

import torch
from torch import nn

HARD_MODES = ("none", "ic", "bc", "ic+bc")


class HardConstraint(nn.Module):
    """Wrap ``net`` so its output meets the conditions named by ``mode`` to round-off."""

    def __init__(self, net: nn.Module, problem, mode: str):
        super().__init__()
        if mode not in HARD_MODES[1:]:
            raise ValueError(f"hard must be one of {list(HARD_MODES)}, got {mode!r}")
        self.net, self.problem = net, problem
        self.mode = tuple(mode.split("+"))
        #: the loss terms the output meets exactly, which the training drops
        self.enforced = self.mode
        self.custom = None
        b = problem.bounds()
        axes = list(problem.axes)
        if "ic" in self.mode:
            if problem.time_axis is None:
                raise ValueError(f"hard={mode!r} needs a time axis; {problem.key} has axes {problem.axes}")
            self.it = problem.time_axis
            self.t0, t1 = b["t"]
            self.duration = t1 - self.t0
            with torch.device("cpu"):  # also when the model is built on "meta" (lab.training.preflight)
                given = problem.initial_condition(torch.zeros(1, len(axes), dtype=torch.float64)).shape[-1]
            if given != len(problem.outputs):
                raise ValueError(f"hard={mode!r} needs an initial value of every output; "
                                 f"{problem.title or problem.key} gives {given} of its {len(problem.outputs)} ({', '.join(problem.outputs)}). "
                                 "Use 'bc' or 'none'.")
        if "bc" in self.mode:
            if not problem.boundary_axes():
                raise ValueError(f"hard={mode!r} needs a non-periodic spatial axis; {problem.key} has none")
            self.box = [(axes.index(a), *b[a]) for a in problem.boundary_axes()]
            self.custom = getattr(problem, "hard_output", None)
            if self.custom is not None:
                if "ic" in self.mode:
                    raise ValueError(f"{problem.title or problem.key} takes hard='bc' only, got {mode!r}")
                self.params = nn.ParameterDict({k: nn.Parameter(torch.tensor(v))
                                                for k, v in problem.hard_parameters().items()})
            own = None if self.custom is not None else getattr(problem, "hard_distance", None)
            self.shaped = own() if own is not None else None  # refuses conditions it cannot impose
            if not getattr(problem, "hard_covers_boundary", lambda: True)():
                self.enforced = tuple(k for k in self.mode if k != "bc")
        if self.mode == ("ic", "bc"):
            self._check_compatible()

    def distance(self, X):
        if self.shaped is not None:
            return self.shaped(X)
        d = torch.ones_like(X[:, :1])
        for i, lo, hi in self.box:
            d = d * (X[:, i:i + 1] - lo) * (hi - X[:, i:i + 1]) / ((hi - lo) / 2) ** 2
        return d

    def at_t0(self, X):
        X0 = X.clone()
        X0[:, self.it] = self.t0
        return X0

    def forward(self, X):
        if self.custom is not None:  # the problem's own transform evaluates the network itself
            return self.custom(X, self.net, self.params)
        n = self.net(X)
        p = self.problem
        if self.mode == ("ic",):
            return p.initial_condition(X) + (X[:, self.it:self.it + 1] - self.t0) / self.duration * n
        if self.mode == ("bc",):
            return p.boundary_value(X) + self.distance(X) * n
        tau = (X[:, self.it:self.it + 1] - self.t0) / self.duration
        return (p.initial_condition(X) + p.boundary_value(X) - p.boundary_value(self.at_t0(X))
                + tau * self.distance(X) * n)

    def _check_compatible(self, n: int = 64) -> None:
        """``u0 = g(·, t0)`` on the boundary faces, else ``ic+bc`` cannot hold both."""
        with torch.device("cpu"):  # also when the model is built on "meta" (lab.training.preflight)
            gen = torch.Generator().manual_seed(0)
            X = self.at_t0(self.problem.sample_boundary(n, gen, dtype=torch.float64))
            gap = (self.problem.initial_condition(X) - self.problem.boundary_value(X)).abs().max()
            scale = 1.0 + self.problem.initial_condition(X).abs().max()
        if gap > 1e-8 * scale:
            raise ValueError(f"hard='ic+bc' needs the initial condition to match the boundary data "
                             f"at t0; {self.problem.key} differs by {float(gap):.3g}. Use 'ic' or 'bc'.")


def hard_constrained(net: nn.Module, problem, mode: str) -> nn.Module:
    """``net`` itself for ``mode == "none"``, else the :class:`HardConstraint` wrapper."""
    return net if mode == "none" else HardConstraint(net, problem, mode)
