"""Small geometric helpers of the review package: bounding boxes, crops, bounded distances.

Everything works on (z, y, x) arrays with spacing in mm in the same order, and on
crops given as a tuple of three slices (a *box*) into the full grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: A box: the (z, y, x) slices of a crop inside the full grid, within the array. The one box type
#: of the package (masks, review, correction, phantoms); inference's model-grid regions, which
#: may reach beyond the array, are (start, stop) pairs (:data:`napari_c2w.infer.regions.Region`).
Box = tuple[slice, slice, slice]


def bbox(mask: np.ndarray | None) -> Box | None:
    """The smallest box holding every non-zero voxel of ``mask``; None if there is none.

    Reads the array through two projections, so a full 88x576x576 mask costs a few ms.
    """
    if mask is None:
        return None
    zs = np.flatnonzero(mask.reshape(mask.shape[0], -1).max(axis=1))
    if zs.size == 0:
        return None
    sub = mask[zs[0] : zs[-1] + 1]
    proj = sub.max(axis=0)
    ys = np.flatnonzero(proj.max(axis=1))
    xs = np.flatnonzero(proj.max(axis=0))
    return (
        slice(int(zs[0]), int(zs[-1]) + 1),
        slice(int(ys[0]), int(ys[-1]) + 1),
        slice(int(xs[0]), int(xs[-1]) + 1),
    )


def grow(box: Box | None, margin: Sequence[int], shape: Sequence[int]) -> Box | None:
    """``box`` grown by ``margin`` voxels per axis, clipped to ``shape``."""
    if box is None:
        return None
    return tuple(
        slice(max(s.start - m, 0), min(s.stop + m, n)) for s, m, n in zip(box, margin, shape, strict=True)
    )


def union(*boxes: Box | None) -> Box | None:
    """The smallest box holding all the given boxes (None ones are skipped)."""
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(3))


def intersect(a: Box | None, b: Box | None) -> Box | None:
    """The part two boxes share; None if either is None or they do not overlap."""
    if a is None or b is None:
        return None
    out = tuple(slice(max(p.start, q.start), min(p.stop, q.stop)) for p, q in zip(a, b, strict=True))
    return None if any(s.stop <= s.start for s in out) else out


def offset(box: Box) -> tuple[int, int, int]:
    return tuple(int(s.start) for s in box)


def relative(inner: Box, outer: Box) -> Box:
    """``inner`` (absolute slices lying inside ``outer``) relative to ``outer``'s corner."""
    return tuple(slice(i.start - o.start, i.stop - o.start) for i, o in zip(inner, outer, strict=True))


def margin_voxels(mm: float, spacing: Sequence[float], *, beyond: bool = True) -> tuple[int, int, int]:
    """Voxels per axis that a box grown by ``mm`` millimetres needs: the margin of every box grown
    by a distance (review bands, wall proposals, inference's crops).

    Args:
        mm: the distance.
        spacing: the voxel size per axis (mm).
        beyond: at least one voxel past the reach (``floor(mm / s) + 1``), as a distance band
            needs to see where it ends; False: just the voxels that reach it (``ceil(mm / s)``),
            as inference's crops have always used (their windows, and so the predictions,
            depend on it).
    """
    if beyond:
        return tuple(int(np.floor(max(mm, 0.0) / s + 1e-9)) + 1 for s in spacing)
    return tuple(int(np.ceil(max(mm, 0.0) / s)) for s in spacing)


def bounded_sq_distance(target: np.ndarray, spacing: Sequence[float], radius_mm: float) -> np.ndarray:
    """Squared Euclidean distance (mm²) from every voxel to the nearest ``target`` voxel, up to a radius.

    The squared distance is a sum over axes, so the minimum over the box of offsets
    ``|k_a * spacing_a| <= radius`` separates into three 1D minimum filters of
    ``f(p + k e_a) + (k spacing_a)²``. Every point within ``radius_mm`` lies in that box,
    so the result equals the exact EDT wherever the distance is at most ``radius_mm``;
    elsewhere it is larger than ``radius_mm²`` (possibly ``inf``). Voxels beyond the
    array are not targets, as with :func:`scipy.ndimage.distance_transform_edt`.

    Cost: ``2 * sum_a floor(radius / spacing_a)`` vectorised minimum passes over the array.

    Args:
        target: boolean array; distances are measured to its True voxels.
        spacing: voxel size (mm) per axis.
        radius_mm: largest distance that must be exact.

    Returns:
        float32 array of squared distances in mm².
    """
    f = np.where(target, np.float32(0), np.float32(np.inf))
    tmp = np.empty_like(f)
    for axis, step in enumerate(spacing):
        kmax = int(np.floor(radius_mm / step + 1e-9))
        if kmax <= 0 or f.shape[axis] < 2:
            continue
        g = f.copy()
        for k in range(1, min(kmax, f.shape[axis] - 1) + 1):
            cost = np.float32((k * step) ** 2)
            hi = _take(slice(k, None), axis)
            lo = _take(slice(None, -k), axis)
            t = tmp[lo]
            np.add(f[lo], cost, out=t)
            np.minimum(g[hi], t, out=g[hi])
            np.add(f[hi], cost, out=t)
            np.minimum(g[lo], t, out=g[lo])
        f = g
    return f


def _take(sl: slice, axis: int) -> tuple[slice, ...]:
    return tuple(sl if a == axis else slice(None) for a in range(3))


def boundary(mask: np.ndarray) -> np.ndarray:
    """Voxels of ``mask`` with at least one 6-neighbour outside it (the array edge does not count).

    The nearest voxel of a set to any point outside it is always one of these, so
    distances to the set need only them.
    """
    m = mask.astype(bool, copy=False)
    inner = m.copy()
    for axis in range(3):
        a, b = _take(slice(1, None), axis), _take(slice(None, -1), axis)
        inner[a] &= m[b]
        inner[b] &= m[a]
    return m & ~inner


def points_mm(index: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """(N, 3) voxel indices as (N, 3) float64 positions in mm relative to voxel 0."""
    return np.asarray(index, dtype=np.float64).reshape(-1, 3) * np.asarray(spacing, dtype=np.float64)


def ball_opening(mask: np.ndarray, radius_mm: float, spacing: Sequence[float]) -> np.ndarray:
    """Morphological opening of ``mask`` by a ball of ``radius_mm`` through two distance transforms
    (an order of magnitude faster than a structuring element of that size): the parts of the mask
    such a ball fits in."""
    from scipy import ndimage as ndi

    if not mask.any():
        return mask
    eroded = ndi.distance_transform_edt(mask, sampling=spacing) > radius_mm
    if not eroded.any():
        return eroded
    return ndi.distance_transform_edt(~eroded, sampling=spacing) <= radius_mm
