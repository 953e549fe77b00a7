"""Exports: every format written, read back and compared with what was written."""
import json

import numpy as np
import pytest

from lab.io import FieldSet, export, field_set, read_dataset
from lab.training.events import Snapshot

xr = pytest.importorskip("xarray")


def _space_time(nx=9, nt=5, outputs=("u",)):
    x, t = np.linspace(-1, 1, nx), np.linspace(0, 1, nt)
    u = np.sin(np.pi * x)[:, None] * np.exp(-t)[None, :]
    if len(outputs) > 1:
        u = np.stack([u * (i + 1) for i in range(len(outputs))], axis=-1)
    fields = {"prediction": u + 1e-3, "reference": u, "error": np.full_like(u, 1e-3)}
    return FieldSet(("x", "t"), {"x": x, "t": t}, fields, outputs, {"problem": "demo", "step": 7})


@pytest.mark.parametrize("fmt", ["nc", "zarr"])
@pytest.mark.parametrize("outputs", [("u",), ("u", "v")])
def test_netcdf_and_zarr_round_trip_fields_coordinates_and_provenance(tmp_path, fmt, outputs):
    pytest.importorskip("h5netcdf" if fmt == "nc" else "zarr")
    fs = _space_time(outputs=outputs)
    ds = read_dataset(export(fs, tmp_path / "out", fmt))
    for name, f in fs.fields.items():
        np.testing.assert_array_equal(ds[name].values, f)
        assert ds[name].dims[:2] == ("x", "t")
    np.testing.assert_array_equal(ds["x"].values, fs.grid["x"])
    np.testing.assert_array_equal(ds["t"].values, fs.grid["t"])
    assert ds.attrs["problem"] == "demo" and ds.attrs["step"] == 7
    if len(outputs) > 1:
        assert list(ds["component"].values) == list(outputs)


def test_a_saved_run_exports_from_the_cli_as_the_evaluation_the_app_shows(tmp_path):
    pytest.importorskip("h5netcdf")
    from lab.cli import main
    from lab.training.runs import list_runs
    from lab import session

    runs = str(tmp_path / "runs")
    assert main(["--runs-dir", runs, "train", "--quiet", "--problem", "burgers", "--steps", "3",
                 "--set", "n_pde=64", "n_ic=16", "n_bc=16", "model.width=8"]) == 0
    name = list_runs(runs)[0]["name"]
    out = tmp_path / "burgers.nc"
    assert main(["--runs-dir", runs, "export", name, "--format", "nc", "--out", str(out)]) == 0
    problem, snap, _ = session.evaluate(name, runs)
    ds = read_dataset(out)
    np.testing.assert_array_equal(ds["prediction"].values, snap.fields["prediction"])
    np.testing.assert_array_equal(ds["reference"].values, snap.fields["reference"])
    assert ds.attrs["run"] == name and ds.attrs["problem"] == "burgers"
    assert json.loads(ds.attrs["parameters"]) == problem.config()
    assert ds.attrs["rel_l2"] == pytest.approx(snap.rel_l2)


def test_the_saved_runs_view_exports_the_selected_run_for_download(tmp_path):
    """The app's Export writes what ``sciml-lab export`` writes and offers it for download; a
    run that cannot be exported, or no run selected, is said in the alert and nothing is offered."""
    pytest.importorskip("h5netcdf")
    from lab.cli import main
    from lab import session
    from widgets.runs_view import RunsView

    runs = str(tmp_path / "runs")
    assert main(["--runs-dir", runs, "train", "--quiet", "--problem", "burgers", "--steps", "3",
                 "--set", "n_pde=64", "n_ic=16", "n_bc=16", "model.width=8"]) == 0
    errors = []
    view = RunsView(runs, on_error=errors.append)
    assert view.export_selected() is None and errors == ["Select a run in the table first."]
    view.table.selection = [0]
    path = view.export_selected()
    name = view.selected()
    ds = read_dataset(path)
    _, snap, _ = session.evaluate(name, runs)
    np.testing.assert_array_equal(ds["prediction"].values, snap.fields["prediction"])
    assert view.download.visible and view.download.file == str(path)
    assert view.download.filename == f"{name}.nc"

    (tmp_path / "runs" / name / "config.json").write_text("{}")  # damaged since
    assert view.export_selected() is None and not view.download.visible
    assert errors[-1].startswith(f"Cannot export run {name}:")


def test_vti_holds_each_spatial_field_at_the_chosen_time_in_vtk_order(tmp_path):
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkIOXML import vtkXMLImageDataReader

    g = {a: np.linspace(0, 1, n) for a, n in zip("xyz", (4, 5, 6))}
    g["t"] = np.array([0.0, 0.5, 1.0])
    rng = np.random.default_rng(0)
    u = rng.standard_normal((4, 5, 6, 3))
    fs = FieldSet(("x", "y", "z", "t"), g, {"prediction": u}, ("u",), {})
    path = export(fs, tmp_path / "field", "vti", time=1)
    reader = vtkXMLImageDataReader()
    reader.SetFileName(str(path))
    reader.Update()
    img = reader.GetOutput()
    assert img.GetDimensions() == (4, 5, 6)
    assert img.GetSpacing() == pytest.approx((1 / 3, 1 / 4, 1 / 5))
    back = vtk_to_numpy(img.GetPointData().GetArray("prediction")).reshape((4, 5, 6), order="F")
    np.testing.assert_array_equal(back, u[..., 1])


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_an_animation_has_one_frame_per_time(tmp_path, fmt):
    imageio = pytest.importorskip("imageio.v2")
    if fmt == "mp4":
        pytest.importorskip("imageio_ffmpeg")
    fs = _space_time(nx=12, nt=6)
    frames = imageio.mimread(export(fs, tmp_path / "anim", fmt))
    assert len(frames) == 6
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 0  # the field moves


def test_a_2d_field_over_time_animates_as_maps(tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    g = {"x": np.linspace(0, 1, 6), "y": np.linspace(0, 1, 5), "t": np.linspace(0, 1, 3)}
    u = np.random.default_rng(1).standard_normal((6, 5, 3))
    fs = FieldSet(("x", "y", "t"), g, {"prediction": u, "reference": u, "error": 0 * u}, ("u",), {})
    frames = imageio.mimread(export(fs, tmp_path / "maps.gif"))
    assert len(frames) == 3 and frames[0].shape[1] > 2 * frames[0].shape[0]  # three maps side by side


def test_field_set_takes_a_snapshot_of_a_problem():
    from lab.problems import get_problem

    problem = get_problem("burgers")
    grid = problem.grid((8, 4))
    ref = problem.reference(grid)
    fs = field_set(problem, Snapshot(3, grid, {"reference": ref}, 0.5), device="cpu")
    assert fs.axes == ("x", "t") and fs.attrs["device"] == "cpu" and fs.attrs["step"] == 3


@pytest.mark.bad_input("export")
@pytest.mark.parametrize("call, words", [
    (lambda fs, p: export(fs, p, "xlsx"), "format must be one of"),
    (lambda fs, p: export(fs, p, "vti", time=9), "time index must be in [-5, 4]"),
    (lambda fs, p: export(FieldSet(("x",), {"x": np.arange(3.0)}, {"u": np.zeros(3)}), p, "gif"),
     "needs a time axis"),
    (lambda fs, p: FieldSet(("x", "t"), fs.grid, {"u": np.zeros((2, 2))}), "has shape (2, 2)"),
    (lambda fs, p: read_dataset(p / "missing.nc"), "no export at"),
])
def test_bad_export_requests_are_refused_with_a_clear_message(tmp_path, call, words):
    with pytest.raises(ValueError, match=None) as err:
        call(_space_time(), tmp_path)
    assert words in str(err.value)
