"""The inputs of the prompt-conditioned cavity network, shared by its training and its use (pure numpy).

The network sees four channels on the model grid (:data:`CHANNELS`): the image, a map of the
positive prompts, a map of the negative prompts and the current label (DeepEdit / nnInteractive
style). A prompt is drawn as a ball of :data:`BALL_MM` around each of its points.
:func:`error_centres` places clicks as ``bench_interactive.py``'s simulated annotator does: at
the centre (the deepest voxel) of the largest error regions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from ..masks.geometry import Box, bbox

#: Radius of a click's ball in the guidance maps (mm).
BALL_MM = 2.5
#: Input channels: image, positive prompts, negative prompts, current label.
CHANNELS = ("image", "positive", "negative", "label")


def draw_points(
    shape: Sequence[int], points: np.ndarray, spacing: Sequence[float], radius_mm: float = BALL_MM
) -> np.ndarray:
    """A float32 map of ``shape`` with 1 within ``radius_mm`` of any of ``points`` (voxel coordinates,
    which may lie outside the map)."""
    out = np.zeros(tuple(shape), np.float32)
    spacing = np.asarray(spacing, float)
    r = np.ceil(radius_mm / spacing).astype(int)
    for p in np.asarray(points, float).reshape(-1, 3):
        c = np.rint(p).astype(int)
        lo, hi = np.maximum(c - r, 0), np.minimum(c + r + 1, shape)
        if np.any(hi <= lo):
            continue
        g = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))]
        d2 = sum(((gi - pi) * s) ** 2 for gi, pi, s in zip(g, p, spacing, strict=True))
        sl = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        out[sl] = np.maximum(out[sl], (d2 <= radius_mm**2).astype(np.float32))
    return out


def error_regions(
    label: np.ndarray, reference: np.ndarray, n: int
) -> list[tuple[int, bool, Box, np.ndarray]]:
    """Up to ``n`` largest connected error regions, largest first (the first found on a tie):
    (voxels, positive?, box, the region's mask inside ``box``), where positive means the label
    misses the reference there and negative that it spills."""
    label, reference = np.asarray(label) != 0, np.asarray(reference) != 0
    regions = []
    for positive, err in ((True, reference & ~label), (False, label & ~reference)):
        box = bbox(err)
        if box is None:
            continue
        lab, _k = ndi.label(err[box])
        sizes = np.bincount(lab.ravel())[1:]
        for i in np.argsort(-sizes, kind="stable")[:n]:
            regions.append((int(sizes[i]), positive, box, lab == i + 1))
    regions.sort(key=lambda r: -r[0])
    return regions[:n]


def region_centre(box: Box, region: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """The voxel index (on the full grid) deepest inside ``region`` (its mask inside ``box``)."""
    depth = ndi.distance_transform_edt(np.pad(region, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    at = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return np.array(at) + [s.start for s in box]


def error_centres(
    label: np.ndarray, reference: np.ndarray, spacing: Sequence[float], n: int
) -> list[tuple[np.ndarray, bool]]:
    """Up to ``n`` clicks at the centres of the largest error regions, largest first:
    (position, positive?) (see :func:`error_regions`)."""
    return [(region_centre(box, r, spacing), pos) for _, pos, box, r in error_regions(label, reference, n)]


def guidance(
    shape: Sequence[int], clicks: list[tuple[np.ndarray, bool]], spacing: Sequence[float]
) -> np.ndarray:
    """The (2, z, y, x) positive and negative maps of ``clicks`` ((position, positive?) pairs)."""
    pos = [p for p, s in clicks if s]
    neg = [p for p, s in clicks if not s]
    return np.stack(
        [
            draw_points(shape, np.array(pos).reshape(-1, 3), spacing) if pos else np.zeros(shape, np.float32),
            draw_points(shape, np.array(neg).reshape(-1, 3), spacing) if neg else np.zeros(shape, np.float32),
        ]
    )
