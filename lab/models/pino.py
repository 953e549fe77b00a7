"""PINO: physics-informed neural operator losses (Li, Zheng, Kovachki et al., 2021, arXiv:2111.03794).

A neural operator's output ``u = G(a)`` on a grid is put into the PDE with grid derivatives:
spectral on periodic axes, finite differences on bounded ones. The residuals *reuse the
solvers' own equations* — the Burgers and Navier–Stokes right-hand sides come from
:mod:`lab.solvers.etdrk4` / :mod:`lab.solvers.navier_stokes` (which take their wavenumbers
from :mod:`lab.solvers.spectral`), and the Darcy residual is the conservative 5-point scheme
that :func:`lab.solvers.elliptic.darcy_solve` solves (:func:`~lab.solvers.elliptic.darcy_operator`)
— so the solver's own solution has (nearly) zero residual and a wrong field does not. Time
derivatives between frames ``j`` and ``j+1`` use the implicit midpoint rule,

    r_{j+1/2} = (u_{j+1} - u_j) / dt - RHS((u_j + u_{j+1}) / 2),

second order in ``dt`` (``tests/test_operator_training.py`` measures the order). Supervised,
physics-only and mixed training differ only in the weights given to the ``data``, ``pde``,
``ic`` / ``bc`` terms (``TrainConfig.loss_weights``).

:func:`les_pino_demo` is the 3D data-free variant in the spirit of LESnets (Xu et al. 2024,
arXiv:2411.04502): an FNO advances a coarse velocity field by one step and is trained on the
filtered Navier–Stokes residual with a Smagorinsky closure only; it is then compared with the
filtered DNS.
"""
from __future__ import annotations

import math

import torch

from lab.solvers import elliptic, etdrk4, navier_stokes


def _midpoint(frames: torch.Tensor, dt: float, time_dim: int):
    a = frames.narrow(time_dim, 0, frames.shape[time_dim] - 1)
    b = frames.narrow(time_dim, 1, frames.shape[time_dim] - 1)
    return (b - a) / dt, 0.5 * (a + b)


def burgers_residual(u: torch.Tensor, *, nu: float, dt: float, length: float = 1.0) -> torch.Tensor:
    """Midpoint residual of ``u_t + (u^2/2)_x = nu u_xx`` for frames ``u`` of shape ``(..., x, t)``.

    Returns ``(..., t - 1, x)``; ``x`` periodic on ``[0, length)``.
    """
    frames = u.transpose(-1, -2)
    eq = etdrk4.Burgers(frames.shape[-1], length, viscosity=nu, device=u.device, dtype=u.dtype)
    du, mid = _midpoint(frames, dt, -2)
    return du - eq.to_physical(eq.time_derivative(eq.to_spectral(mid)))


def vorticity_residual(w: torch.Tensor, *, nu: float, dt: float, forcing: torch.Tensor | None,
                       length: float = 1.0) -> torch.Tensor:
    """Midpoint residual of ``w_t + u.grad w = nu lap w + f`` for frames ``(..., t, x, y)``."""
    ns = navier_stokes.NavierStokes2D(w.shape[-1], nu=nu, length=length, forcing=forcing,
                                      device=w.device, dtype=w.dtype)
    dw, mid = _midpoint(w, dt, -3)
    mid_hat = torch.fft.rfftn(mid, dim=(-2, -1))
    rhs = ns.nonlinear(mid_hat * ns.mask) + ns.linear_symbol() * mid_hat
    return dw - ns.to_physical(rhs)


def les_residual(u: torch.Tensor, *, nu: float, cs: float, dt: float,
                 length: float = 2 * math.pi) -> torch.Tensor:
    """Midpoint residual of the Smagorinsky-LES momentum equation for frames ``(..., t, 3, n, n, n)``.

    ``u_t = P[u x w + div(2 nu_t S)] + nu lap u`` with ``nu_t = (C_s Delta)^2 |S|`` (the right-hand
    side of :class:`lab.solvers.navier_stokes.NavierStokes3D`); the divergence-free part of
    ``u_t`` is compared, and ``div u`` is returned as a separate constraint by
    :func:`divergence`.
    """
    ns = navier_stokes.NavierStokes3D(u.shape[-1], nu=nu, cs=cs, length=length, device=u.device,
                                      dtype=u.dtype)
    du, mid = _midpoint(u, dt, -5)
    mid_hat = torch.fft.rfftn(mid, dim=ns.dims)
    rhs = ns.nonlinear(mid_hat * ns.mask) + ns.linear_symbol() * mid_hat
    return ns.to_physical(ns.project(torch.fft.rfftn(du, dim=ns.dims)) - rhs)


def divergence(u: torch.Tensor, length: float = 2 * math.pi) -> torch.Tensor:
    """Spectral ``div u`` of ``(..., 3, n, n, n)`` velocity fields."""
    ns = navier_stokes.NavierStokes3D(u.shape[-1], nu=0.0, length=length, device=u.device, dtype=u.dtype)
    return ns.divergence(torch.fft.rfftn(u, dim=ns.dims))


def darcy_residual(a: torch.Tensor, u: torch.Tensor, f: float = 1.0) -> torch.Tensor:
    """``-div(a grad u) - f`` at the interior nodes: the scheme of :func:`lab.solvers.elliptic.darcy_operator`.

    ``a`` and ``u`` are ``(..., n, n)`` including boundary nodes; returns ``(..., n-2, n-2)``.
    """
    return elliptic.darcy_operator(a, u) - f


def boundary_values(u: torch.Tensor) -> torch.Tensor:
    """The boundary ring of ``(..., n, n)`` fields, flattened: Dirichlet data to drive to zero."""
    return torch.cat([u[..., 0, :], u[..., -1, :], u[..., 1:-1, 0], u[..., 1:-1, -1]], dim=-1)


def les_pino_demo(*, n_dns: int = 32, n_les: int = 16, nu: float = 0.01, cs: float = 0.17,
                  dt: float = 0.1, rollout: int = 4, n_train: int = 4, steps: int = 200,
                  modes: int = 4, width: int = 16, lr: float = 3e-3, seed: int = 0,
                  device=None, dtype=torch.float32) -> dict:
    """Train a 3D FNO on the LES residual alone and compare its rollout with filtered DNS.

    1. DNS of decaying isotropic turbulence on ``n_dns^3`` (:class:`~lab.data.datasets.Turbulence3DData`),
       spectrally truncated to ``n_les^3`` — the *filtered DNS*, used only for the initial
       fields and for the comparison.
    2. An FNO ``u_j -> u_{j+1}`` (time step ``dt``) is trained on
       ``|r_LES|^2 + |div u|^2`` along its own ``rollout``-step autoregressive trajectories
       from the ``n_train`` filtered initial fields: no DNS data enters the loss.
    3. From a held-out initial field the model, a classical Smagorinsky LES
       (:class:`~lab.solvers.navier_stokes.NavierStokes3D` with ``cs``) and persistence
       (``u_j = u_0``) are rolled out and compared with the filtered DNS.

    Returns the residual before/after training, the per-step relative L2 errors of the three
    predictions on the held-out field (and of the model and persistence on a training field,
    where only the residual was seen) and their energy spectra at the last step.
    """
    from lab.data.datasets import Turbulence3DData
    from lab.diagnostics.spectra import energy_spectrum
    from lab.models.fno import FNO

    device = torch.device(device or "cpu")
    data = Turbulence3DData(n_samples=n_train + 1, seed=seed, solve_resolution=n_dns, resolution=n_les,
                            nu=nu, time_steps=rollout, record_dt=dt, solver_batch=n_train + 1)
    frames = torch.as_tensor(data.generate(device=device)["u"], device=device, dtype=torch.float64)
    # keep only what the LES grid resolves after its 2/3-rule de-aliasing: the filter of the LES
    les = navier_stokes.NavierStokes3D(n_les, nu=nu, cs=cs, device=device, dtype=torch.float64)
    frames = les.to_physical(les.to_spectral(frames)).to(dtype)
    train0, test = frames[:n_train, 0], frames[n_train]
    model = FNO(3, 3, (modes,) * 3, width=width, n_layers=4, projection_channels=4 * width,
                generator=torch.Generator().manual_seed(seed))
    model.to(device=device, dtype=dtype)

    def step(u):
        return u + model(u)  # residual form: the network predicts the increment

    def physics(u0):
        traj = [u0]
        for _ in range(rollout):
            traj.append(step(traj[-1]))
        u = torch.stack(traj, dim=1)
        r = les_residual(u, nu=nu, cs=cs, dt=dt)
        return r.pow(2).mean() + divergence(u[:, 1:]).pow(2).mean()

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.no_grad():
        before = float(physics(train0))
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = physics(train0)
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(physics(train0))
        def roll(u0):
            out = [u0]
            for _ in range(rollout):
                out.append(step(out[-1][None])[0])
            return torch.stack(out)

        pred, pred_train = roll(test[0]), roll(frames[0, 0])
        classical = les.solve(test[0].double(), [j * dt for j in range(rollout + 1)]).to(dtype)
    truth = test

    def errors(p, truth=truth):
        return [float(torch.linalg.vector_norm(p[j] - truth[j]) / torch.linalg.vector_norm(truth[j]))
                for j in range(1, rollout + 1)]

    k, e_true = energy_spectrum(truth[-1], 3, vector=True)
    return {"residual_before": before, "residual_after": after,
            "rel_l2_pino": errors(pred), "rel_l2_les": errors(classical),
            "rel_l2_persistence": errors(truth[:1].expand_as(truth)),
            "rel_l2_pino_train": errors(pred_train, frames[0]),
            "rel_l2_persistence_train": errors(frames[0, :1].expand_as(frames[0]), frames[0]),
            "spectrum": {"k": k.tolist(), "filtered_dns": e_true.tolist(),
                         "pino": energy_spectrum(pred[-1], 3, vector=True)[1].tolist(),
                         "les": energy_spectrum(classical[-1], 3, vector=True)[1].tolist()}}
