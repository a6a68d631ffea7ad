"""Intensity-based LA scar: the clinical thresholds (IIR and mean + k·SD of the blood pool).

Both conventions normalise the wall's LGE intensities by the left-atrial blood pool, as
CemrgApp and the Utah (CARMA) tools do:

* **IIR** (image intensity ratio): ``IIR(x) = I(x) / mean(blood pool)``; a wall voxel is
  fibrosis when ``IIR > 1.20`` and dense scar when ``IIR > 1.32`` (Benito et al. 2017).
* **mean + k·SD**: a wall voxel is scar when ``I(x) > mean + k * SD`` of the blood pool,
  with ``k`` typically 2-4 (3 by default here).

The blood pool is the cavity eroded by ``erode_mm`` (default 3 mm, CemrgApp uses 2-3 mm),
so the partial-volumed rim next to the wall does not bias its statistics. Distances are
Euclidean in mm on the anisotropic grid (bounded separable distances on the cavity's
bounding box, no full-volume distance transform).

Scar is searched in the wall label when one is given (wall voxels that are not cavity), or
else in the outer part of the wall band (non-cavity voxels within ``outer_mm`` of the
cavity): blood inside the cavity has an IIR near 1 and must not be thresholded.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ..masks.geometry import bbox, bounded_sq_distance, grow, margin_voxels

#: Scar methods known to :func:`intensity_scar` and the report.
METHODS = ("network", "iir", "sd")
IIR_FIBROSIS = 1.20
IIR_DENSE = 1.32
SD_K = 3.0
ERODE_MM = 3.0
OUTER_MM = 2.5
_MIN_BLOOD_VOXELS = 50


@dataclasses.dataclass
class BloodPool:
    """Blood-pool statistics of a case: mean and standard deviation of the eroded cavity."""

    mean: float
    sd: float
    voxels: int
    erode_mm: float


@dataclasses.dataclass
class IntensityScar:
    """Intensity scar of a case.

    Attributes:
        mask: boolean scar mask (full grid).
        region: boolean mask of the voxels that were thresholded (wall, or outer band).
        method: ``"iir"`` or ``"sd"``.
        threshold: the intensity threshold applied (image units).
        blood: blood-pool statistics.
        region_basis: ``"wall"`` or ``"band"``.
    """

    mask: np.ndarray
    region: np.ndarray
    method: str
    threshold: float
    blood: BloodPool
    region_basis: str

    @property
    def burden_pct(self) -> float:
        """Scar voxels as a percentage of the thresholded region (NaN when it is empty)."""
        n = int(np.count_nonzero(self.region))
        return 100.0 * int(np.count_nonzero(self.mask)) / n if n else math.nan


def _check(image: np.ndarray, cavity: np.ndarray, spacing: Sequence[float]) -> tuple[float, float, float]:
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
    spacing = _check(image, cavity, spacing)
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


def scar_region(
    cavity: np.ndarray, spacing: Sequence[float], wall: np.ndarray | None = None, outer_mm: float = OUTER_MM
) -> tuple[np.ndarray, str]:
    """The voxels where intensity scar is searched: (mask, ``"wall"`` or ``"band"``).

    With a wall label: wall voxels that are not cavity. Without: non-cavity voxels within
    ``outer_mm`` of the cavity.
    """
    cav = np.asarray(cavity) != 0
    if wall is not None:
        if np.shape(wall) != cav.shape:
            raise ValueError(f"the wall has shape {np.shape(wall)} but the cavity has {cav.shape}")
        return (np.asarray(wall) != 0) & ~cav, "wall"
    out = np.zeros(cav.shape, dtype=bool)
    box = grow(bbox(cav), margin_voxels(outer_mm, spacing), cav.shape)
    if box is not None:
        c = cav[box]
        out[box] = ~c & (bounded_sq_distance(c, spacing, outer_mm) <= outer_mm**2 * (1 + 1e-6))
    return out, "band"


def intensity_threshold(
    blood: BloodPool, method: str, iir: float = IIR_FIBROSIS, sd_k: float = SD_K
) -> float:
    """The image-intensity threshold of ``method`` (``"iir"`` or ``"sd"``) for this blood pool."""
    if method == "iir":
        if iir <= 0:
            raise ValueError(f"the IIR threshold must be > 0, not {iir}")
        return iir * blood.mean
    if method == "sd":
        return blood.mean + sd_k * blood.sd
    raise ValueError(f"unknown intensity scar method {method!r}; expected 'iir' or 'sd'")


def intensity_scar(
    image: np.ndarray,
    cavity: np.ndarray,
    spacing: Sequence[float],
    wall: np.ndarray | None = None,
    *,
    method: str = "iir",
    iir: float = IIR_FIBROSIS,
    sd_k: float = SD_K,
    erode_mm: float = ERODE_MM,
    outer_mm: float = OUTER_MM,
    blood: BloodPool | None = None,
) -> IntensityScar:
    """Scar as wall voxels brighter than the blood-pool threshold of ``method``.

    Args:
        image: the LGE volume (z, y, x).
        cavity: cavity mask on the same grid.
        spacing: voxel size in mm (z, y, x).
        wall: wall mask; None searches the outer wall band instead (see :func:`scar_region`).
        method: ``"iir"`` (``I > iir * mean``) or ``"sd"`` (``I > mean + sd_k * SD``).
        iir: IIR threshold (1.20 fibrosis, 1.32 dense scar).
        sd_k: number of blood-pool standard deviations.
        erode_mm: erosion of the cavity giving the blood pool.
        outer_mm: reach of the band outside the cavity when there is no wall.
        blood: blood-pool statistics already computed, to reuse.

    Raises:
        ValueError: bad shapes, spacing, method or thresholds, or no blood pool.
    """
    spacing = _check(image, cavity, spacing)
    if blood is None:
        blood = blood_pool(image, cavity, spacing, erode_mm)
    threshold = intensity_threshold(blood, method, iir, sd_k)
    region, basis = scar_region(cavity, spacing, wall, outer_mm)
    mask = region & (np.asarray(image) > threshold)
    return IntensityScar(mask, region, method, float(threshold), blood, basis)


def burden_pct(scar: np.ndarray, region: np.ndarray) -> float:
    """``scar ∩ region`` as a percentage of ``region`` (NaN when the region is empty)."""
    n = int(np.count_nonzero(region))
    return 100.0 * int(np.count_nonzero((np.asarray(scar) != 0) & region)) / n if n else math.nan


def scar_agreement(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """Dice of two scar masks within ``region`` and their burden difference (``a - b``, points).

    Dice is NaN when both are empty in the region; burdens are shares of the region.
    """
    region = np.asarray(region) != 0
    sa = (np.asarray(a) != 0) & region
    sb = (np.asarray(b) != 0) & region
    total = int(np.count_nonzero(sa)) + int(np.count_nonzero(sb))
    dice = 2.0 * int(np.count_nonzero(sa & sb)) / total if total else math.nan
    return {"dice": dice, "burden_diff_pp": burden_pct(sa, region) - burden_pct(sb, region)}
