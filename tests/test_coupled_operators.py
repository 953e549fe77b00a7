"""Operator data and training on the coupled systems (lab.data.coupled, lab.problems.coupled_operators)."""
import numpy as np
import pytest
import torch

from lab import TrainConfig, Trainer
from lab.models import get_model_config
from lab.problems import get_problem
from lab.solvers.mhd import MHD2D, orszag_tang
from lab.training.events import Snapshot


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))


def test_mhd_data_are_solver_states_of_orszag_tang_neighbours():
    """At zero spread and phase the data would be the Orszag–Tang vortex; with them, each
    input is a sum of the vortex's four modes and each output the solver's state at T."""
    p = get_problem("mhd2d_operator", n_train=3, n_val=1, batch_size=2, resolution=32, t_end=0.2)
    data = p.arrays()
    x, y = data["x"], data["y"]
    assert x.shape == y.shape == (4, 2, 32, 32) and np.isfinite(y).all()
    s = MHD2D(32, nu=p.nu, eta=p.eta)
    again = s.solve(torch.as_tensor(x[1, 0], dtype=torch.float64), torch.as_tensor(x[1, 1], dtype=torch.float64),
                    [0.2])[0].numpy()
    assert np.abs(again - y[1]).max() < 1e-5  # float32 storage
    w0, a0 = orszag_tang(32)
    spec = np.abs(np.fft.rfft2(x[:, 0]))
    assert (spec > 1e-4 * spec.max()).sum(axis=(1, 2)).max() <= 3  # cos x, cos y only (x: two entries)
    assert not np.allclose(x[0], np.stack([w0, a0]))  # the samples differ from the vortex


def test_convection_data_start_at_rest_and_grow_rolls():
    p = get_problem("rayleigh_benard2d_operator", n_train=3, n_val=1, batch_size=2, resolution=16)
    data = p.arrays()
    assert data["x"].shape == (4, 1, 16, 17) and data["y"].shape == (4, 2, 16, 17)
    assert np.abs(data["x"][:, :, :, [0, -1]]).max() < 1e-6  # isothermal walls
    assert np.abs(data["y"][:, 1]).max() > 10 * np.abs(data["x"]).max()  # the flow has spun up


@pytest.mark.parametrize("key,kw", [("mhd2d_operator", dict(resolution=16, t_end=0.1)),
                                    ("rayleigh_benard2d_operator", dict(resolution=16))])
def test_fno_trains_briefly_on_the_coupled_maps(tmp_path, key, kw):
    problem = get_problem(key, n_train=8, n_val=4, batch_size=4, **kw)
    snaps = []
    result = Trainer(problem, get_model_config("fno", modes=4, width=8, n_layers=2, projection_channels=8),
                     TrainConfig(steps=20, lr=5e-3, snapshot_every=20, device="cpu"), runs_dir=tmp_path,
                     sinks=[lambda e: snaps.append(e) if isinstance(e, Snapshot) else None]).run()
    assert result.status == "completed", result.message
    assert np.isfinite(result.rel_l2) and result.rel_l2 < snaps[-1].extras["trivial_rel_l2"] * 1.5
    assert snaps[-1].fields["prediction"].shape == snaps[-1].fields["reference"].shape
