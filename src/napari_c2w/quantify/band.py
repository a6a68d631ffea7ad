"""The wall band specification: how far around the LA cavity scar is looked for.

One :class:`BandSpec` carries the band's reach (``inner_mm`` into the cavity, ``outer_mm`` out of
it; the progressive-learning paper's δ_in = 3.0 mm and δ_out = 2.5 mm) for every consumer: the
plausibility band of review and report (:meth:`BandSpec.band`, the full band, where scar voxels
outside count as implausible) and the scar region over which burden is measured
(:meth:`BandSpec.scar_region`, see :mod:`napari_c2w.quantify`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..masks.band import INNER_MM, OUTER_MM, Band, wall_band
from ..masks.geometry import bbox, bounded_sq_distance, grow, margin_voxels

_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class BandSpec:
    """The wall band's reach around the cavity boundary (mm).

    Attributes:
        inner_mm: depth of the band inside the cavity (δ_in).
        outer_mm: reach of the band outside the cavity (δ_out); also the scar region's reach
            without a wall label.
    """

    inner_mm: float = INNER_MM
    outer_mm: float = OUTER_MM

    def __post_init__(self) -> None:
        if self.inner_mm < 0 or self.outer_mm < 0:
            raise ValueError(f"band distances must be >= 0 mm (inner {self.inner_mm}, outer {self.outer_mm})")

    def band(self, cavity: np.ndarray, spacing: Sequence[float], wall: np.ndarray | None = None) -> Band:
        """The full wall band (both sides of the cavity boundary, united with the wall label)."""
        return wall_band(cavity, spacing, self.inner_mm, self.outer_mm, wall=wall)

    def scar_region(
        self, cavity: np.ndarray | None, spacing: Sequence[float] | None, wall: np.ndarray | None = None
    ) -> tuple[np.ndarray, str]:
        """The voxels over which scar burden is measured: (boolean mask, ``"wall"`` or ``"band"``).

        With a wall label: wall voxels that are not cavity. Without: non-cavity voxels within
        ``outer_mm`` of the cavity (the outer part of the band; blood is never counted).

        Args:
            cavity: cavity mask, or None (no cavity: nothing is excluded, and without a wall
                the region is empty).
            spacing: voxel size in mm (z, y, x); needed only without a wall.
            wall: wall mask on the same grid, or None.
        """
        ref = cavity if cavity is not None else wall
        if ref is None:
            raise ValueError("the scar region needs a cavity or a wall mask")
        cav = np.zeros(np.shape(ref), bool) if cavity is None else np.asarray(cavity) != 0
        if wall is not None:
            if np.shape(wall) != cav.shape:
                raise ValueError(f"the wall has shape {np.shape(wall)} but the cavity has {cav.shape}")
            return (np.asarray(wall) != 0) & ~cav, "wall"
        if spacing is None:
            raise ValueError("the scar region without a wall label needs the voxel spacing")
        out = np.zeros(cav.shape, dtype=bool)
        box = grow(bbox(cav), margin_voxels(self.outer_mm, spacing), cav.shape)
        if box is not None:
            c = cav[box]
            near = bounded_sq_distance(c, spacing, self.outer_mm) <= self.outer_mm**2 * (1 + _EPS)
            out[box] = ~c & near
        return out, "band"
