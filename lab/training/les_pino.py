"""Data-free 3D PINO in the spirit of LESnets (Xu et al. 2024, arXiv:2411.04502).

:func:`les_pino_demo` trains an FNO to advance a coarse velocity field by one step on the
filtered Navier–Stokes residual with a Smagorinsky closure only
(:func:`lab.solvers.residuals.les_residual`), then compares it with the filtered DNS. It
composes a dataset, a model and a diagnostic with its own optimisation loop, so it lives in
the training layer, above all three.
"""
from __future__ import annotations

import torch

from lab.data.datasets import Turbulence3DData
from lab.diagnostics.spectra import energy_spectrum
from lab.models.fno import FNO
from lab.solvers import navier_stokes
from lab.solvers.residuals import divergence, les_residual


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
