"""Rule-based corrections of a mask: each returns a NEW uint8 0/1 mask and a :class:`Change`.

The input mask is never modified. A :class:`Change` says which rule ran with which
parameters and how many voxels it removed and added; :meth:`Change.entry` turns it into
a provenance record (``io.case.provenance_entry``). Undo is the caller's concern (keep
the previous array); the record holds counts, never arrays.

Every rule works on the bounding box of the voxels it can touch, so it is fast on
full-size volumes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..io.case import provenance_entry
from ._geometry import Box, bbox, grow
from .band import Band
from .plausibility import Findings

FILL_MODES = ("3d", "slice", "both")
SMOOTH_METHODS = ("closing", "opening", "gaussian")


@dataclasses.dataclass
class Change:
    """What a correction did.

    Attributes:
        rule: name of the rule (e.g. ``"outside wall band"``).
        structure: the structure corrected, when known.
        voxels_removed: voxels set to 0.
        voxels_added: voxels set to 1.
        params: the rule's parameters (JSON-friendly).
        components_removed: connected components removed, where the rule counts them.
    """

    rule: str
    structure: str | None = None
    voxels_removed: int = 0
    voxels_added: int = 0
    params: dict = dataclasses.field(default_factory=dict)
    components_removed: int | None = None

    @property
    def changed(self) -> bool:
        return bool(self.voxels_removed or self.voxels_added)

    def volume_removed_mm3(self, spacing: Sequence[float]) -> float:
        return float(self.voxels_removed * np.prod(spacing))

    def entry(self, action: str = "review correction", by: str | None = None, **extra) -> dict:
        """This change as a provenance record (``io.case.provenance_entry``)."""
        details = dict(self.params)
        if self.components_removed is not None:
            details["components_removed"] = self.components_removed
        details.update(extra)
        return provenance_entry(
            action,
            self.structure,
            by=by,
            rule=self.rule,
            voxels_removed=self.voxels_removed,
            voxels_added=self.voxels_added,
            **details,
        )


def _as_bool(mask: np.ndarray) -> np.ndarray:
    if np.ndim(mask) != 3:
        raise ValueError(f"a 3D (z, y, x) mask is needed, not {np.ndim(mask)}D")
    return np.asarray(mask) != 0


def _apply(
    mask: np.ndarray, box: Box | None, new_crop: np.ndarray | None, change: Change
) -> tuple[np.ndarray, Change]:
    """The new full mask with ``new_crop`` written into ``box``; ``change`` gets the voxel counts."""
    out = (np.asarray(mask) != 0).astype(np.uint8)
    if box is not None and new_crop is not None:
        old = out[box] != 0
        change.voxels_removed = int(np.count_nonzero(old & ~new_crop))
        change.voxels_added = int(np.count_nonzero(new_crop & ~old))
        out[box] = new_crop
    return out, change


def _connectivity(connectivity: int) -> np.ndarray:
    from scipy.ndimage import generate_binary_structure

    if connectivity not in (1, 2, 3):
        raise ValueError(f"connectivity must be 1, 2 or 3, not {connectivity}")
    return generate_binary_structure(3, connectivity)


def _drop_small(crop: np.ndarray, min_size: int, connectivity: int) -> tuple[np.ndarray, int]:
    """``crop`` without its components smaller than ``min_size`` voxels, and how many went."""
    from scipy.ndimage import label

    if min_size <= 1 or not crop.any():
        return crop, 0
    lab, _n = label(crop, structure=_connectivity(connectivity))
    sizes = np.bincount(lab.ravel())
    small = sizes < min_size
    small[0] = False
    return crop & ~small[lab], int(small.sum())


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


def remove_small_components(
    mask: np.ndarray, min_size_voxels: int, structure: str | None = None, connectivity: int = 3
) -> tuple[np.ndarray, Change]:
    """Remove connected components smaller than ``min_size_voxels``."""
    box = bbox(mask)
    new, n = (None, 0) if box is None else _drop_small(_as_bool(mask[box]), min_size_voxels, connectivity)
    params = {"min_size_voxels": int(min_size_voxels), "connectivity": connectivity}
    return _apply(
        mask, box, new, Change("remove small components", structure, params=params, components_removed=n)
    )


def keep_largest_component(
    mask: np.ndarray, structure: str | None = None, connectivity: int = 3
) -> tuple[np.ndarray, Change]:
    """Keep only the largest connected component."""
    from scipy.ndimage import label

    box = bbox(mask)
    new, n_removed = None, 0
    if box is not None:
        lab, n = label(_as_bool(mask[box]), structure=_connectivity(connectivity))
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        new, n_removed = lab == int(sizes.argmax()), n - 1
    params = {"connectivity": connectivity}
    change = Change("keep largest component", structure, params=params, components_removed=n_removed)
    return _apply(mask, box, new, change)


def keep_components_touching(
    mask: np.ndarray, region: np.ndarray, structure: str | None = None, connectivity: int = 3
) -> tuple[np.ndarray, Change]:
    """Keep only the connected components that overlap ``region`` (e.g. wall pieces that
    reach the wall band; islands far from the atrium go)."""
    from scipy.ndimage import label

    if np.shape(region) != np.shape(mask):
        raise ValueError(f"the region has shape {np.shape(region)} but the mask has {np.shape(mask)}")
    box = bbox(mask)
    new, n_removed = None, 0
    if box is not None:
        lab, n = label(_as_bool(mask[box]), structure=_connectivity(connectivity))
        hit = np.unique(lab[np.asarray(region[box]) != 0])
        hit = hit[hit > 0]
        new, n_removed = np.isin(lab, hit), n - hit.size
    params = {"connectivity": connectivity}
    change = Change(
        "keep components touching a region", structure, params=params, components_removed=n_removed
    )
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
