"""What a stored label must be before any command uses it (one source for reads and ``check``).

A case store keeps each structure as its own uint8 0/1 image on the image's grid (see
:mod:`.store`). Other tools' OME-Zarr images may store a structure as 0 and its value of the
label map (:data:`napari_c2w.labels.LABELS`, e.g. scar 0/3); both read as the same 0/1 mask.
Anything else (another spacing or origin than the image's, other values) is damage: using it
would put a label on the wrong voxels or merge several structures into one mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..labels import LABELS

#: Largest difference (mm, and relative) between a label's and the image's spacing or origin.
GRID_TOLERANCE = 1e-4

#: What to do about a damaged label, for every message naming one.
DAMAGED_LABEL_FIX = (
    "Restore the store from a backup, or move it away and import the case again "
    "(`napari-c2w check DATASET` lists every damaged store)."
)


def allowed_values(structure: str) -> tuple[set[int], ...]:
    """The value sets a stored ``structure`` label may hold: 0/1, or 0 and its label-map value."""
    return ({0, 1}, {0, LABELS[structure]})


def grid_problem(
    structure: str,
    geometry: tuple[Sequence[float], Sequence[float]],
    image_geometry: tuple[Sequence[float], Sequence[float]],
) -> str | None:
    """Why a label with (spacing, origin) ``geometry`` is not on the image's grid, or None."""
    (spacing, origin), (image_spacing, image_origin) = geometry, image_geometry
    if np.allclose(spacing, image_spacing, rtol=GRID_TOLERANCE, atol=GRID_TOLERANCE) and np.allclose(
        origin, image_origin, rtol=GRID_TOLERANCE, atol=GRID_TOLERANCE
    ):
        return None
    return (
        f"its {structure} label is not on the image grid (spacing {_mm(spacing)}, origin "
        f"{_mm(origin)} mm vs the image's {_mm(image_spacing)}, {_mm(image_origin)} mm)"
    )


def value_problem(structure: str, array: np.ndarray) -> str | None:
    """Why the values of a stored ``structure`` label are not a 0/1 (or 0/value) mask, or None."""
    values = _values(np.asarray(array))
    if any(values <= allowed for allowed in allowed_values(structure)):
        return None
    shown = sorted(values)[:8]
    return (
        f"its {structure} label holds values {shown}{' ...' if len(values) > 8 else ''}, "
        f"not only 0/1 (or 0/{LABELS[structure]})"
    )


def _values(array: np.ndarray) -> set:
    if array.dtype in (np.uint8, np.bool_):  # the usual case: a histogram is much faster than unique
        counts = np.bincount(array.ravel().view(np.uint8), minlength=2)
        return {int(v) for v in np.flatnonzero(counts)}
    return {v.item() for v in np.unique(array)}


def _mm(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(v):g}" for v in values) + ")"
