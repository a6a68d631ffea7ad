"""The project's label map: one source for structure names, values and colours.

In memory and in napari, each structure has its own Labels layer whose foreground
carries the structure's value below (cavity 1, wall 2, scar 3), so the three layers
can be shown together without colour clashes. On disk (the case store) each
structure is its own uint8 0/1 array.
"""

from __future__ import annotations

import numpy as np

BACKGROUND = 0
CAVITY = 1
WALL = 2
SCAR = 3

#: Structure name -> label value, in pipeline order.
LABELS: dict[str, int] = {"cavity": CAVITY, "wall": WALL, "scar": SCAR}
STRUCTURES: tuple[str, ...] = tuple(LABELS)

#: RGBA colours (0-255) used for image-label metadata and napari layers.
COLORS: dict[str, tuple[int, int, int, int]] = {
    "cavity": (230, 60, 60, 255),
    "wall": (60, 170, 255, 255),
    "scar": (255, 220, 40, 255),
}

#: Label files of the public challenges and the structure each one holds.
CHALLENGE_LABEL_FILES: dict[str, str] = {
    "laendo.nrrd": "cavity",  # 2018 LA segmentation challenge (Utah)
    "lawall.nrrd": "wall",
    "atriumSegImgMO.nii.gz": "cavity",  # LAScarQS 2022
    "scarSegImgM.nii.gz": "scar",
}


def check_structure(name: str) -> str:
    """Return ``name`` if it is a known structure, else raise a clear error."""
    if name not in LABELS:
        raise ValueError(f"unknown structure {name!r}; expected one of {', '.join(STRUCTURES)}")
    return name


def to_layer(mask: np.ndarray, structure: str) -> np.ndarray:
    """A 0/1 (or boolean) mask as a uint8 Labels array holding the structure's value."""
    value = LABELS[check_structure(structure)]
    return (np.asarray(mask) > 0).astype(np.uint8) * np.uint8(value)


def to_mask(layer_data: np.ndarray) -> np.ndarray:
    """Any Labels array (0/value, 0/255, ...) as a uint8 0/1 mask."""
    return (np.asarray(layer_data) > 0).astype(np.uint8)


def napari_colormap(structure: str) -> dict:
    """A ``colormap`` argument for ``viewer.add_labels`` showing the structure's colour."""
    from napari.utils.colormaps import DirectLabelColormap

    rgba = np.asarray(COLORS[check_structure(structure)], dtype=float) / 255.0
    return DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), LABELS[structure]: rgba})
