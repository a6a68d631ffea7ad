"""The parts of the ROI each stage's network sees (pure geometry on the model grid).

The cavity model needs the atrium's box (from the localizer) plus a margin; the wall and scar
models need the cavity's box plus a margin when post-processing discards what lies beyond it
anyway. Every region is at least one sliding window wide and lies inside the ROI; None means
the whole ROI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import preprocess as pre
from ..masks.geometry import margin_voxels
from ..stages import STAGES

#: A region on the model grid: (start, stop) per axis, as :mod:`napari_c2w.preprocess` crops and
#: the prediction records it (``roi["stage_boxes_in_roi"]``); may reach beyond the array.
Region = tuple[tuple[int, int], ...]


#: A sliding window grows along z to hold a region of up to this many window depths at once.
DEEP_WINDOW_GROWTH = 1.5
#: The networks whose windows may grow so (``InferenceOptions.deep_windows``): the wall and scar
#: gave about the same Dice with them (+0.002, -0.002) in about two thirds of their time; the
#: cavity lost 0.003 on 9 of 10 held-out real scans and keeps its training patch.
DEEP_WINDOW_STAGES = ("wall", "scar")  # the wall's alternate network is a "wall" too


def deep_window(window: Sequence[int], shape: Sequence[int], divisor: Sequence[int]) -> tuple[int, ...]:
    """``window``, deepened along z to ``shape``'s depth (rounded up to the network's ``divisor``)
    where that depth needs two windows but is at most :data:`DEEP_WINDOW_GROWTH` windows: one
    window runs there instead of two overlapping ones. In plane the window stays the training
    patch, whose instance-norm statistics the network learned."""
    depth, step = int(shape[0]), int(divisor[0])
    if not window[0] < depth <= window[0] * DEEP_WINDOW_GROWTH:
        return tuple(int(n) for n in window)
    return (math.ceil(depth / step) * step, *(int(n) for n in window[1:]))


def atrium_region(
    lo: Sequence[float], hi: Sequence[float], box: Region, margin: Sequence[int], window
) -> Region | None:
    """The atrium's box in the ROI, grown by ``margin`` voxels and widened to a ``window``.

    Args:
        lo, hi: the atrium's first and last voxel faces, as indices on the model grid.
        box: the ROI on the model grid (start/stop per axis).
        margin: voxels added on every side.
        window: the cavity model's sliding window (the smallest region).

    Returns:
        The region within the ROI, or None for the whole ROI (or an atrium outside it).
    """
    roi_shape = tuple(b1 - b0 for b0, b1 in box)
    bounds = [
        (max(0, int(np.floor(a + 0.5)) - b0), min(n, int(np.ceil(z + 0.5)) - b0))
        for a, z, (b0, _), n in zip(lo, hi, box, roi_shape, strict=True)
    ]
    if any(b1 <= b0 for b0, b1 in bounds):
        return None  # the atrium lies outside the ROI
    region = pre.grow_box(bounds, margin, window, roi_shape)
    return None if region == tuple((0, n) for n in roi_shape) else region


def cavity_region(cavity: np.ndarray, margin: Sequence[int], window) -> Region | None:
    """The box of the ``cavity`` mask (on the ROI) grown by ``margin`` and widened to ``window``;
    None for an empty cavity or a box covering the whole ROI."""
    box = pre.mask_box(cavity, margin, window)
    return None if box is None or box == tuple((0, n) for n in cavity.shape) else box


def stage_region(stage: str, probs: dict, options, *, threshold: float, window, spacing) -> Region | None:
    """The part of the ROI the model of a stage with ``region="cavity"`` (:class:`~napari_c2w.stages.Stage`)
    needs under ``options`` (an ``InferenceOptions``): the cavity's box plus
    ``options.crop_margin_mm`` when cropping is on and the stage's post-processing discards what
    lies far from the cavity (its ``region_if`` option is on); None for the whole ROI."""
    rule = STAGES[stage]
    if rule.region != "cavity" or "cavity" not in probs:
        return None
    if not (options.crop_to_cavity and getattr(options, rule.region_if)):
        return None
    margin = margin_voxels(options.crop_margin_mm, spacing, beyond=False)
    return cavity_region(probs["cavity"] >= threshold, margin, window)
