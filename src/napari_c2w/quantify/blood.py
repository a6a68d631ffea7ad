"""The left-atrial blood pool: the reference the intensity scar methods normalise by.

The blood pool is the cavity eroded by ``erode_mm`` (default 3 mm, CemrgApp uses 2-3 mm), so the
partial-volumed rim next to the wall does not bias its statistics. Distances are Euclidean in mm
on the anisotropic grid (bounded separable distances on the cavity's bounding box, no
full-volume distance transform).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..masks.geometry import bbox, bounded_sq_distance, grow

ERODE_MM = 3.0
_MIN_BLOOD_VOXELS = 50


@dataclasses.dataclass
class BloodPool:
    """Blood-pool statistics of a case: mean and standard deviation of the eroded cavity."""

    mean: float
    sd: float
    voxels: int
    erode_mm: float


def check_grid(image: np.ndarray, cavity: np.ndarray, spacing: Sequence[float]) -> tuple[float, float, float]:
    """``spacing`` as 3 floats, after checking the image is 3D and the cavity on its grid."""
    spacing = tuple(float(s) for s in spacing)
    if np.ndim(image) != 3:
        raise ValueError(f"the image must be a 3D (z, y, x) volume, not {np.ndim(image)}D")
    if np.shape(cavity) != np.shape(image):
        raise ValueError(f"the cavity has shape {np.shape(cavity)} but the image has {np.shape(image)}")
    if len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError(f"spacing must be 3 positive numbers (mm), not {spacing}")
    return spacing


def blood_pool(
    image: np.ndarray, cavity: np.ndarray, spacing: Sequence[float], erode_mm: float = ERODE_MM
) -> BloodPool:
    """Mean and SD of the image in the cavity eroded by ``erode_mm``.

    Raises:
        ValueError: bad shapes/spacing, a negative erosion, or fewer than 50 voxels of
            blood pool left (the cavity is empty or too thin: lower ``erode_mm``).
    """
    spacing = check_grid(image, cavity, spacing)
    if erode_mm < 0:
        raise ValueError(f"the blood-pool erosion must be >= 0 mm, not {erode_mm}")
    box = grow(bbox(cavity), (1, 1, 1), np.shape(cavity))
    if box is None:
        raise ValueError("the cavity is empty: the blood pool needs a cavity label")
    cav = np.asarray(cavity[box]) != 0
    if erode_mm > 0:
        d2 = bounded_sq_distance(~cav, spacing, erode_mm + max(spacing))
        pool = cav & (d2 > erode_mm**2)
    else:
        pool = cav
    n = int(np.count_nonzero(pool))
    if n < _MIN_BLOOD_VOXELS:
        raise ValueError(
            f"only {n} blood-pool voxels are left after eroding the cavity by {erode_mm:g} mm; "
            "the cavity is too small or thin: lower the erosion"
        )
    values = np.asarray(image[box], dtype=np.float64)[pool]
    return BloodPool(float(values.mean()), float(values.std()), n, float(erode_mm))
