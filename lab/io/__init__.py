"""Fields out of the lab in the formats the field uses: xarray (netCDF, zarr), VTK image data
(ParaView) and animations (MP4, GIF).

Each writer takes a :class:`FieldSet` — the fields of one evaluation on a tensor-product grid,
with the problem's axes and the provenance that says where they came from — so the same code
exports a saved run, a live snapshot or a reference solution. The formats' libraries are
optional (``pip install sciml-lab[io]``) and imported only when a writer is called; a missing
one is named in the error.
"""
from lab.io.fields import FieldSet, field_set
from lab.io.writers import FORMATS, export, read_dataset

__all__ = ["FORMATS", "FieldSet", "export", "field_set", "read_dataset"]
