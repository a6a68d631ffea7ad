"""Rule-based corrections of a mask: each returns a NEW uint8 0/1 mask and a :class:`Change`.

The input mask is never modified. A :class:`Change` says which rule ran with which
parameters and how many voxels it removed and added; :meth:`Change.entry` turns it into
a provenance record (``io.case.provenance_entry``). Undo is the caller's concern (keep
the previous array); the record holds counts, never arrays.

Every rule works on the bounding box of the voxels it can touch, so it is fast on
full-size volumes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..masks.band import Band
from ..masks.components import (
    Change,
    _apply,
    _as_bool,
    _connectivity,
    _drop_small,
)
from ..masks.geometry import bbox, grow
from .plausibility import Findings

FILL_MODES = ("3d", "slice", "both")
SMOOTH_METHODS = ("closing", "opening", "gaussian")


def remove_components(
    mask: np.ndarray,
    labels: Findings | np.ndarray,
    ids: Sequence[int],
    structure: str | None = "scar",
    rule: str = "remove components",
) -> tuple[np.ndarray, Change]:
    """Remove the voxels of the given components.

    Args:
        mask: the mask to correct.
        labels: the :class:`.plausibility.Findings` whose components these are, or a
            component image on the full grid.
        ids: the component ids to remove.
        structure: the structure ``mask`` holds, for the record.
        rule: the rule name for the record.
    """
    if isinstance(labels, Findings):
        lab, lbox, shape = labels.labels, labels.box, labels.shape
    else:
        lab, lbox, shape = labels, tuple(slice(0, n) for n in np.shape(labels)), np.shape(labels)
    if tuple(shape) != np.shape(mask):
        raise ValueError(f"the components' grid {tuple(shape)} differs from the mask's {np.shape(mask)}")
    ids = sorted({int(i) for i in ids})
    sel = np.isin(lab, ids) if ids else None
    rel = bbox(sel) if sel is not None else None
    box = new = None
    if rel is not None:
        box = tuple(slice(r.start + b.start, r.stop + b.start) for r, b in zip(rel, lbox, strict=True))
        new = (np.asarray(mask[box]) != 0) & ~sel[rel]
    change = Change(rule, structure, params={"component_ids": ids}, components_removed=len(ids))
    return _apply(mask, box, new, change)


def confine_to_band(
    mask: np.ndarray, band: Band, structure: str | None = "scar"
) -> tuple[np.ndarray, Change]:
    """Keep only the voxels of ``mask`` inside the wall band."""
    new, change = remove_outside_band(mask, band, 0, structure)
    change.rule = "confine to wall band"
    change.components_removed = None
    return new, change


def remove_outside_band(
    mask: np.ndarray,
    band: Band,
    min_size_voxels: int = 0,
    structure: str | None = "scar",
    connectivity: int = 3,
) -> tuple[np.ndarray, Change]:
    """Remove the voxels outside the wall band, then the components smaller than ``min_size_voxels``.

    Args:
        mask: the mask to correct (usually scar).
        band: the wall band (:func:`.band.wall_band`).
        min_size_voxels: components of what is left smaller than this are removed too.
        structure: the structure ``mask`` holds, for the record.
        connectivity: 1, 2 or 3 (6-, 18- or 26-connected components).
    """
    if band.shape != np.shape(mask):
        raise ValueError(f"the band's grid {band.shape} differs from the mask's {np.shape(mask)}")
    from scipy.ndimage import label

    params = {
        "inner_mm": band.inner_mm,
        "outer_mm": band.outer_mm,
        "min_size_voxels": int(min_size_voxels),
        "with_wall": band.with_wall,
    }
    box = bbox(mask)
    if box is None:
        return _apply(
            mask, None, None, Change("outside wall band", structure, params=params, components_removed=0)
        )
    old = _as_bool(mask[box])
    inband = band.on(box)
    outside = old & ~inband
    n_out = label(outside, structure=_connectivity(connectivity))[1] if outside.any() else 0
    new, n_small = _drop_small(old & inband, min_size_voxels, connectivity)
    change = Change("outside wall band", structure, params=params, components_removed=n_out + n_small)
    return _apply(mask, box, new, change)


def fill_holes(mask: np.ndarray, mode: str = "3d", structure: str | None = None) -> tuple[np.ndarray, Change]:
    """Fill enclosed holes in 3D, in each axial slice, or both (3D first).

    Args:
        mask: the mask to correct.
        mode: ``"3d"``, ``"slice"`` (each z slice in 2D) or ``"both"``.
        structure: the structure ``mask`` holds, for the record.
    """
    from scipy.ndimage import binary_fill_holes

    if mode not in FILL_MODES:
        raise ValueError(f"fill mode {mode!r} is not one of {FILL_MODES}")
    box = bbox(mask)
    new = None
    if box is not None:
        new = _as_bool(mask[box])
        if mode in ("3d", "both"):
            new = binary_fill_holes(new)
        if mode in ("slice", "both"):
            new = np.stack([binary_fill_holes(s) for s in new])
    return _apply(mask, box, new, Change("fill holes", structure, params={"mode": mode}))


def ellipsoid(radius_mm: float, spacing: Sequence[float]) -> np.ndarray:
    """Boolean structuring element: the voxels within ``radius_mm`` of the centre (spacing-aware)."""
    half = [int(np.floor(radius_mm / s + 1e-9)) for s in spacing]
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    dist2 = sum((g * s) ** 2 for g, s in zip(grids, spacing, strict=True))
    return dist2 <= radius_mm**2 * (1 + 1e-9)


def smooth(
    mask: np.ndarray,
    spacing: Sequence[float],
    radius_mm: float = 1.0,
    method: str = "closing",
    structure: str | None = None,
) -> tuple[np.ndarray, Change]:
    """Smooth a mask: binary closing/opening with an ellipsoid, or Gaussian blur and threshold.

    Args:
        mask: the mask to correct.
        spacing: voxel size in mm (z, y, x).
        radius_mm: radius of the ellipsoid (closing/opening) or sigma of the Gaussian, in mm.
        method: ``"closing"`` (fills gaps), ``"opening"`` (removes spurs) or ``"gaussian"``.
        structure: the structure ``mask`` holds, for the record.
    """
    from scipy import ndimage as ndi

    if method not in SMOOTH_METHODS:
        raise ValueError(f"smoothing method {method!r} is not one of {SMOOTH_METHODS}")
    if radius_mm <= 0:
        raise ValueError(f"the smoothing radius must be > 0 mm, not {radius_mm}")
    pad = tuple(int(np.ceil((3 if method == "gaussian" else 1) * radius_mm / s)) + 1 for s in spacing)
    box = grow(bbox(mask), pad, np.shape(mask))
    new = None
    if box is not None:
        crop = _as_bool(mask[box])
        if method == "gaussian":
            sigma = [radius_mm / s for s in spacing]
            new = ndi.gaussian_filter(crop.astype(np.float32), sigma) >= 0.5
        else:
            op = ndi.binary_closing if method == "closing" else ndi.binary_opening
            new = op(np.pad(crop, [(p, p) for p in pad]), structure=ellipsoid(radius_mm, spacing))
            new = new[tuple(slice(p, -p) for p in pad)]
    params = {"radius_mm": float(radius_mm), "method": method}
    return _apply(mask, box, new, Change(f"smooth ({method})", structure, params=params))
