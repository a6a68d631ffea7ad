"""The scar of one method on a voxel grid, over the scar region of :mod:`napari_c2w.quantify`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from .band import BandSpec
from .blood import ERODE_MM, BloodPool, blood_pool, check_grid
from .burden import burden_pct
from .methods import scar_method


@dataclasses.dataclass
class MethodScar:
    """The scar of one method.

    Attributes:
        mask: boolean scar mask (full grid, inside ``region``).
        region: the scar region (boolean, full grid).
        basis: ``"wall"`` or ``"band"`` (see :meth:`.band.BandSpec.scar_region`).
        method: the method's name.
        blood: blood-pool statistics (None for a method that reads the network's scar).
    """

    mask: np.ndarray
    region: np.ndarray
    basis: str
    method: str
    blood: BloodPool | None = None

    @property
    def burden_pct(self) -> float:
        """Scar as a percentage of the scar region (NaN when it is empty)."""
        return burden_pct(self.mask, self.region)


def method_scar(
    method: str,
    image: np.ndarray | None,
    cavity: np.ndarray | None,
    spacing: Sequence[float],
    wall: np.ndarray | None = None,
    *,
    scar: np.ndarray | None = None,
    band_spec: BandSpec | None = None,
    params: Mapping[str, float] | None = None,
    erode_mm: float = ERODE_MM,
    blood: BloodPool | None = None,
) -> MethodScar:
    """The scar of ``method`` (a name in :data:`.methods.METHODS`) in the scar region.

    Args:
        method: the method's name.
        image: the LGE volume (z, y, x); needed by image methods.
        cavity: cavity mask on the same grid; image methods need it (the blood pool).
        spacing: voxel size in mm (z, y, x).
        wall: wall mask; None measures over the outer band instead.
        scar: the network's scar (mask or probability); needed by network methods.
        band_spec: the band's reach (default :class:`.band.BandSpec`).
        params: method parameters (missing ones take their defaults).
        erode_mm: erosion of the cavity giving the blood pool.
        blood: blood-pool statistics already computed, to reuse.

    Raises:
        ValueError: an unknown method, bad shapes, spacing or parameters, or a missing input.
    """
    m = scar_method(method)
    band_spec = band_spec or BandSpec()
    if m.source == "image":
        if image is None:
            raise ValueError(f"the {m.label} scar method needs the image")
        if cavity is None or not np.any(cavity):
            raise ValueError(f"the {m.label} scar method needs a cavity label (for the blood pool)")
        spacing = check_grid(image, cavity, spacing)
        if blood is None:
            blood = blood_pool(image, cavity, spacing, erode_mm)
        values = image
    else:
        if scar is None:
            raise ValueError(f"the {m.label} scar method needs a scar label")
        values = scar
    region, basis = band_spec.scar_region(cavity, spacing, wall)
    if np.shape(values) != region.shape:
        raise ValueError(f"the {m.source} has shape {np.shape(values)} but the labels have {region.shape}")
    mask = np.zeros(region.shape, dtype=bool)
    mask[region] = m.flag(np.asarray(values)[region], blood, params)
    return MethodScar(mask, region, basis, m.name, blood)
