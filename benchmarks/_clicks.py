"""The simulated annotator of ``bench_interactive.py``: one click at the centre of the largest error.

As in the CVPR 2025 interactive 3D segmentation challenge: of the missed voxels (reference, not
label) and the spilled ones (label, not reference), take the largest connected region; click at
its centre, the voxel deepest inside it (largest distance to its border, in mm), positive where
the label misses, negative where it spills.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_c2w.correct import Prompt
from napari_c2w.correct.guidance import error_centres, error_regions


def largest_error(label: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, bool, int] | None:
    """(mask of the largest error region, positive?, voxels), or None when the label is exact."""
    found = error_regions(label, reference, 1)
    if not found:
        return None
    size, positive, box, region = found[0]
    full = np.zeros(np.shape(label), bool)
    full[box] = region
    return full, positive, size


def next_click(label: np.ndarray, reference: np.ndarray, spacing: Sequence[float]) -> Prompt | None:
    """The click the simulated annotator gives next (None: nothing left to correct)."""
    found = error_centres(label, reference, spacing, 1)
    return Prompt.click(*found[0]) if found else None


def brush_voxels(label: np.ndarray, reference: np.ndarray, target_dice: float) -> int | None:
    """The fewest voxels an annotator must paint (with a perfect brush) to reach ``target_dice``:
    k missed voxels added and j spilled ones erased, the cheapest split (None: out of reach)."""
    a, b = np.asarray(label) != 0, np.asarray(reference) != 0
    tp, fp, fn = int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum())
    if 2 * tp >= target_dice * (2 * tp + fp + fn):
        return 0
    k = np.arange(fn + 1, dtype=np.float64)
    t = tp + k
    # Dice after k adds and j erases: 2t / (2t + (fp - j) + (fn - k)) >= d
    #   <=>  j >= 2t + fp + fn - k - 2t / d
    j = np.ceil(2 * t + fp + (fn - k) - 2 * t / target_dice - 1e-9)
    j = np.maximum(j, 0)
    ok = j <= fp
    if not ok.any():
        return None
    return int((k + j)[ok].min())
