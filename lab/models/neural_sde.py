"""Stable neural SDEs (Oh, Lim & Kim, "Stable neural stochastic differential equations in
analysing irregular time series data", ICLR 2024), integrated with ``torchsde``.

A latent state ``z`` (``z(0) = E y(0)``, read out as ``y = D z``, ``E``/``D`` linear) follows an
Itô SDE with diagonal noise, ``dz = gamma dt + sigma dW``, in one of the paper's three classes:

* ``langevin`` (Langevin-type, LSDE): ``dz = gamma(z) dt + sigma(t) dW`` — an autonomous drift and
  an additive noise that depends on time only;
* ``linear_noise`` (LNSDE): ``dz = gamma(t, z) dt + sigma(t) z dW`` — noise proportional to the state;
* ``geometric`` (GSDE): ``dz = gamma(t, z) z dt + sigma(t) z dW`` — both proportional to the state,
  so ``dz / z`` is a Langevin-type equation and a component at 0 stays there.

``gamma`` is an MLP on ``z`` (and ``sin t``, ``cos t`` where it depends on time), ``sigma(t)`` an MLP
on ``(sin t, cos t)`` scaled by ``sigmoid(theta)``; both are squashed by ``tanh`` as in the
authors' code (``|drift|, |diffusion| < 1`` component-wise, with ``z`` replaced by ``tanh z``
where it multiplies the drift). Bounded, Lipschitz coefficients give a unique strong solution;
the paper's stability results (robustness to a shifted input distribution) rest on these
forms. The paper's drift also reads a control path interpolating the observations (as a
neural CDE does); a forecast has no future observations, so here the drift reads the state only.
``torchsde`` is optional: it is imported when a path is drawn.
"""
from __future__ import annotations

import torch
from torch import nn

from lab.nn import linear, mlp

SDE_CLASSES = ("langevin", "linear_noise", "geometric")


def _torchsde():
    try:
        import torchsde
    except ImportError as err:  # pragma: no cover - the lab runs without the optional extra
        raise ImportError("neural SDEs need torchsde: pip install 'sciml-lab[sde]'") from err
    return torchsde


class StableSDE(nn.Module):
    """One of :data:`SDE_CLASSES` on a ``latent``-dimensional state; ``forward(y0, t)`` is the mean
    of ``samples`` paths, :meth:`paths` the paths themselves."""

    sde_type = "ito"
    noise_type = "diagonal"

    def __init__(self, kind: str, state_dim: int, *, latent: int = 16, width: int = 64, depth: int = 2,
                 generator: torch.Generator | None = None):
        super().__init__()
        if kind not in SDE_CLASSES:
            raise ValueError(f"SDE class must be one of {list(SDE_CLASSES)}, got {kind!r}")
        self.kind = kind
        self.encode = linear(state_dim, latent, generator)
        self.decode = linear(latent, state_dim, generator)
        time_inputs = 0 if kind == "langevin" else 2
        self.drift_net = mlp([latent + time_inputs] + [width] * depth + [latent], "tanh", generator)
        self.noise_net = mlp([2, width, latent], "tanh", generator)
        self.theta = nn.Parameter(torch.zeros(()))  # sigmoid(theta) scales the noise, in (0, 1)

    @staticmethod
    def _time(t, z: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=z.dtype, device=z.device).expand(z.shape[:-1])[..., None]
        return torch.cat([torch.sin(t), torch.cos(t)], dim=-1)

    def f(self, t, z: torch.Tensor) -> torch.Tensor:
        """Drift ``gamma``, ``(batch, latent)``."""
        h = self.drift_net(z if self.kind == "langevin" else torch.cat([z, self._time(t, z)], dim=-1))
        if self.kind == "geometric":
            h = h * torch.tanh(z)
        return torch.tanh(h)

    def g(self, t, z: torch.Tensor) -> torch.Tensor:
        """Diagonal diffusion ``sigma``, ``(batch, latent)``."""
        s = torch.sigmoid(self.theta) * self.noise_net(self._time(t, z))
        return torch.tanh(s if self.kind == "langevin" else s * z)

    def paths(self, y0: torch.Tensor, t: torch.Tensor, samples: int = 1, *, dt: float | None = None,
              seed: int = 0, method: str = "euler") -> torch.Tensor:
        """``samples`` paths from each initial state ``y0`` ``(batch, d)`` at the times ``t``:
        ``(len(t), samples, batch, d)``. Euler–Maruyama steps of ``dt`` (default: the smallest
        interval of ``t``) on one Brownian motion per ``seed``."""
        torchsde = _torchsde()
        if samples < 1:
            raise ValueError(f"sample paths must be at least 1, got {samples}")
        t = torch.as_tensor(t, dtype=y0.dtype, device=y0.device)
        z0 = self.encode(y0).repeat(samples, 1)
        step = float(dt if dt is not None else (t[1:] - t[:-1]).min())
        bm = torchsde.BrownianInterval(t0=float(t[0]), t1=float(t[-1]), size=z0.shape, dtype=z0.dtype,
                                       device=z0.device, entropy=seed)
        z = torchsde.sdeint(self, z0, t, bm=bm, method=method, dt=step)
        return self.decode(z).reshape(len(t), samples, *y0.shape)

    def forward(self, y0: torch.Tensor, t: torch.Tensor, samples: int = 8, seed: int = 0) -> torch.Tensor:
        return self.paths(y0, t, samples, seed=seed).mean(1)
