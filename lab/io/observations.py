"""Observations: sparse, noisy measurements of a problem's field, drawn or read from a file.

An :class:`Observations` is ``N`` points in the problem's axes (columns in ``axes`` order) with
the measured value of one or more of its outputs at each. It comes either

* from the problem's reference (:func:`draw_sensors`): ``n`` sensors at nodes of the reference
  grid, in a ``"random"`` or ``"grid"`` layout, with Gaussian noise of standard deviation
  ``noise × std(u)`` (relative to the field's spread, as in Raissi et al. 2019), reproducible
  from a seed; or
* from a user's file (:func:`read_observations`): CSV, NPZ, HDF5 or netCDF (through xarray),
  one column per axis and per observed output, named as the problem names them.

Everything read is checked against the problem before it trains anything — coordinate columns
present, one value per point, finite values, every point inside the domain, and units where
the file and the problem declare them (a problem's ``units`` maps axis or output names to a
unit; without one a name is dimensionless) — and a refusal names the file, the column and
what to change. The training loss that uses them is the PINN task's ``data`` term
(:mod:`lab.training.tasks.pinn`).
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lab.atomic import write_atomic
from lab.io.writers import _need, _netcdf_engine

#: file formats by suffix
SUFFIXES = {".csv": "csv", ".npz": "npz", ".h5": "hdf5", ".hdf5": "hdf5", ".nc": "netcdf"}
#: how a dimensionless quantity may be written
DIMENSIONLESS = {"", "1", "-", "dimensionless", "none", "nondimensional"}
#: sensor layouts
LAYOUTS = ("random", "grid")


class ObservationError(ValueError):
    """A refused observation file or sensor setting; the message names what is wrong."""


@dataclass(frozen=True)
class Observations:
    """``points[i]`` (in ``axes`` order) observed ``values[i, j]`` of output ``outputs[j]``."""

    axes: tuple[str, ...]
    outputs: tuple[str, ...]
    points: np.ndarray
    values: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.points)

    def columns(self) -> dict[str, np.ndarray]:
        """One 1-D array per axis and output: the form every file holds."""
        out = {a: self.points[:, i] for i, a in enumerate(self.axes)}
        out.update({o: self.values[:, j] for j, o in enumerate(self.outputs)})
        return out

    def save(self, path: str | Path, units: dict[str, str] | None = None) -> Path:
        """Write to ``path`` in the format its suffix names (see :data:`SUFFIXES`)."""
        path = Path(path)
        fmt = _format(path)
        cols, units = self.columns(), dict(units or {})
        if fmt == "csv":
            names = [f"{k} [{units[k]}]" if units.get(k) else k for k in cols]
            rows = np.stack(list(cols.values()), axis=1)
            with open(path, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(names)
                w.writerows([[repr(float(v)) for v in row] for row in rows])
        elif fmt == "npz":
            np.savez(path, **cols, **({"units": json.dumps(units)} if units else {}))
        elif fmt == "hdf5":
            h5py = _need("h5py")
            with h5py.File(path, "w") as fh:
                for k, v in cols.items():
                    fh.create_dataset(k, data=v)
                    if units.get(k):
                        fh[k].attrs["units"] = units[k]
        else:
            xr = _need("xarray")
            ds = xr.Dataset({k: ("obs", v, {"units": units[k]} if units.get(k) else {})
                             for k, v in cols.items()})
            ds.to_netcdf(path, engine=_netcdf_engine())
        return path


# ---- drawn from the reference ------------------------------------------------------------
def draw_sensors(problem, n: int, noise: float = 0.0, layout: str = "random", seed: int = 0) -> Observations:
    """``n`` noisy sensors of ``problem``'s reference at nodes of its evaluation grid.

    ``layout="random"``: ``n`` distinct nodes drawn uniformly; ``"grid"``: an evenly spaced
    lattice of ``m`` nodes per axis with ``m^d <= n`` the largest (``d`` axes). ``noise``: the
    standard deviation of the added Gaussian noise relative to the reference's standard
    deviation over the grid. The same seed gives the same sensors and noise.
    """
    if not problem.has_reference():
        raise ObservationError(f"{problem.title or problem.key} has no reference to draw sensors from; "
                               "give a file of observations instead")
    if layout not in LAYOUTS:
        raise ObservationError(f"Sensor layout must be one of {list(LAYOUTS)}, got {layout!r}")
    grid = problem.grid()
    shape = tuple(len(grid[a]) for a in problem.axes)
    total = int(np.prod(shape))
    if not 1 <= n <= total:
        raise ObservationError(f"Sensors must be from 1 to {total:,} (the nodes of the reference grid "
                               f"{'×'.join(map(str, shape))}), got {n}")
    if not 0 <= noise <= 1:
        raise ObservationError(f"Sensor noise must be from 0 to 1 (relative standard deviation), got {noise}")
    rng = np.random.default_rng(seed)
    if layout == "random":
        flat = np.sort(rng.choice(total, size=n, replace=False))
        index = np.unravel_index(flat, shape)
    else:
        m = max(int(np.floor(n ** (1 / len(shape)) + 1e-9)), 1)
        per_axis = [np.unique(np.linspace(0, s - 1, min(m, s)).round().astype(int)) for s in shape]
        index = tuple(i.ravel() for i in np.meshgrid(*per_axis, indexing="ij"))
    ref = np.asarray(problem.reference(grid), dtype=np.float64)
    ref = ref.reshape(shape + (len(problem.outputs),))
    points = np.stack([grid[a][i] for a, i in zip(problem.axes, index)], axis=1)
    values = ref[index]
    scale = ref.reshape(-1, len(problem.outputs)).std(0)
    values = values + noise * scale * rng.standard_normal(values.shape)
    return Observations(tuple(problem.axes), tuple(problem.outputs), points, values,
                        f"{len(points)} sensors ({layout}, noise {noise:g}, seed {seed})")


# ---- read from a file --------------------------------------------------------------------
def _format(path: Path) -> str:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ObservationError(f"observation file {path.name}: unknown format {path.suffix or '(no suffix)'!r}; "
                               f"use one of {', '.join(sorted(SUFFIXES))}")
    return fmt


def read_observations(path: str | Path, problem) -> Observations:
    """The observations in ``path`` (CSV, NPZ, HDF5, netCDF), checked against ``problem``.

    Each format holds one column per axis and per observed output, named as the problem names
    them (``x``, ``t``, ``u``): a CSV's header row (a unit in brackets: ``x [m]``), an NPZ's
    1-D arrays (units as a JSON mapping in an array ``units``), an HDF5 file's root datasets
    and a netCDF file's variables (units in their ``units`` attribute; a gridded netCDF
    variable over the axes is read point by point). A column the problem does not name is
    ignored.
    """
    path = Path(path)
    fmt = _format(path)
    if not path.is_file():
        raise ObservationError(f"observation file {path} does not exist")
    try:
        columns, units = _READERS[fmt](path)
    except ObservationError:
        raise
    except Exception as err:  # a file the library cannot parse: say which and why
        raise ObservationError(f"observation file {path.name} cannot be read as {fmt}: "
                               f"{type(err).__name__}: {err}") from None
    return from_columns(columns, units, problem, path.name)


def _read_csv(path: Path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ObservationError(f"observation file {path.name} is empty; it needs a header row naming its columns")
    names, units = [], {}
    for cell in rows[0]:
        m = re.fullmatch(r"\s*([^\[\]]+?)\s*(?:\[(.*)\])?\s*", cell)
        name = m.group(1) if m else cell.strip()
        names.append(name)
        if m and m.group(2) is not None:
            units[name] = m.group(2).strip()
    data = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(names):
            raise ObservationError(f"observation file {path.name}: line {i} has {len(row)} values, "
                                   f"the header names {len(names)} columns ({', '.join(names)})")
        try:
            data.append([float(c) for c in row])
        except ValueError:
            bad = next(c for c in row if not _is_float(c))
            raise ObservationError(f"observation file {path.name}: line {i} holds {bad!r}, not a number") from None
    arr = np.asarray(data, dtype=np.float64).reshape(-1, len(names))
    return {n: arr[:, j] for j, n in enumerate(names)}, units


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _read_npz(path: Path):
    with np.load(path, allow_pickle=False) as z:
        columns = {k: z[k] for k in z.files if k != "units"}
        units = json.loads(str(z["units"])) if "units" in z.files else {}
    return columns, units


def _read_hdf5(path: Path):
    h5py = _need("h5py")
    with h5py.File(path, "r") as fh:
        columns = {k: fh[k][()] for k in fh if isinstance(fh[k], h5py.Dataset)}
        units = {k: _text(fh[k].attrs["units"]) for k in columns if "units" in fh[k].attrs}
    return columns, units


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_netcdf(path: Path):
    xr = _need("xarray")
    with xr.open_dataset(path, engine=_netcdf_engine()) as ds:
        ds = ds.load()
    units = {k: _text(v.attrs["units"]) for k, v in {**ds.coords, **ds.data_vars}.items() if "units" in v.attrs}
    gridded = [k for k, v in ds.data_vars.items() if v.ndim > 1 or (v.ndim == 1 and v.dims[0] in ds.coords)]
    if gridded:  # fields over coordinate axes: one row per grid node
        frame = ds[gridded].to_dataframe().reset_index()
        return {str(k): frame[k].to_numpy() for k in frame.columns}, units
    return {str(k): np.asarray(v.values) for k, v in {**ds.coords, **ds.data_vars}.items()}, units


_READERS = {"csv": _read_csv, "npz": _read_npz, "hdf5": _read_hdf5, "netcdf": _read_netcdf}


def from_columns(columns: dict[str, np.ndarray], units: dict[str, str], problem, source: str) -> Observations:
    """Observations of ``problem`` from named 1-D columns, checked (see the module's docstring)."""
    where = f"observation file {source}"
    axes, outputs = tuple(problem.axes), tuple(problem.outputs)
    missing = [a for a in axes if a not in columns]
    if missing:
        raise ObservationError(f"{where} has no coordinate column {', '.join(map(repr, missing))}; "
                               f"{problem.title or problem.key} needs one per axis ({', '.join(axes)}); "
                               f"the file's columns are {', '.join(columns) or 'none'}")
    observed = tuple(o for o in outputs if o in columns)
    if not observed:
        raise ObservationError(f"{where} has no column of an output ({', '.join(outputs)}); "
                               f"its columns are {', '.join(columns)}")
    used = axes + observed
    for k in used:
        if np.ndim(columns[k]) != 1:
            raise ObservationError(f"{where}: column {k!r} has shape {np.shape(columns[k])}; every column "
                                   "must be 1-D, one value per observation")
    lengths = {k: len(columns[k]) for k in used}
    if len(set(lengths.values())) > 1:
        raise ObservationError(f"{where}: the columns differ in length ("
                               + ", ".join(f"{k}: {n}" for k, n in lengths.items())
                               + "); every column needs one value per observation")
    if not lengths[axes[0]]:
        raise ObservationError(f"{where} holds no observations")
    try:
        data = {k: np.asarray(columns[k], dtype=np.float64) for k in used}
    except (TypeError, ValueError):
        raise ObservationError(f"{where}: the columns {', '.join(used)} must hold numbers") from None
    for k, v in data.items():
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise ObservationError(f"{where}: column {k!r} holds {bad.size} NaN or infinite "
                                   f"value{'s' if bad.size > 1 else ''} (first at row {bad[0] + 1}); "
                                   "remove or fill them")
    declared = dict(getattr(problem, "units", {}) or {})
    for k in used:
        have, want = units.get(k), declared.get(k, "1")
        if have is None or _same_unit(have, want):
            continue
        raise ObservationError(f"{where}: column {k!r} is in {have!r}, but {problem.title or problem.key} "
                               f"has {k} {'dimensionless' if _same_unit(want, '1') else f'in {want!r}'}; "
                               "convert the column")
    points = np.stack([data[a] for a in axes], axis=1)
    bounds = problem.bounds()
    lo = np.array([bounds[a][0] for a in axes])
    hi = np.array([bounds[a][1] for a in axes])
    tol = 1e-9 * np.maximum(hi - lo, 1.0)
    outside = np.flatnonzero(((points < lo - tol) | (points > hi + tol)).any(1))
    if outside.size:
        row = points[outside[0]]
        box = ", ".join(f"{a} in [{bounds[a][0]:g}, {bounds[a][1]:g}]" for a in axes)
        at = ", ".join(f"{a}={v:g}" for a, v in zip(axes, row))
        raise ObservationError(f"{where}: {outside.size} point{'s lie' if outside.size > 1 else ' lies'} "
                               f"outside the domain of {problem.title or problem.key} ({box}); "
                               f"the first is row {outside[0] + 1}: {at}")
    values = np.stack([data[o] for o in observed], axis=1)
    return Observations(axes, observed, points, values, source)


def _same_unit(a: str, b: str) -> bool:
    a, b = a.strip().lower(), b.strip().lower()
    return a == b or (a in DIMENSIONLESS and b in DIMENSIONLESS)


def save_upload(data: bytes, filename: str, folder: str | Path) -> Path:
    """Keep an uploaded observation file in ``folder`` under a name made of its content's hash
    (the same file uploaded twice is stored once; a run's config names a file that stays)."""
    import hashlib

    suffix = Path(filename).suffix.lower()
    _format(Path(filename))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{Path(filename).stem}-{hashlib.sha256(data).hexdigest()[:12]}{suffix}"
    if not path.exists():
        write_atomic(path, lambda f: f.write(data))
    return path
