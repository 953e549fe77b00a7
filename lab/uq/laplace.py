"""A last-layer Laplace approximation (MacKay 1992; Daxberger et al., "Laplace Redux", 2021).

All weights but the output layer's are held at their trained values; the output layer's
``w = (W, b)`` (one output: ``u = W phi + b``, ``phi`` the hidden features) gets the Gaussian
posterior ``N(w*, Sigma)``, ``Sigma = H^{-1}``, with the generalised Gauss–Newton precision

    H = sum_t J_t^T J_t / sigma_t^2 + tau I,        J_t = d r_t / d w,

over every loss term ``t`` (a PINN: the PDE residual, initial and boundary terms; an operator:
the data misfit), ``sigma_t^2`` the term's noise variance (default: its mean-square residual at
``w*``, a maximum-likelihood plug-in) and ``tau`` the prior precision. For a data term the
output is linear in ``w``, so ``J = [phi, 1]`` and ``H`` is that term's exact Hessian: on a
linear-regression problem this is the Bayesian linear-regression posterior. For a PDE residual
nonlinear in ``u`` (Burgers' ``u u_x``) it drops the residual's second derivative, the
Gauss–Newton approximation. The predictive variance of the output at ``x`` is
``[phi(x), 1] Sigma [phi(x), 1]^T`` (the spread of the function, not of observation noise).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lab.diagnostics.ntk import jacobian
from lab.uq.dropout import weight_layers


class LastLayerLaplace:
    """Posterior over the output layer of ``model`` (found as its last weight layer)."""

    def __init__(self, model: nn.Module, prior_precision: float = 1.0):
        if not prior_precision > 0:
            raise ValueError(f"prior precision must be > 0, got {prior_precision}")
        layers = weight_layers(model)
        if not layers or getattr(layers[-1], "bias", None) is None or layers[-1].weight.shape[0] != 1:
            raise ValueError("the last-layer Laplace needs a model whose last weight layer has a bias "
                             "and one output")
        self.model, self.layer, self.tau = model, layers[-1], float(prior_precision)
        self.params = [self.layer.weight, self.layer.bias]
        self.precision: torch.Tensor | None = None
        self.covariance: torch.Tensor | None = None
        self.noise: dict[str, float] = {}

    # ---- Jacobians ------------------------------------------------------------------------
    def features(self, run: Callable[[], torch.Tensor]) -> torch.Tensor:
        """``[phi, 1]`` at every output of ``run()`` (a call of the model), row per output.

        Refused when the model transforms the layer's output before returning it (an output
        normaliser, a hard constraint): the rows would not be the output's Jacobian."""
        seen = {}

        def hook(module, args, out):
            seen["phi"], seen["out"] = args[0].detach(), out.detach()

        handle = self.layer.register_forward_hook(hook)
        try:
            with torch.no_grad():
                out = run()
        finally:
            handle.remove()
        phi, layer_out = seen["phi"], seen["out"]
        if not torch.equal(out.reshape(-1), layer_out.reshape(-1)):
            raise ValueError("the model transforms its last layer's output (an output normaliser or a "
                             "hard constraint): the last-layer Laplace needs the layer's output as the model's")
        c = self.layer.weight.shape[1]
        # nn.Linear keeps features last, a point-wise channel map first (channel-major)
        phi = phi.reshape(-1, c) if isinstance(self.layer, nn.Linear) else phi.reshape(c, -1).T
        return torch.cat([phi, torch.ones_like(phi[:, :1])], dim=1)

    def residual_jacobian(self, residual: torch.Tensor) -> torch.Tensor:
        """``d r / d (W, b)`` of a residual computed by the model (with its graph), row per point."""
        return jacobian(residual, self.params)

    # ---- posterior ------------------------------------------------------------------------
    def fit(self, terms: dict[str, tuple[torch.Tensor, torch.Tensor]],
            noise: dict[str, float] | None = None) -> "LastLayerLaplace":
        """``terms``: ``{name: (J, r)}``, the Jacobian rows and the residuals at ``w*``;
        ``noise``: ``sigma_t^2`` per term (default: mean ``r^2``)."""
        if not terms:
            raise ValueError("the Laplace approximation needs at least one loss term")
        noise = dict(noise or {})
        n = sum(p.numel() for p in self.params)
        H = self.tau * torch.eye(n, dtype=torch.float64)
        for name, (J, r) in terms.items():
            J, r = J.detach().double().cpu(), r.detach().double().cpu().reshape(-1)
            var = noise.setdefault(name, max(float(r.square().mean()), 1e-12))
            if not var > 0:
                raise ValueError(f"noise variance of term {name!r} must be > 0, got {var}")
            H += J.T @ J / var
        self.precision, self.noise = H, noise
        self.covariance = torch.cholesky_inverse(torch.linalg.cholesky(H))
        self._terms = {k: (J.detach().double().cpu(), r.detach().double().cpu().reshape(-1))
                       for k, (J, r) in terms.items()}
        return self

    def posterior_mean(self) -> torch.Tensor:
        """``w* - Sigma g``, ``g`` the gradient of the regularised loss at ``w*``: one Newton step,
        the exact posterior mean where the residuals are linear in ``w`` (then ``w*`` need not
        be the optimum)."""
        w = torch.cat([p.detach().reshape(-1) for p in self.params]).double().cpu()
        g = self.tau * w
        for name, (J, r) in self._terms.items():
            g = g + J.T @ r / self.noise[name]
        return w - self.covariance @ g

    def variance(self, rows: torch.Tensor) -> torch.Tensor:
        """Predictive variance ``j Sigma j^T`` of each row ``j`` of ``rows``."""
        if self.covariance is None:
            raise ValueError("fit the Laplace approximation first")
        rows = rows.double().cpu()
        return ((rows @ self.covariance) * rows).sum(1)
