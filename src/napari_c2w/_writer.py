"""npe2 writer: an image layer and its cavity/wall/scar label layers as a case store."""

from __future__ import annotations

from .io.case import provenance_entry
from .io.store import STORE_SUFFIX, write_case_store
from .layers import case_from_layers


def write_case(path: str, layer_data: list[tuple]) -> list[str]:
    """Write one image layer with its label layers to ``<case>.ome.zarr``.

    Labels already in the store that differ are replaced, and their previous versions
    are kept inside the store (``versions/``), so saving never loses an annotation.
    """
    images = [d for d in layer_data if d[2] == "image"]
    if len(images) != 1:
        raise ValueError(f"select exactly one image layer to save as a case store (got {len(images)})")
    labels = [d for d in layer_data if d[2] == "labels"]
    path = path if path.endswith(STORE_SUFFIX) else path.removesuffix(".zarr") + STORE_SUFFIX
    case = case_from_layers(images[0], labels)
    entry = provenance_entry("napari save", structures=case.structures)
    return [str(write_case_store(case, path, overwrite=True, entry=entry))]
