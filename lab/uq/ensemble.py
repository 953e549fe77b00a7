"""Deep ensembles (Lakshminarayanan, Pritzel & Blundell, NeurIPS 2017) as one vectorised model.

``M`` members of one architecture, each from its own seeded initialisation, have their
parameters stacked along a leading axis (:func:`torch.func.stack_module_state`) and are
evaluated by one :func:`torch.func.vmap` of :func:`torch.func.functional_call`: one forward and
one backward pass train all of them, instead of ``M`` sequential runs. The members never
share a parameter, so the gradient of the *sum* of the members' losses with respect to
member ``m``'s slice is the gradient of member ``m``'s own loss, and Adam (element-wise) on
the stacked tensors is Adam on each member: the ensemble equals its members trained one by
one, to round-off.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


def check_members(members: int) -> int:
    if int(members) != members or members < 2:
        raise ValueError(f"ensemble members must be an integer of at least 2 (one member has no "
                         f"spread to measure), got {members}")
    return int(members)


class Ensemble(nn.Module):
    """``members`` copies of ``build(generator)``, member ``m`` drawn from seed ``seed + m``.

    ``forward(x)`` evaluates every member on the same input: ``(N, ...) -> (M, N, ...)``;
    ``forward(x, per_member=True)`` gives member ``m`` its own ``x[m]``: ``(M, N, ...) ->
    (M, N, ...)`` (a PINN differentiates each member at its own copy of the points).
    """

    def __init__(self, build: Callable[[torch.Generator], nn.Module], members: int, seed: int = 0):
        super().__init__()
        self.members = check_members(members)
        models = [build(torch.Generator().manual_seed(seed + m)) for m in range(self.members)]
        params, buffers = stack_module_state(models)
        self.names = list(params)
        self.stacked = nn.ParameterList(nn.Parameter(params[n].detach().clone()) for n in self.names)
        self.buffer_names = list(buffers)
        for i, n in enumerate(self.buffer_names):
            self.register_buffer(f"buffer_{i}", buffers[n].clone())
        # the architecture functional_call runs with each member's tensors (its own are frozen)
        self.base = copy.deepcopy(models[0]).requires_grad_(False)

    def member_parameters(self) -> list[nn.Parameter]:
        """What an optimiser trains: the stacked ``(M, ...)`` tensors."""
        return list(self.stacked)

    def _state(self):
        params = dict(zip(self.names, self.stacked))
        buffers = {n: getattr(self, f"buffer_{i}") for i, n in enumerate(self.buffer_names)}
        return params, buffers

    def forward(self, x: torch.Tensor, per_member: bool = False) -> torch.Tensor:
        params, buffers = self._state()

        def one(p, b, xm):
            return functional_call(self.base, {**p, **b}, (xm,))

        return vmap(one, in_dims=(0, 0, 0 if per_member else None))(params, buffers, x)

    def member(self, m: int) -> nn.Module:
        """A detached stand-alone copy of member ``m``."""
        model = copy.deepcopy(self.base).requires_grad_(True)
        params, buffers = self._state()
        with torch.no_grad():
            state = {n: t[m] for n, t in {**params, **buffers}.items()}
            model.load_state_dict(state)
        return model


class Stacked(nn.Module):
    """A point-wise ensemble seen as one model on ``(M * N, d)`` points: rows ``m N .. (m+1) N``
    belong to member ``m``. Derivatives of the output with respect to the points (a PINN's
    residual, by autograd) then stay within each member, so the lab's residuals apply as they are."""

    def __init__(self, ensemble: Ensemble):
        super().__init__()
        self.ensemble = ensemble

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        M = self.ensemble.members
        out = self.ensemble(X.reshape(M, -1, *X.shape[1:]), per_member=True)
        return out.reshape(-1, *out.shape[2:])
