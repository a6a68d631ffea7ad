"""Agreement of a mask with a reference: Dice, surface Dice, HD95 and ASSD, computed with MONAI.

Masks are cropped to their union bounding box (plus a margin) before MONAI sees them,
so full-size volumes cost about as much as the structure itself. Empty masks give NaN
(or 0 for overlap scores that are well defined) with a note, never an error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from .masks.geometry import bbox, grow, union

#: Agreement metrics reported by :func:`compare_masks`.
METRICS = ("dice", "surface_dice", "hd95_mm", "assd_mm")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Plain Dice of two masks in numpy (1.0 when both are empty), for hot loops that need no
    surface metrics (threshold calibration, the contrast check)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    return 1.0 if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


def compare_masks(
    pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float], tolerance_mm: float = 1.0
) -> dict:
    """Dice, surface Dice at ``tolerance_mm``, HD95 and symmetric ASSD (mm) with MONAI.

    Both masks are cropped to their union bounding box (plus a margin) first, so full
    volumes cost little more than the structure itself.

    Returns:
        ``{"dice", "surface_dice", "hd95_mm", "assd_mm", "note"}``. With one mask empty,
        Dice and surface Dice are 0 and the distances NaN; with both empty, all are NaN.
        The note says why a value is NaN ("" when none is).
    """
    if np.shape(pred) != np.shape(ref):
        raise ValueError(f"the masks differ in shape: {np.shape(pred)} vs {np.shape(ref)}")
    nan = math.nan
    box = union(bbox(pred), bbox(ref))
    if box is None:
        return {"dice": nan, "surface_dice": nan, "hd95_mm": nan, "assd_mm": nan, "note": "both masks empty"}
    p_any, r_any = bbox(pred) is not None, bbox(ref) is not None
    if not (p_any and r_any):
        which = "prediction" if not p_any else "reference"
        return {
            "dice": 0.0,
            "surface_dice": 0.0,
            "hd95_mm": nan,
            "assd_mm": nan,
            "note": f"{which} empty: surface distances undefined",
        }
    import torch

    box = grow(box, (2, 2, 2), np.shape(pred))
    pad = [(2, 2)] * 3  # room for surface extraction even at the array edge

    def tensor(m: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.pad(np.asarray(m[box]) != 0, pad))[None, None]

    p, r = tensor(pred), tensor(ref)
    sp = [float(s) for s in spacing]
    with warnings.catch_warnings():  # MONAI 1.5+ warns about its own internal argument
        warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*", category=FutureWarning)
        out = _monai_metrics(p, r, sp, tolerance_mm)
    return out


def _monai_metrics(p, r, sp: list[float], tolerance_mm: float) -> dict:
    from monai.metrics import (
        compute_average_surface_distance,
        compute_dice,
        compute_hausdorff_distance,
        compute_surface_dice,
    )

    return {
        "dice": float(compute_dice(p, r, include_background=True)[0, 0]),
        "surface_dice": float(
            compute_surface_dice(
                p, r, class_thresholds=[float(tolerance_mm)], include_background=True, spacing=sp
            )[0, 0]
        ),
        "hd95_mm": float(
            compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=sp)[0, 0]
        ),
        "assd_mm": float(
            compute_average_surface_distance(p, r, include_background=True, symmetric=True, spacing=sp)[0, 0]
        ),
        "note": "",
    }


def compare_labels(
    labels: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    spacing: Sequence[float],
    tolerance_mm: float = 1.0,
) -> dict[str, dict]:
    """:func:`compare_masks` for each structure present in both label sets."""
    return {
        name: compare_masks(labels[name], reference[name], spacing, tolerance_mm)
        for name in labels
        if name in reference
    }
