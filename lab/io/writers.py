"""Writers for a :class:`~lab.io.fields.FieldSet`: netCDF and zarr through xarray, VTK image data
through VTK's own writer, MP4 and GIF through imageio (FFmpeg from ``imageio-ffmpeg``).

``export(fields, path, fmt)`` picks the writer; ``read_dataset`` reads a netCDF or zarr export
back as an ``xarray.Dataset`` (the round trip the tests check).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from lab.io.fields import FieldSet

#: format -> (file suffix, what it is)
FORMATS = {
    "nc": (".nc", "netCDF-4 through xarray: coordinates, units and provenance in the attributes"),
    "zarr": (".zarr", "zarr store through xarray (a folder), for chunked cloud-friendly access"),
    "vti": (".vti", "VTK image data of the spatial fields (ParaView); the last time unless --time"),
    "mp4": (".mp4", "animation over time: prediction, reference and error side by side"),
    "gif": (".gif", "the same animation as a GIF"),
}


def _need(module: str, extra: str = "io"):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ValueError(f"this export needs the package {module.split('.')[0]!r}: "
                         f"pip install 'sciml-lab[{extra}]'") from err


def to_xarray(fs: FieldSet):
    """An ``xarray.Dataset``: one variable per field over the problem's axes (and ``component``
    for a system), the grid as coordinates, the provenance as attributes."""
    xr = _need("xarray")
    dims = list(fs.axes) + (["component"] if len(fs.outputs) > 1 else [])
    coords = {a: (a, fs.grid[a], {"long_name": "time" if a == "t" else f"coordinate {a}"}) for a in fs.axes}
    if len(fs.outputs) > 1:
        coords["component"] = ("component", list(fs.outputs))
    data = {name: (dims, f, {"long_name": f"{name} of {', '.join(fs.outputs)}"}) for name, f in fs.fields.items()}
    return xr.Dataset(data, coords=coords, attrs={**fs.attrs, "Conventions": "CF-1.8",
                                                  "source": "sciml-lab"})


def read_dataset(path: str | Path):
    """A netCDF or zarr export read back as an ``xarray.Dataset`` (loaded, file closed)."""
    xr = _need("xarray")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no export at {path}")
    if path.suffix == ".zarr" or path.is_dir():
        _need("zarr")
        return xr.open_zarr(path).load()
    with xr.open_dataset(path, engine=_netcdf_engine()) as ds:
        return ds.load()


def _netcdf_engine() -> str:
    for module, engine in (("netCDF4", "netcdf4"), ("h5netcdf", "h5netcdf")):
        try:
            importlib.import_module(module)
            return engine
        except ImportError:
            continue
    raise ValueError("netCDF export needs 'h5netcdf' or 'netCDF4': pip install 'sciml-lab[io]'")


def _spatial_slice(fs: FieldSet, name: str, time: int | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """``fields[name]`` at one time index (default the last) over the spatial axes."""
    f = fs.fields[name]
    if fs.time_axis is None:
        return f, fs.spatial_axes
    n = len(fs.grid["t"])
    i = n - 1 if time is None else time
    if not -n <= i < n:
        raise ValueError(f"time index must be in [{-n}, {n - 1}] (the grid has {n} times), got {time}")
    return np.take(f, i, axis=fs.axes.index("t")), fs.spatial_axes


def write_vti(fs: FieldSet, path: Path, time: int | None = None) -> Path:
    """A ``.vti`` file with one point-data array per field (vector components as one array)."""
    data_model = _need("vtkmodules.vtkCommonDataModel", "io")
    io_xml = _need("vtkmodules.vtkIOXML", "io")
    numpy_support = _need("vtkmodules.util.numpy_support", "io")
    if not 1 <= len(fs.spatial_axes) <= 3:
        raise ValueError(f"VTK image data needs 1 to 3 spatial axes, the problem has {fs.spatial_axes}")
    image = data_model.vtkImageData()
    dims = [len(fs.grid[a]) for a in fs.spatial_axes] + [1] * (3 - len(fs.spatial_axes))
    spacing = [float(np.diff(fs.grid[a]).mean()) if len(fs.grid[a]) > 1 else 1.0 for a in fs.spatial_axes]
    origin = [float(fs.grid[a][0]) for a in fs.spatial_axes]
    image.SetDimensions(*dims)
    image.SetSpacing(*(spacing + [1.0] * (3 - len(spacing))))
    image.SetOrigin(*(origin + [0.0] * (3 - len(origin))))
    for name in fs.fields:
        f, _ = _spatial_slice(fs, name, time)
        comps = len(fs.outputs) if len(fs.outputs) > 1 else 1
        flat = f.reshape(-1, comps, order="F") if comps == 1 else \
            np.stack([f[..., c].ravel(order="F") for c in range(comps)], axis=1)  # VTK runs x fastest
        arr = numpy_support.numpy_to_vtk(np.ascontiguousarray(flat), deep=True)
        arr.SetName(name)
        image.GetPointData().AddArray(arr)
    writer = io_xml.vtkXMLImageDataWriter()
    writer.SetFileName(str(path))
    writer.SetInputData(image)
    if not writer.Write():
        raise ValueError(f"could not write {path}")
    return path


def write_animation(fs: FieldSet, path: Path, fps: int = 10) -> Path:
    """Frames over time, drawn with labelled axes and the time in the title, as MP4 or GIF.

    A 1D field is drawn as curves (prediction over the reference, the error below); a 2D field
    as maps of prediction, reference (one colour scale) and error (a symmetric scale)."""
    imageio = _need("imageio.v2")
    if fs.time_axis is None or len(fs.spatial_axes) not in (1, 2):
        raise ValueError(f"an animation needs a time axis and 1 or 2 spatial axes; the fields have "
                         f"axes {fs.axes}")
    if path.suffix == ".mp4":
        _need("imageio_ffmpeg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ti, ts = fs.axes.index("t"), fs.grid["t"]
    names = [n for n in ("prediction", "reference", "error") if n in fs.fields] or list(fs.fields)
    series = {n: np.moveaxis(fs.fields[n] if len(fs.outputs) == 1 else fs.fields[n][..., 0], ti, 0)
              for n in names}
    values = [series[n] for n in names if n != "error"] or [series[names[0]]]
    lo, hi = min(float(v.min()) for v in values), max(float(v.max()) for v in values)
    err = max(float(np.abs(series["error"]).max()), 1e-300) if "error" in series else None
    label = fs.outputs[0]
    images = []
    for k, t in enumerate(ts):
        fig = Figure(figsize=(4 * len(names) if len(fs.spatial_axes) == 2 else 6, 3.6), dpi=80)
        FigureCanvasAgg(fig)
        if len(fs.spatial_axes) == 1:
            x = fs.grid[fs.spatial_axes[0]]
            ax = fig.add_subplot(1, 1, 1)
            for n in names:
                if n != "error":
                    ax.plot(x, series[n][k], "--" if n == "reference" else "-", label=n)
            ax.set(xlabel=fs.spatial_axes[0], ylabel=label, ylim=(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)))
            if err is not None:
                ax.plot(x, series["error"][k], ":", color="grey", label="error")
            ax.legend(loc="upper right", fontsize=8)
        else:
            xa, ya = fs.spatial_axes
            for j, n in enumerate(names):
                ax = fig.add_subplot(1, len(names), j + 1)
                scale = dict(cmap="RdBu_r", vmin=-err, vmax=err) if n == "error" else dict(vmin=lo, vmax=hi)
                im = ax.pcolormesh(fs.grid[xa], fs.grid[ya], series[n][k].T, shading="auto", **scale)
                ax.set(title=n, xlabel=xa, ylabel=ya, aspect="equal")
                fig.colorbar(im, ax=ax, shrink=0.8)
        fig.suptitle(f"{fs.attrs.get('title') or fs.attrs.get('problem', '')}  t = {t:.3g}")
        fig.tight_layout()
        fig.canvas.draw()
        images.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    kwargs = {"fps": fps, "macro_block_size": 8} if path.suffix == ".mp4" else {"duration": 1 / fps, "loop": 0}
    imageio.mimwrite(path, images, **kwargs)
    return path


def export(fs: FieldSet, path: str | Path, fmt: str | None = None, *, time: int | None = None) -> Path:
    """Write ``fs`` to ``path`` in ``fmt`` (default: from the suffix); returns the path written."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if path.suffix != FORMATS[fmt][0]:
        path = path.with_name(path.name + FORMATS[fmt][0])
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "nc":
        to_xarray(fs).to_netcdf(path, engine=_netcdf_engine())
    elif fmt == "zarr":
        _need("zarr")
        to_xarray(fs).to_zarr(path, mode="w", zarr_format=2)  # the format every reader knows
    elif fmt == "vti":
        write_vti(fs, path, time)
    else:
        write_animation(fs, path)
    return path
