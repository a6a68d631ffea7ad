"""The OME-Zarr (NGFF 0.5) side of a case store: geometry, chunking, writing a store tree.

Kept apart from :mod:`.store` (which decides what to write and commits it) so that both
stay small. Every chunk is written, also all-zero ones (``write_empty_chunks``), so that a
missing chunk file is detectable as damage (:func:`read_array`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..labels import COLORS
from .case import Case
from .volume import Volume

#: the attribute key of napari-c2w's own metadata in the root zarr.json
ATTRS_KEY = "napari_c2w"
_AXES = [{"name": a, "type": "space", "unit": "millimeter"} for a in "zyx"]


def ct(volume: Volume) -> list[list[dict]]:
    return [
        [
            {"type": "scale", "scale": list(volume.spacing)},
            {"type": "translation", "translation": list(volume.origin)},
        ]
    ]


def geometry_from_multiscales(ms: dict, path: Path) -> tuple[str, tuple, tuple]:
    dataset = ms["datasets"][0]
    scale, translation = (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)
    for t in list(ms.get("coordinateTransformations", [])) + list(
        dataset.get("coordinateTransformations", [])
    ):
        if t.get("type") == "scale":
            scale = tuple(np.multiply(scale, t["scale"]))
        elif t.get("type") == "translation":
            translation = tuple(np.add(translation, t["translation"]))
    if len(scale) != 3:
        raise InputError(path, f"is a {len(scale)}D OME-Zarr image; napari-c2w needs a 3D (z, y, x) volume.")
    return dataset["path"], scale, translation


def read_array(array, path: Path, name: str, complete: bool) -> np.ndarray:
    """Read a zarr array; with ``complete`` (format >= 2) a missing chunk is damage, not zeros."""
    if complete:
        missing = array.nchunks - array.nchunks_initialized
        if missing:
            raise InputError(
                path,
                f"is damaged: {missing} of the {array.nchunks} chunk files of {name} are missing "
                "(they would read as zeros).",
                "Restore the store from a backup or re-import the case.",
            )
    return np.asarray(array[...])


def chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(min(n, c) for n, c in zip(shape, (32, 128, 128), strict=False))


#: every chunk is written, also all-zero ones, so that a missing chunk file is detectable
_ALL_CHUNKS = {"write_empty_chunks": True}


def write_tree(
    case: Case,
    tmp: Path,
    ours: dict,
    versions: dict[str, list[tuple[str, np.ndarray]]],
    progress: Callable[[str], None] | None,
) -> None:
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_multiscale, write_multiscale_labels

    fmt = FormatV05()
    root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
    opts = {"chunks": chunks(case.image.shape), "config": _ALL_CHUNKS}
    write_multiscale(
        [case.image.array],
        root,
        fmt=fmt,
        axes=_AXES,
        name=case.case_id,
        coordinate_transformations=ct(case.image),
        storage_options=opts,
    )
    if progress:
        progress("image")
    for name in case.structures:
        write_multiscale_labels(
            [case.labels[name]],
            root,
            name=name,
            fmt=fmt,
            axes=_AXES,
            coordinate_transformations=ct(case.image),
            storage_options=opts,
            label_metadata={
                "colors": [{"label-value": 1, "rgba": list(COLORS[name])}],
                "source": {"image": "../../"},
            },
        )
        if progress:
            progress(name)
    if case.structures:  # ome-zarr-py leaves out the version that NGFF 0.5 requires here
        labels_group = root["labels"]
        labels_group.attrs["ome"] = {"version": fmt.version, "labels": case.structures}
    for name, items in versions.items():
        for key, array in items:
            root.require_group(f"versions/{name}").create_array(
                key, data=array, chunks=chunks(array.shape), config=_ALL_CHUNKS
            )
    root.attrs[ATTRS_KEY] = ours
