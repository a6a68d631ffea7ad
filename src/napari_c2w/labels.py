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

#: A DICOM coded concept: (coding scheme, code value, code meaning).
Code = tuple[str, str, str]
LEFT_ATRIUM: Code = ("SCT", "82471001", "Left atrium")
ANATOMICAL_STRUCTURE: Code = ("SCT", "123037004", "Anatomical Structure")

#: Each structure as DICOM/SNOMED CT codes: segmentation category, type and anatomic region (or
#: None), as DICOM SEG and 3D Slicer's terminology ("Segmentation category and type - DICOM
#: master list") code segments. Left atrium, Anatomical Structure, Tissue and Scar tissue are
#: entries of Slicer's DICOM master list; Myocardium (74281007) is SNOMED CT's myocardium
#: structure, the code DICOM's cardiac segmentation types use; wall and scar lie in the left atrium.
TERMINOLOGY: dict[str, tuple[Code, Code, Code | None]] = {
    "cavity": (ANATOMICAL_STRUCTURE, LEFT_ATRIUM, None),
    "wall": (ANATOMICAL_STRUCTURE, ("SCT", "74281007", "Myocardium"), LEFT_ATRIUM),
    "scar": (("SCT", "85756007", "Tissue"), ("SCT", "12402003", "Scar tissue"), LEFT_ATRIUM),
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
