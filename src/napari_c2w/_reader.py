"""npe2 reader: volumes, label files, challenge case folders, DICOM folders, OME-Zarr images.

:func:`napari_get_reader` returns a reader only for what napari-c2w can read, so napari (and
npe2's ranking) can hand anything else to another plugin.
"""

from __future__ import annotations

from pathlib import Path

from ._session import first_use
from .io.layouts import detect_layout, read_case_folder, structure_of_label_file
from .io.omezarr import is_3d_ome_zarr, is_dicom_folder, ome_attributes, read_ome_zarr
from .io.store import ATTRS_KEY, read_case_store
from .io.volume import is_volume_file, read_label_volume, read_volume
from .layers import case_layers, label_layer, ome_zarr_layers, volume_layer, warn_if_oblique


def napari_get_reader(path):
    """Return a reader for ``path`` if napari-c2w can open it, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if is_volume_file(p) and p.is_file():
        return read_layers
    if p.is_dir() and (is_3d_ome_zarr(p) or detect_layout(p) or is_dicom_folder(p)):
        return read_layers
    return None


def _is_ours(path: Path) -> bool:
    """A case store napari-c2w wrote (OME-Zarr 0.5 with the case's attributes)."""
    import json

    try:
        attrs = json.loads((path / "zarr.json").read_text()).get("attributes", {})
        return isinstance(attrs, dict) and ATTRS_KEY in attrs
    except (OSError, ValueError, RecursionError, AttributeError):
        return False


def read_layers(path) -> list[tuple]:
    """Read ``path`` into napari layer data tuples (errors name the file and the fix)."""
    first_use()  # chosen once in napari's dialog: the preferred reader from now on
    p = Path(path[0] if isinstance(path, list) else path)
    if p.is_dir() and ome_attributes(p):
        return case_layers(read_case_store(p)) if _is_ours(p) else ome_zarr_layers(read_ome_zarr(p))
    if p.is_dir() and detect_layout(p):
        return case_layers(read_case_folder(p))
    structure = structure_of_label_file(p)
    if structure is not None:
        label = read_label_volume(p)
        return [label_layer(label.array, structure, label)]
    volume = read_volume(p)  # a file, or a folder holding one DICOM series
    warn_if_oblique(volume)
    name = p.name.split(".")[0] if p.is_file() else p.name
    return [volume_layer(volume, name)]
