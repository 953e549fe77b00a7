"""External operator datasets: PDEBench's and The Well's HDF5 layouts, written here in miniature,
read back exactly, streamed by ranges during training, and refused clearly when malformed."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.config import ConfigError
from lab.io import external
from lab.io.external import Trajectories, inspect

N, T, X = 12, 8, 32


def _waves(n=N, t=T, x=X, seed=0):
    rng = np.random.default_rng(seed)
    xs = (np.arange(x) + 0.5) / x
    ts = np.linspace(0.0, 1.0, t + 1)
    phase = rng.uniform(0, 2 * np.pi, n)
    u = np.sin(2 * np.pi * (xs[None, None] - 0.5 * ts[None, :t, None]) + phase[:, None, None])
    return u.astype(np.float32), xs, ts


def pdebench_1d(path, u=None):
    """PDEBench's 1D files (e.g. 1D_Advection_Sols_beta0.5.hdf5): ``tensor`` (N, T, X) and a
    ``t-coordinate`` one longer than the frames."""
    w, xs, ts = _waves()
    with h5py.File(path, "w") as f:
        f["tensor"], f["x-coordinate"], f["t-coordinate"] = w if u is None else u, xs, ts
    return w


def pdebench_groups(path, n=4, nx=8, ny=6):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((n, T, nx, ny, 2)).astype(np.float32)
    with h5py.File(path, "w") as f:
        for i in range(n):
            g = f.create_group(f"{i:04d}")
            g["data"], g["grid/x"], g["grid/y"], g["grid/t"] = (data[i], np.linspace(0, 1, nx),
                                                                np.linspace(0, 2, ny), np.linspace(0, 1, T))
    return data


def the_well(path, n=3, nx=8, ny=4):
    """The Well's layout (docs/data_format.md): scalars in t0_fields, vectors in t1_fields,
    a constant field (skipped), dimensions and a periodic boundary on x."""
    rng = np.random.default_rng(2)
    rho = rng.standard_normal((n, T, nx, ny)).astype(np.float32)
    vel = rng.standard_normal((n, T, nx, ny, 2)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.attrs.update(n_trajectories=n, n_spatial_dims=2, dataset_name="toy_flow", grid_type="cartesian")
        d = f.create_group("dimensions")
        d.attrs["spatial_dims"] = ["x", "y"]
        d["time"], d["x"], d["y"] = np.linspace(0, 1, T), np.arange(nx) / nx, np.linspace(0, 1, ny)
        t0, t1 = f.create_group("t0_fields"), f.create_group("t1_fields")
        t0.attrs["field_names"], t1.attrs["field_names"] = ["density", "mask"], ["velocity"]
        t0["density"], t1["velocity"] = rho, vel
        t0["mask"] = np.ones((nx, ny), np.float32)
        t0["mask"].attrs.update(sample_varying=False, time_varying=False)
        bc = f.create_group("boundary_conditions/x_periodic")
        bc.attrs.update(bc_type="periodic", associated_dims=["x"])
    return rho, vel


def test_pdebench_1d_is_read_back_exactly_by_ranges(tmp_path):
    u = pdebench_1d(tmp_path / "adv.h5")
    lay = inspect(tmp_path / "adv.h5")
    assert (lay.kind, lay.n, lay.times, lay.shape, lay.channels, lay.axes) == ("pdebench", N, T, (X,), ("tensor",), ("x",))
    assert len(lay.t) == T and lay.bounds()["x"] == pytest.approx((0.5 / X, 1 + 0.5 / X))  # periodic: n spacings
    tr = Trajectories(lay, 4, 10)
    assert tr.shape == (6, T, 1, X) and len(tr) == 6
    np.testing.assert_array_equal(tr[2].numpy(), u[6][:, None])
    np.testing.assert_array_equal(tr[1:3, 2:5].numpy(), u[5:7, 2:5, None])


def test_pdebench_groups_and_the_well_give_channels_after_time(tmp_path):
    data = pdebench_groups(tmp_path / "swe.h5")
    lay = inspect(tmp_path / "swe.h5")
    assert (lay.kind, lay.n, lay.shape, len(lay.channels)) == ("pdebench_groups", 4, (8, 6), 2)
    np.testing.assert_array_equal(Trajectories(lay, 0, 4)[1:3].numpy(), np.moveaxis(data[1:3], -1, 2))

    rho, vel = the_well(tmp_path / "well.hdf5")
    lay = inspect(tmp_path / "well.hdf5")
    assert lay.channels == ("density", "velocity_0", "velocity_1") and lay.periodic == ("x",)
    assert lay.name == "toy_flow" and lay.shape == (8, 4)
    got = Trajectories(lay, 0, 3)[0:3].numpy()
    np.testing.assert_array_equal(got[:, :, 0], rho)
    np.testing.assert_array_equal(got[:, :, 1:], np.moveaxis(vel, -1, 2))


def test_an_fno_trains_on_a_pdebench_file_reading_only_batches(tmp_path, monkeypatch):
    pdebench_1d(tmp_path / "adv.h5")
    sizes = []
    read = external.read
    monkeypatch.setattr(external, "read", lambda lay, a, b, *args, **kw: sizes.append(b - a) or read(lay, a, b, *args, **kw))
    problem = get_problem("external_operator", path=str(tmp_path / "adv.h5"), n_train=8, n_val=4, batch_size=4,
                          eval_steps=3)
    assert problem.shape == (X,) and problem.channels == (1, 1) and problem.periodic == ("x",)
    events = []
    torch.manual_seed(0)
    result = Trainer(problem, get_model_config("fno", modes=8, width=16),
                     TrainConfig(steps=60, lr=3e-3, snapshot_every=60, log_every=20), runs_dir=str(tmp_path / "runs"),
                     sinks=[events.append]).run()
    assert result.status == "completed", result.message
    snap = [e for e in events if type(e).__name__ == "Snapshot"][-1]
    assert len(snap.extras["rollout_error"]) == 3 and "spectrum" in snap.extras
    assert result.rel_l2 < snap.extras["trivial_rel_l2"]  # it learnt the translation
    assert sizes and max(sizes) <= 4  # a batch or an evaluation chunk of the 4 validation samples: never the file


def test_malformed_files_are_refused_naming_what_is_wrong(tmp_path):
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f["x-coordinate"] = np.arange(4.0)
    with pytest.raises(ValueError, match="empty.h5: missing dataset 'tensor'"):
        inspect(tmp_path / "empty.h5")
    w, xs, ts = _waves()
    with h5py.File(tmp_path / "short.h5", "w") as f:
        f["tensor"], f["x-coordinate"], f["t-coordinate"] = w, xs[:-3], ts
    with pytest.raises(ValueError, match="coordinate 'x-coordinate' has 29 values but the data have 32"):
        inspect(tmp_path / "short.h5")
    bad = w.copy()
    bad[5, 2, 3] = np.nan
    pdebench_1d(tmp_path / "nan.h5", bad)
    tr = Trajectories(inspect(tmp_path / "nan.h5"), 0, N)
    with pytest.raises(ValueError, match="nan.h5: sample 5 holds NaN"):
        tr[4:8]
    the_well(tmp_path / "well.hdf5")
    with h5py.File(tmp_path / "well.hdf5", "a") as f:
        del f.attrs["n_trajectories"]
    with pytest.raises(ValueError, match="missing root attribute 'n_trajectories'"):
        inspect(tmp_path / "well.hdf5")
    with pytest.raises(ConfigError, match="Data file"):
        get_problem("external_operator", path=str(tmp_path / "nowhere.h5"))
    pdebench_1d(tmp_path / "adv.h5")
    problem = get_problem("external_operator", path=str(tmp_path / "adv.h5"), n_train=10, n_val=4, batch_size=4)
    with pytest.raises(ConfigError, match="14 exceeds the 12 trajectories"):
        problem.datasets()
    with pytest.raises(ConfigError, match="choose an HDF5 file"):
        get_problem("external_operator").datasets()


def test_the_cli_trains_on_a_file_and_refuses_a_bad_one(tmp_path, capsys):
    from lab.cli import main

    pdebench_1d(tmp_path / "adv.h5")
    runs = str(tmp_path / "runs")
    assert main(["train", "--data", str(tmp_path / "adv.h5"), "--model", "fno", "--steps", "3", "--quiet",
                 "--runs-dir", runs, "--set", "problem.n_train=8", "problem.n_val=4", "problem.batch_size=4",
                 "model.modes=4", "model.width=8", "snapshot_every=3"]) == 0
    assert '"status": "completed"' in capsys.readouterr().out
    assert main(["train", "--data", str(tmp_path / "none.h5"), "--model", "fno", "--runs-dir", runs]) == 2
    assert "Data file" in capsys.readouterr().err
