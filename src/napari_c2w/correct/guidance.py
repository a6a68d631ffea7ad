"""The inputs of the prompt-conditioned cavity network, shared by its training and its use (pure numpy).

The network sees four channels on the model grid: the image, a map of the positive prompts, a
map of the negative prompts and the current label (DeepEdit / nnInteractive style). A prompt
is drawn as a ball of :data:`BALL_MM` around each of its points; a box prompt as its box in the
positive map. :func:`simulated_clicks` places clicks the way ``bench_interactive.py``'s simulated
annotator does: at the centre of the largest remaining error region.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

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


def error_centres(
    label: np.ndarray, reference: np.ndarray, spacing: Sequence[float], n: int
) -> list[tuple[np.ndarray, bool]]:
    """Up to ``n`` clicks at the centres (deepest voxel) of the largest error regions, largest
    first: (position, positive?) where positive means the label misses the reference there."""
    label, reference = np.asarray(label) != 0, np.asarray(reference) != 0
    regions = []
    for positive, err in ((True, reference & ~label), (False, label & ~reference)):
        if not err.any():
            continue
        lab, _k = ndi.label(err)
        sizes = np.bincount(lab.ravel())[1:]
        for i in np.argsort(sizes)[::-1][:n]:
            regions.append((int(sizes[i]), positive, lab == i + 1))
    regions.sort(key=lambda r: -r[0])
    out = []
    for _, positive, region in regions[:n]:
        depth = ndi.distance_transform_edt(np.pad(region, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
        out.append((np.array(np.unravel_index(int(np.argmax(depth)), depth.shape)), positive))
    return out


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
