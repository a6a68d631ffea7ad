"""Per-case quantities: volumes, wall thickness summary and scar burden (no napari, no Qt)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ..masks.geometry import bbox
from .band import BandSpec
from .burden import burden_pct
from .thickness import SMOOTH_MM, thickness_on_box, thickness_summary


@dataclasses.dataclass
class Quantities:
    """Per-case measurements (volumes in mL, thickness in mm, burden in %).

    ``scar_burden_pct`` is the share of the scar region that is scar (:mod:`napari_c2w.quantify`):
    the wall outside the cavity (``burden_basis == "wall"``) or, without a wall label, the
    non-cavity voxels within ``outer_mm`` of the cavity (``"band"``).
    """

    cavity_ml: float
    wall_ml: float
    scar_ml: float
    scar_burden_pct: float
    burden_basis: str
    thickness: dict[str, float]
    implausible_scar_voxels: int
    notes: list[str] = dataclasses.field(default_factory=list)

    def as_row(self) -> dict:
        """A flat dict for a CSV row."""
        row = {
            "cavity_ml": self.cavity_ml,
            "wall_ml": self.wall_ml,
            **{f"thickness_{k}_mm": v for k, v in self.thickness.items()},
            "scar_ml": self.scar_ml,
            "scar_burden_pct": self.scar_burden_pct,
            "burden_basis": self.burden_basis,
            "implausible_scar_voxels": self.implausible_scar_voxels,
        }
        row["notes"] = "; ".join(self.notes)
        return row


def quantify(
    cavity: np.ndarray | None,
    spacing: Sequence[float],
    wall: np.ndarray | None = None,
    scar: np.ndarray | None = None,
    *,
    band_spec: BandSpec | None = None,
    smooth_mm: float = SMOOTH_MM,
    thickness: np.ndarray | None = None,
) -> Quantities:
    """Volumes, wall thickness summary and scar burden of one case.

    Args:
        cavity: cavity mask (None when the case has none).
        spacing: voxel size in mm (z, y, x).
        wall: wall mask, if any.
        scar: scar mask, if any.
        band_spec: the wall band (scar outside it is implausible; its outer reach is the scar
            region without a wall label); default :class:`.band.BandSpec`.
        smooth_mm: thickness averaging (see :func:`.thickness.wall_thickness`).
        thickness: a thickness map already computed, to reuse.
    """
    ref = next((m for m in (cavity, wall, scar) if m is not None), None)
    if ref is None:
        raise ValueError("quantify needs at least one of cavity, wall or scar")
    ml = float(np.prod(spacing)) / 1000.0
    notes: list[str] = []
    if cavity is None:
        notes.append("no cavity label")
        cavity = np.zeros(ref.shape, dtype=np.uint8)
    elif not _count(cavity):
        notes.append("cavity empty")
    band_spec = band_spec or BandSpec()
    stats = _wall_thickness_stats(cavity, wall, spacing, smooth_mm, thickness=thickness, notes=notes)
    burden, bad = _scar_burden(
        scar, cavity=cavity, wall=wall, spacing=spacing, band_spec=band_spec, notes=notes
    )
    return Quantities(
        cavity_ml=_count(cavity) * ml,
        wall_ml=_count(wall) * ml if wall is not None else math.nan,
        scar_ml=_count(scar) * ml if scar is not None else math.nan,
        scar_burden_pct=burden,
        burden_basis="wall" if wall is not None else "band",
        thickness=stats,
        implausible_scar_voxels=bad,
        notes=notes,
    )


def _count(mask: np.ndarray | None) -> int:
    return int(np.count_nonzero(mask)) if mask is not None else 0


def _wall_thickness_stats(
    cavity: np.ndarray,
    wall: np.ndarray | None,
    spacing: Sequence[float],
    smooth_mm: float,
    *,
    thickness: np.ndarray | None,
    notes: list[str],
) -> dict[str, float]:
    """Thickness summary over the wall voxels outside the cavity (NaNs, with a note, when unmeasurable)."""
    if wall is None:
        notes.append("no wall label: wall volume and thickness not measured")
        return thickness_summary([])
    if not _count(wall):
        return thickness_summary([])
    if not _count(cavity):
        notes.append("no cavity: wall thickness not measured")
        return thickness_summary([])
    if thickness is None:
        box, crop = thickness_on_box(cavity, wall, spacing, smooth_mm)
        return thickness_summary(crop[(np.asarray(wall[box]) != 0) & (np.asarray(cavity[box]) == 0)])
    return thickness_summary(thickness[(np.asarray(wall) != 0) & (np.asarray(cavity) == 0)])


def _scar_burden(
    scar: np.ndarray | None,
    *,
    cavity: np.ndarray,
    wall: np.ndarray | None,
    spacing: Sequence[float],
    band_spec: BandSpec,
    notes: list[str],
) -> tuple[float, int]:
    """Scar burden in percent (over the scar region) and the scar voxels outside the wall band."""
    if scar is None:
        notes.append("no scar label")
        return math.nan, 0
    bad = 0
    sbox = bbox(scar)
    if sbox is not None:
        s = np.asarray(scar[sbox]) != 0
        bad = int(np.count_nonzero(s & ~band_spec.band(cavity, spacing, wall=wall).on(sbox)))
    region, basis = band_spec.scar_region(cavity, spacing, wall)
    burden = burden_pct(scar, region)
    if math.isnan(burden):
        notes.append(f"scar burden undefined: the {basis} is empty")
    return burden, bad


__all__ = ["Quantities", "quantify"]
