"""npe2 writer: an image layer and its cavity/wall/scar label layers as a case store."""

from __future__ import annotations

import warnings
from pathlib import Path

from .errors import SaveRefused
from .io.case import provenance_entry
from .io.store import STORE_SUFFIX
from .io.storewrite import StoreConflict, write_case_store
from .layers import case_from_layers, record_store


def store_name(path: str) -> str:
    """``path`` as a case store name (``<case>.ome.zarr``), warning when it had to change it."""
    if path.endswith(STORE_SUFFIX):
        return path
    named = path.removesuffix(".zarr") + STORE_SUFFIX
    warnings.warn(
        f"{path}: case stores are named <case>{STORE_SUFFIX}; saved as {named}.", UserWarning, stacklevel=3
    )
    return named


def write_case(path: str, layer_data: list[tuple]) -> list[str]:
    """Write one image layer with its label layers to ``<case>.ome.zarr``.

    Labels layers become structures by name, by the structure the plugin set in their metadata,
    or by value (1 cavity, 2 wall, 3 scar): see :func:`napari_c2w.layers.place_labels`. A layer
    that fits none of these is refused with an error naming it, before anything is written.
    Labels already in the store that differ are replaced, and their previous versions are kept
    inside the store (``versions/``), so saving never loses an annotation.

    Layers read from this store carry the revision they were read at; if the store changed since
    (a napari-c2w command or another napari session saved it), nothing is written and
    :class:`~napari_c2w.io.storewrite.StoreConflict` says how to keep the edit. It is an ``OSError``:
    napari shows it, while it would swallow a ``ValueError`` as "no writer found". After a save
    the layers record the new revision, so saving them again works. Layers it cannot save raise
    :class:`~napari_c2w.errors.SaveRefused` for the same reason.
    """
    images = [d for d in layer_data if d[2] == "image"]
    if len(images) != 1:
        raise SaveRefused(
            f"{path}: select exactly one image layer (with its label layers) to save as a case store; "
            f"{len(images)} image layers were selected."
        )
    labels = [d for d in layer_data if d[2] == "labels"]
    try:
        case = case_from_layers(images[0], labels)
    except ValueError as err:  # InputError included: napari would hide it as "not a valid writer"
        raise SaveRefused(f"{path}: nothing was saved. {err}") from None
    path = store_name(path)
    entry = provenance_entry("napari save", structures=case.structures)
    try:
        written = write_case_store(case, path, overwrite=True, entry=entry)
    except StoreConflict:
        raise StoreConflict(_conflict_message(Path(path))) from None
    record_store([images[0], *labels], written, case.revision)
    return [str(written)]


def _conflict_message(path: Path) -> str:
    other = path.with_name(path.name.removesuffix(STORE_SUFFIX) + "-edited" + STORE_SUFFIX)
    return (
        f"{path} was changed after these layers were opened from it (a napari-c2w command such as "
        "`review --clean`, or another napari session, saved it since); nothing was saved, so that "
        f"change is kept. To keep your edit, save these layers under another name (e.g. {other.name}) "
        f"and compare, or open {path.name} again and redo the edit on top of the other change."
    )
