"""Observations in: sensors drawn from a reference, files read back in every format, and every
malformed file refused with a message that names what is wrong."""
import json

import numpy as np
import pytest

from lab import get_problem
from lab.io.observations import ObservationError, Observations, draw_sensors, read_observations
from lab.problems.burgers import Burgers

FORMATS = ("csv", "npz", "h5", "nc")


@pytest.fixture(scope="module")
def burgers():
    """Burgers on a 64 × 33 reference grid: a reference solved in a moment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Burgers, "grid_shape", (64, 33))
        yield get_problem("burgers", nu=0.05)


def _obs(n=7, seed=0):
    rng = np.random.default_rng(seed)
    points = np.stack([rng.uniform(-1, 1, n), rng.uniform(0, 1, n)], axis=1)
    return Observations(("x", "t"), ("u",), points, rng.standard_normal((n, 1)))


def test_noiseless_sensors_are_the_reference_at_grid_nodes(burgers):
    obs = draw_sensors(burgers, 50, noise=0.0, seed=3)
    grid = burgers.grid()
    ref = burgers.reference(grid)
    ix = [np.searchsorted(grid[a], obs.points[:, i]) for i, a in enumerate(burgers.axes)]
    assert len(obs) == 50 and len({tuple(p) for p in obs.points}) == 50  # distinct nodes
    np.testing.assert_array_equal(obs.values[:, 0], ref[tuple(ix)])
    again = draw_sensors(burgers, 50, noise=0.0, seed=3)
    np.testing.assert_array_equal(obs.points, again.points)  # the seed reproduces them


def test_sensor_noise_has_the_stated_relative_standard_deviation(burgers):
    clean = draw_sensors(burgers, 2000, noise=0.0, seed=1)
    noisy = draw_sensors(burgers, 2000, noise=0.05, seed=1)
    np.testing.assert_array_equal(clean.points, noisy.points)
    ratio = (noisy.values - clean.values).std() / burgers.reference().std()
    assert ratio == pytest.approx(0.05, rel=0.06)  # 2000 samples: the std's error is ~1.6 %


def test_a_grid_layout_is_an_even_lattice_of_at_most_n_sensors(burgers):
    obs = draw_sensors(burgers, 50, layout="grid")
    assert len(obs) == 49  # 7 × 7
    xs, ts = np.unique(obs.points[:, 0]), np.unique(obs.points[:, 1])
    assert len(xs) == len(ts) == 7 and xs[0] == -1 and xs[-1] == 1 and ts[0] == 0 and ts[-1] == 1


def test_bad_sensor_settings_are_refused_by_name(burgers):
    with pytest.raises(ObservationError, match="Sensors must be from 1 to 2,112"):
        draw_sensors(burgers, 10**6)
    with pytest.raises(ObservationError, match="Sensor layout must be one of"):
        draw_sensors(burgers, 5, layout="spiral")


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_format_round_trips(burgers, tmp_path, suffix):
    obs = _obs()
    path = obs.save(tmp_path / f"obs.{suffix}", units={"x": "1"})
    back = read_observations(path, burgers)
    assert back.axes == ("x", "t") and back.outputs == ("u",)
    np.testing.assert_array_equal(back.points, obs.points)
    np.testing.assert_array_equal(back.values, obs.values)


def test_a_gridded_netcdf_field_is_read_point_by_point(burgers, tmp_path):
    xr = pytest.importorskip("xarray")
    x, t = np.linspace(-1, 1, 5), np.linspace(0, 1, 3)
    u = np.sin(x)[:, None] * (1 + t)[None, :]
    xr.Dataset({"u": (("x", "t"), u)}, coords={"x": x, "t": t}).to_netcdf(tmp_path / "g.nc", engine="h5netcdf")
    obs = read_observations(tmp_path / "g.nc", burgers)
    assert len(obs) == 15
    np.testing.assert_allclose(obs.values[:, 0], np.sin(obs.points[:, 0]) * (1 + obs.points[:, 1]))


def _write_csv(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("name, content, message", [
    ("missing_coordinate.csv", "x,u\n0.1,1\n", r"no coordinate column 't'"),
    ("no_output.csv", "x,t,v\n0.1,0.2,1\n", r"no column of an output \(u\)"),
    ("nan.csv", "x,t,u\n0.1,0.2,1\n0.2,0.3,nan\n", r"column 'u' holds 1 NaN or infinite value \(first at row 2\)"),
    ("outside.csv", "x,t,u\n0.1,0.2,1\n1.5,0.3,2\n", r"1 point lies outside the domain .*x in \[-1, 1\].*row 2: x=1.5, t=0.3"),
    ("units.csv", "x [m],t,u\n0.1,0.2,1\n", r"column 'x' is in 'm', but Burgers 1D has x dimensionless"),
    ("ragged.csv", "x,t,u\n0.1,0.2\n", r"line 2 has 2 values, the header names 3 columns"),
    ("text.csv", "x,t,u\n0.1,0.2,abc\n", r"line 2 holds 'abc', not a number"),
    ("empty.csv", "", r"is empty"),
    ("header_only.csv", "x,t,u\n", r"holds no observations"),
])
def test_a_malformed_csv_is_refused_naming_what_is_wrong(burgers, tmp_path, name, content, message):
    with pytest.raises(ObservationError, match=message):
        read_observations(_write_csv(tmp_path / name, content), burgers)


def test_malformed_npz_hdf5_and_netcdf_files_are_refused_naming_what_is_wrong(burgers, tmp_path):
    h5py = pytest.importorskip("h5py")
    xr = pytest.importorskip("xarray")
    np.savez(tmp_path / "shape.npz", x=np.zeros((3, 2)), t=np.zeros(3), u=np.zeros(3))
    with pytest.raises(ObservationError, match=r"column 'x' has shape \(3, 2\); every column must be 1-D"):
        read_observations(tmp_path / "shape.npz", burgers)
    np.savez(tmp_path / "units.npz", x=np.zeros(2), t=np.zeros(2), u=np.zeros(2), units=json.dumps({"t": "s"}))
    with pytest.raises(ObservationError, match=r"column 't' is in 's'"):
        read_observations(tmp_path / "units.npz", burgers)
    with h5py.File(tmp_path / "lengths.h5", "w") as fh:
        fh["x"], fh["t"], fh["u"] = np.zeros(4), np.zeros(3), np.zeros(4)
    with pytest.raises(ObservationError, match=r"the columns differ in length \(x: 4, t: 3, u: 4\)"):
        read_observations(tmp_path / "lengths.h5", burgers)
    ds = xr.Dataset({"x": ("obs", [0.0, 0.5]), "t": ("obs", [0.1, 0.2]), "u": ("obs", [1.0, np.inf])})
    ds.to_netcdf(tmp_path / "inf.nc", engine="h5netcdf")
    with pytest.raises(ObservationError, match=r"column 'u' holds 1 NaN or infinite value"):
        read_observations(tmp_path / "inf.nc", burgers)
    (tmp_path / "broken.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(ObservationError, match=r"broken.h5 cannot be read as hdf5"):
        read_observations(tmp_path / "broken.h5", burgers)
    with pytest.raises(ObservationError, match=r"unknown format '.txt'"):
        read_observations(tmp_path / "obs.txt", burgers)
    with pytest.raises(ObservationError, match=r"does not exist"):
        read_observations(tmp_path / "missing.csv", burgers)


def test_declared_units_are_checked_against_the_file(tmp_path):
    heat = get_problem("heat")
    heat.units = {"t": "s"}  # a problem that declares its time in seconds
    obs = Observations(("x", "t"), ("u",), np.array([[0.5, 0.5]]), np.array([[1.0]]))
    assert len(read_observations(obs.save(tmp_path / "ok.csv", units={"t": "s"}), heat)) == 1
    with pytest.raises(ObservationError, match=r"column 't' is in 'ms', but Heat 1D has t in 's'"):
        read_observations(obs.save(tmp_path / "bad.csv", units={"t": "ms"}), heat)
