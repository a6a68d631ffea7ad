"""npe2 reader: volumes, label files, challenge case folders, DICOM folders, case stores."""

from __future__ import annotations

from pathlib import Path

from .io.layouts import detect_layout, read_case_folder, structure_of_label_file
from .io.store import is_case_store, read_case_store
from .io.volume import is_volume_file, read_label_volume, read_volume
from .layers import case_layers, label_layer, volume_layer, warn_if_oblique


def napari_get_reader(path):
    """Return a reader for ``path`` if napari-c2w can open it, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if is_volume_file(p) or is_case_store(p) or detect_layout(p) or (p.is_dir() and _has_files(p)):
        return read_layers
    return None


def _has_files(folder: Path) -> bool:
    return any(f.is_file() for f in folder.iterdir())


def read_layers(path) -> list[tuple]:
    """Read ``path`` into napari layer data tuples (errors name the file and the fix)."""
    p = Path(path[0] if isinstance(path, list) else path)
    if is_case_store(p):
        return case_layers(read_case_store(p))
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
