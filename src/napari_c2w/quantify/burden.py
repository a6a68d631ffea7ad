"""Scar burden (the one definition, see :mod:`napari_c2w.quantify`) and agreement of two scars."""

from __future__ import annotations

import math

import numpy as np


def burden_pct(scar: np.ndarray, region: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The share (%) of ``region`` that is scar, NaN when the region is empty.

    Args:
        scar: scar flags (non-zero is scar), on the region's grid or vertices.
        region: where burden is measured (non-zero is in).
        weights: the measure of each element (e.g. vertex areas on a surface); None counts
            voxels.
    """
    region = np.asarray(region) != 0
    flagged = (np.asarray(scar) != 0) & region
    if weights is None:
        n = int(np.count_nonzero(region))
        return 100.0 * int(np.count_nonzero(flagged)) / n if n else math.nan
    w = np.asarray(weights, dtype=float)
    total = float(w[region].sum())
    return 100.0 * float(w[flagged].sum()) / total if total > 0 else math.nan


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
