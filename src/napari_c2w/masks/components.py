"""Connected components of a 3D mask: keep the largest, keep those touching a region, drop
the small ones. Each returns a NEW uint8 0/1 mask and a :class:`Change` saying what it did.

Low floor (no review, inference or training imports): inference post-processing, training
calibration and the review's corrections all use these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..io.case import provenance_entry
from .geometry import Box, bbox


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


def keep_largest_component(
    mask: np.ndarray, structure: str | None = None, connectivity: int = 3
) -> tuple[np.ndarray, Change]:
    """Keep only the largest connected component."""
    return keep_component_overlapping(mask, None, structure, connectivity)


def keep_component_overlapping(
    mask: np.ndarray, region: np.ndarray | None, structure: str | None = None, connectivity: int = 3
) -> tuple[np.ndarray, Change]:
    """Keep only the connected component with the most voxels in ``region`` (e.g. the cavity
    piece the localizer's atrium overlaps, not a larger false one elsewhere); the largest
    component when ``region`` is None or overlaps none."""
    from scipy.ndimage import label

    if region is not None and np.shape(region) != np.shape(mask):
        raise ValueError(f"the region has shape {np.shape(region)} but the mask has {np.shape(mask)}")
    box = bbox(mask)
    new, n_removed, rule = None, 0, "keep largest component"
    if box is not None:
        lab, n = label(_as_bool(mask[box]), structure=_connectivity(connectivity))
        score = np.bincount(lab.ravel(), minlength=n + 1)
        if region is not None:
            inside = np.bincount(lab[np.asarray(region[box]) != 0], minlength=n + 1)
            inside[0] = 0
            if inside.any():
                score, rule = inside, "keep the component overlapping a region most"
        score[0] = 0
        new, n_removed = lab == int(score.argmax()), n - 1
    params = {"connectivity": connectivity}
    return _apply(mask, box, new, Change(rule, structure, params=params, components_removed=n_removed))


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
