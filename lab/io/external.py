"""External operator-learning datasets in PDEBench's and The Well's HDF5 layouts, read lazily.

Three layouts are recognised (the files that define them, for checking):

* ``pdebench`` — one array per variable with the sample axis first (PDEBench's 1D Burgers,
  advection, and its CFD files): ``tensor`` ``(N, T, *space)`` — or the CFD variables
  ``density``, ``pressure``, ``Vx``, ``Vy``, ``Vz`` of that shape, one channel each — with
  ``x-coordinate`` (``y-``, ``z-``) and ``t-coordinate``, which may hold one time more than
  the frames (the Burgers files do). Defined by ``pdebench/data_gen/`` and read by
  ``FNODataset`` in ``pdebench/models/fno/utils.py`` (github.com/pdebench/PDEBench).
* ``pdebench_groups`` — one group per sample, ``"0000"``, ``"0001"``, …, each with ``data``
  ``(T, *space, C)`` and ``grid/x`` (``grid/y``, ``grid/z``), ``grid/t`` (PDEBench's 2D
  shallow-water, diffusion-reaction and 1D diffusion-sorption files; ``FNODatasetMult`` in the
  same ``utils.py``).
* ``well`` — The Well's specification (``docs/data_format.md`` and ``WellDataset`` in
  ``the_well/data/datasets.py``, github.com/PolymathicAI/the_well): root attributes
  ``n_trajectories``, ``n_spatial_dims``, ``dataset_name``, ``grid_type``; ``dimensions/time``
  and ``dimensions/<axis>`` for each name in ``dimensions.attrs["spatial_dims"]``; fields in
  ``t0_fields`` (scalars ``(B, T, *space)``), ``t1_fields`` (vectors, ``(..., D)``) and
  ``t2_fields`` (tensors, ``(..., D, D)``), each listed in its group's ``field_names``;
  ``boundary_conditions/<name>`` with ``bc_type`` and ``associated_dims`` (``periodic`` makes
  an axis periodic). Fields constant over samples or time are not trajectories and are skipped.

Every layout is presented the same way: trajectories ``(N, T, C, *space)``, read by index
ranges through ``h5py`` (:class:`Trajectories`), never loaded whole. A file that does not fit
its layout — a missing dataset or coordinate, shapes that disagree, NaN or infinite values in
what is read — raises ``ValueError`` naming the file, the dataset and what is wrong.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

LAYOUTS = ("pdebench", "pdebench_groups", "well")
_SPACE = ("x", "y", "z")
_CFD = ("density", "pressure", "Vx", "Vy", "Vz")


def _h5py():
    try:
        import h5py
    except ImportError as err:  # the lab core stays light: h5py is part of the io extra
        raise ImportError("reading HDF5 datasets needs h5py: pip install 'sciml-lab[io]'") from err
    return h5py


@dataclass(frozen=True)
class Layout:
    """What a file holds: ``n`` trajectories of ``times`` frames of ``channels`` fields on ``shape``."""

    path: str
    kind: str
    n: int
    times: int
    shape: tuple[int, ...]
    channels: tuple[str, ...]
    axes: tuple[str, ...]
    coords: dict[str, np.ndarray]
    t: np.ndarray
    periodic: tuple[str, ...]
    name: str

    def bounds(self) -> dict[str, tuple[float, float]]:
        """Extent per axis; a periodic axis of ``n`` cell-centred or left-aligned nodes spans
        ``n`` spacings, so the box length matches the period."""
        out = {}
        for a in self.axes:
            c = self.coords[a]
            step = (c[-1] - c[0]) / max(len(c) - 1, 1)
            hi = c[-1] + step if a in self.periodic else c[-1]
            out[a] = (float(c[0]), float(hi))
        return out


def _fail(path, what: str) -> ValueError:
    return ValueError(f"{Path(path).name}: {what}")


def _dataset(f, name: str, path):
    if name not in f or not hasattr(f[name], "shape"):
        raise _fail(path, f"missing dataset {name!r}")
    return f[name]


def _coordinate(f, name: str, length: int, path, *, extra_ok: bool = False) -> np.ndarray:
    c = np.asarray(_dataset(f, name, path)[()], dtype=np.float64).reshape(-1)
    if extra_ok and len(c) == length + 1:  # PDEBench's t-coordinate holds the end time too
        c = c[:length]
    if len(c) != length:
        raise _fail(path, f"coordinate {name!r} has {len(c)} values but the data have {length} along that axis")
    if not np.isfinite(c).all():
        raise _fail(path, f"coordinate {name!r} holds NaN or infinite values")
    return c


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _inspect_pdebench(f, path) -> Layout:
    names = ["tensor"] if "tensor" in f else [n for n in _CFD if n in f]
    if not names:
        raise _fail(path, f"missing dataset 'tensor' (or the variables {list(_CFD)}) of a PDEBench file")
    shape = tuple(f[names[0]].shape)
    for n in names:
        if tuple(f[n].shape) != shape:
            raise _fail(path, f"dataset {n!r} has shape {tuple(f[n].shape)}, {names[0]!r} has {shape}")
    if len(shape) < 3 or len(shape) > 5:
        raise _fail(path, f"dataset {names[0]!r} has shape {shape}; expected (samples, times, x[, y[, z]])")
    axes = _SPACE[: len(shape) - 2]
    coords = {a: _coordinate(f, f"{a}-coordinate", n, path) for a, n in zip(axes, shape[2:])}
    t = _coordinate(f, "t-coordinate", shape[1], path, extra_ok=True)
    return Layout(str(path), "pdebench", shape[0], shape[1], shape[2:], tuple(names), axes, coords, t,
                  axes, Path(path).stem)


def _inspect_groups(f, path) -> Layout:
    keys = sorted(k for k in f if k.isdigit())
    first = f[keys[0]]
    data = _dataset(first, "data", path)
    if data.ndim < 3 or data.ndim > 5:
        raise _fail(path, f"dataset '{keys[0]}/data' has shape {data.shape}; expected (times, x[, y[, z]], channels)")
    times, space, nc = data.shape[0], tuple(data.shape[1:-1]), data.shape[-1]
    axes = _SPACE[: len(space)]
    coords = {a: _coordinate(first, f"grid/{a}", n, path) for a, n in zip(axes, space)}
    t = _coordinate(first, "grid/t", times, path, extra_ok=True)
    for k in keys:
        if "data" not in f[k] or tuple(f[k]["data"].shape) != tuple(data.shape):
            got = tuple(f[k]["data"].shape) if "data" in f[k] else "no 'data'"
            raise _fail(path, f"sample group {k!r} has {got}; the first sample has shape {tuple(data.shape)}")
    return Layout(str(path), "pdebench_groups", len(keys), times, space, tuple(f"c{i}" for i in range(nc)),
                  axes, coords, t, axes, Path(path).stem)


def _inspect_well(f, path) -> Layout:
    for attr in ("n_trajectories", "n_spatial_dims"):
        if attr not in f.attrs:
            raise _fail(path, f"missing root attribute {attr!r} of The Well's layout")
    grid_type = _text(f.attrs.get("grid_type", "cartesian"))
    if grid_type != "cartesian":
        raise _fail(path, f"grid_type {grid_type!r} is not supported; only 'cartesian' grids are")
    dims = f["dimensions"]
    axes = tuple(_text(a) for a in dims.attrs.get("spatial_dims", _SPACE[: int(f.attrs["n_spatial_dims"])]))
    n, d = int(f.attrs["n_trajectories"]), len(axes)
    if d != int(f.attrs["n_spatial_dims"]):
        raise _fail(path, f"dimensions lists {d} spatial dims {list(axes)} but n_spatial_dims = {f.attrs['n_spatial_dims']}")
    channels: list[str] = []
    shape = None
    for order, group in enumerate(("t0_fields", "t1_fields", "t2_fields")):
        if group not in f:
            continue
        for name in f[group].attrs.get("field_names", list(f[group])):
            ds = _dataset(f[group], _text(name), path)
            if not (ds.attrs.get("sample_varying", True) and ds.attrs.get("time_varying", True)):
                continue
            lead = ds.shape[: ds.ndim - order]
            if len(lead) != 2 + d or lead[0] != n:
                raise _fail(path, f"field '{group}/{_text(name)}' has shape {ds.shape}; expected "
                                  f"({n}, times, {d} spatial sizes{', ' + ', '.join(['D'] * order) if order else ''})")
            if shape is not None and lead[1:] != shape:
                raise _fail(path, f"field '{group}/{_text(name)}' has frames of shape {lead[1:]}, others {shape}")
            shape = lead[1:]
            comps = [""] if order == 0 else [f"_{i}" for i in range(d ** order)]
            channels += [f"{_text(name)}{c}" for c in comps]
    if shape is None:
        raise _fail(path, "no field varying over samples and time in t0_fields, t1_fields or t2_fields")
    coords = {a: _coordinate(dims, a, s, path) for a, s in zip(axes, shape[1:])}
    t = _coordinate(dims, "time", shape[0], path)
    periodic: list[str] = []
    for bc in f.get("boundary_conditions", {}).values():
        if _text(bc.attrs.get("bc_type", "")).lower() == "periodic":
            periodic += [_text(a) for a in bc.attrs.get("associated_dims", [])]
    return Layout(str(path), "well", n, shape[0], tuple(shape[1:]), tuple(channels), axes, coords, t,
                  tuple(a for a in axes if a in periodic), _text(f.attrs.get("dataset_name", Path(path).stem)))


def inspect(path: str | Path) -> Layout:
    """The layout of ``path`` and its sizes, from metadata alone (no field is read)."""
    path = Path(path)
    if not str(path).strip() or not path.is_file():
        raise ValueError(f"Data file {str(path)!r} does not exist")
    h5py = _h5py()
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise _fail(path, f"not an HDF5 file ({err})") from None
    with f:
        if "t0_fields" in f or "t1_fields" in f or "t2_fields" in f:
            layout = _inspect_well(f, path)
        elif any(k.isdigit() for k in f):
            layout = _inspect_groups(f, path)
        else:
            layout = _inspect_pdebench(f, path)
    if layout.n < 1 or layout.times < 2:
        raise _fail(path, f"{layout.n} samples of {layout.times} frames: need at least 1 sample of 2 frames")
    return layout


def read(layout: Layout, start: int, stop: int, times: slice = slice(None), *, file=None) -> np.ndarray:
    """Samples ``start:stop`` (frames ``times``) as float32 ``(n, T, C, *space)``, checked finite;
    ``file``: an open ``h5py.File`` of ``layout.path`` to read from (else it is opened here)."""
    with (_h5py().File(layout.path, "r") if file is None else contextlib.nullcontext(file)) as f:
        if layout.kind == "pdebench":
            out = np.stack([np.asarray(f[c][start:stop, times]) for c in layout.channels], axis=2)
        elif layout.kind == "pdebench_groups":
            keys = sorted(k for k in f if k.isdigit())[start:stop]
            out = np.stack([np.moveaxis(np.asarray(f[k]["data"][times]), -1, 1) for k in keys])
        else:
            parts = []
            for order, group in enumerate(("t0_fields", "t1_fields", "t2_fields")):
                for name in (f[group].attrs.get("field_names", list(f[group])) if group in f else ()):
                    ds = f[group][_text(name)]
                    if not (ds.attrs.get("sample_varying", True) and ds.attrs.get("time_varying", True)):
                        continue
                    a = np.asarray(ds[start:stop, times])
                    a = a.reshape(a.shape[: 2 + len(layout.axes)] + (-1,))  # components last
                    parts.append(np.moveaxis(a, -1, 2))
            out = np.concatenate(parts, axis=2)
    out = out.astype(np.float32, copy=False)
    if not np.isfinite(out).all():
        bad = start + int(np.argwhere(~np.isfinite(out))[0, 0])
        raise _fail(layout.path, f"sample {bad} holds NaN or infinite values")
    return out


class Trajectories(Dataset):
    """Trajectories ``[start, stop)`` of an external file, read on demand by index ranges.

    ``t[i]`` is one trajectory ``(T, C, *space)``; ``t[a:b]`` and ``t[a:b, s]`` (a frame slice)
    read one contiguous range — how :class:`lab.training.tasks.operator.OperatorTask` draws
    windows and evaluates in chunks — so memory holds a batch, never the file (only the FNO's
    output normaliser, when switched on, reads the training frames once to fit itself).
    ``dtype=None`` gives NumPy float32 arrays instead of tensors."""

    def __init__(self, layout: Layout, start: int, stop: int, *, device=None, dtype=torch.float32):
        if not 0 <= start < stop <= layout.n:
            raise ValueError(f"samples {start}:{stop} lie outside the file's {layout.n} trajectories")
        self.layout, self.start, self.stop = layout, start, stop
        self.device, self.dtype = device, dtype
        self._file = None  # opened on the first read, kept for the next ones

    def __getstate__(self):  # an open HDF5 handle does not travel to another process
        return {**self.__dict__, "_file": None}

    def _read(self, a: int, b: int, times: slice) -> np.ndarray:
        if self._file is None:
            self._file = _h5py().File(self.layout.path, "r")
        return read(self.layout, self.start + a, self.start + b, times, file=self._file)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.stop - self.start, self.layout.times, len(self.layout.channels), *self.layout.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, key) -> torch.Tensor:
        key = key if isinstance(key, tuple) else (key, slice(None))
        if len(key) != 2 or not isinstance(key[1], slice):
            raise IndexError("index trajectories by sample and a frame slice only")
        first, times = key
        if isinstance(first, slice):
            a, b, step = first.indices(len(self))
            if step != 1:
                raise IndexError("sample ranges must be contiguous")
            arr = self._read(a, b, times) if b > a else \
                np.zeros((0,) + self.shape[1:], np.float32)
        else:
            i = int(first) + (len(self) if int(first) < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"trajectory {first} out of range for {len(self)}")
            arr = self._read(i, i + 1, times)[0]
        return arr if self.dtype is None else torch.as_tensor(arr, device=self.device, dtype=self.dtype)
