"""Uncertainty of trained models and stochastic forecasts: how far a prediction can be trusted.

* :mod:`lab.uq.ensemble` — deep ensembles trained as one vectorised model (``torch.func``);
* :mod:`lab.uq.dropout` — Monte Carlo dropout;
* :mod:`lab.uq.laplace` — a last-layer Laplace approximation (Gauss–Newton on every loss term);
* :mod:`lab.uq.methods` — the three on a PINN or an operator problem, scored by
  :mod:`lab.diagnostics.calibration`;
* :mod:`lab.uq.sde` — stable neural SDEs on irregularly sampled chaotic trajectories, beside
  the neural ODE.
"""
