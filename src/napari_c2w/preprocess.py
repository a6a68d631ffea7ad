"""Geometry and intensity preprocessing shared by training and inference.

Models see volumes resampled to their spacing (default 1.25 x 0.625 x 0.625 mm, z y x),
z-scored after clipping intensity percentiles, cropped to a fixed ROI (default 44 x 256
x 256 voxels, the C2W-Tune ROI) around the atrium's centre of mass.
"""

from __future__ import annotations

import numpy as np

DEFAULT_MODEL_SPACING = (1.25, 0.625, 0.625)
DEFAULT_ROI = (44, 256, 256)
LOCALIZER_SPACING = (2.5, 2.5, 2.5)
DEFAULT_NORMALIZATION = {"type": "zscore", "clip_percentiles": [0.5, 99.5]}


def resampled_shape(shape, spacing, target_spacing) -> tuple[int, int, int]:
    """Grid size covering the same extent at ``target_spacing``."""
    return tuple(max(1, round(n * s / t)) for n, s, t in zip(shape, spacing, target_spacing, strict=False))


def resample(array: np.ndarray, shape: tuple[int, int, int], *, kind: str = "image") -> np.ndarray:
    """Resample a (z, y, x) array to ``shape`` with MONAI's Resize (torch underneath).

    ``kind`` "image" interpolates trilinearly, or averages ("area") when every axis
    shrinks, which avoids aliasing (float32); "mask" interpolates the 0/1 mask linearly
    and thresholds at 0.5 (uint8), which keeps thin structures better than nearest
    neighbour; "prob" interpolates probabilities (float32).
    """
    import torch
    from monai.transforms import Resize

    shape = tuple(int(n) for n in shape)
    if tuple(array.shape) == shape:
        return np.asarray(array, dtype=np.uint8 if kind == "mask" else np.float32)
    shrink = all(t < n for t, n in zip(shape, array.shape, strict=False))
    mode = "area" if (shrink and kind == "image") else "trilinear"
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None]
    out = Resize(shape, mode=mode)(tensor)
    out = np.asarray(out.as_tensor() if hasattr(out, "as_tensor") else out)[0]
    if kind == "mask":
        return (out >= 0.5).astype(np.uint8)
    return out.astype(np.float32, copy=False)


def normalize_intensity(
    image: np.ndarray, spec: dict | None = None, region: np.ndarray | None = None
) -> np.ndarray:
    """Clip to percentiles, then z-score (MONAI's NormalizeIntensity); first, where ``spec``
    holds a ``standard``, map the intensities onto it (:func:`napari_c2w.standardize.standardize`,
    its landmarks taken from ``region``, default the whole image)."""
    from monai.transforms import NormalizeIntensity

    image = np.asarray(image, dtype=np.float32)
    if spec and spec.get("standard"):
        from .standardize import standardize

        image = standardize(image, spec["standard"], region)
    lo, hi = clip_range(image, spec)
    clipped = np.clip(image, lo, hi)
    return np.asarray(NormalizeIntensity()(clipped), dtype=np.float32)


def with_package_standard(spec: dict | None = None) -> dict:
    """``spec`` (default: the z-score) with the package's intensity standard added
    (:func:`napari_c2w.standardize.package_standard`)."""
    from .standardize import package_standard

    return {**(spec or DEFAULT_NORMALIZATION), "standard": package_standard()}


def clip_range(image: np.ndarray, spec: dict | None = None) -> tuple[np.float64, np.float64]:
    """The intensities :func:`normalize_intensity` clips to: the ``clip_percentiles`` of every
    ``n // 16``-th slice."""
    spec = spec or DEFAULT_NORMALIZATION
    if spec.get("type") != "zscore":
        raise ValueError(f"unknown intensity normalisation {spec.get('type')!r}")
    lo, hi = np.percentile(image[:: max(1, image.shape[0] // 16)], spec.get("clip_percentiles", [0.5, 99.5]))
    return lo, hi


def to_model_grid(array: np.ndarray, spacing, model_spacing, *, kind: str = "image") -> np.ndarray:
    """``array`` (on a grid of ``spacing``) resampled to ``model_spacing`` over the same extent."""
    return resample(array, resampled_shape(array.shape, spacing, model_spacing), kind=kind)


def roi_fill(grid: np.ndarray) -> float:
    """The intensity outside the volume when an ROI reaches past it: the 1st percentile of
    every ``n // 16``-th slice of the model grid (dark background, cheap on big volumes)."""
    return float(np.percentile(grid[:: max(1, grid.shape[0] // 16)], 1))


def prepare_roi(grid: np.ndarray, box, normalisation: dict | None = None) -> np.ndarray:
    """The network input of an ROI: ``box`` cut out of the model grid (filled with
    :func:`roi_fill` outside it), then (with a ``standard`` in ``normalisation``) standardised
    with landmarks from the part of the box inside the grid, clipped and z-scored.

    Training (``train.data.prepare_case``) and inference (``infer.pipeline``) both call this,
    so a model sees its inputs prepared exactly as it was trained.
    """
    region = None
    if normalisation and normalisation.get("standard"):  # landmarks from the scan, not the fill
        inside = tuple((max(0, a), min(n, b)) for (a, b), n in zip(box, grid.shape, strict=True))
        region = crop(grid, inside)
    return normalize_intensity(crop(grid, box, fill=roi_fill(grid)), normalisation, region)


def grid_to_mm(index, grid_shape, input_shape, input_spacing) -> tuple[float, float, float]:
    """Voxel index on a grid of ``grid_shape`` covering the input -> mm from the input's first voxel."""
    return tuple(
        ((i + 0.5) * n_in / n - 0.5) * s
        for i, n, n_in, s in zip(index, grid_shape, input_shape, input_spacing, strict=True)
    )


def mm_to_grid(mm, grid_shape, input_shape, input_spacing) -> tuple[float, float, float]:
    """mm from the input's first voxel -> voxel index on a grid of ``grid_shape`` covering the input."""
    return tuple(
        (m / s + 0.5) * n / n0 - 0.5
        for m, s, n, n0 in zip(mm, input_spacing, grid_shape, input_shape, strict=True)
    )


def roi_box(center, roi, shape) -> tuple[tuple[int, int], ...]:
    """Start/stop per axis of a ``roi``-sized box centred on ``center``, shifted to lie
    inside ``shape`` where possible (it may extend outside when the ROI is larger)."""
    box = []
    for c, r, n in zip(center, roi, shape, strict=False):
        start = round(float(c) - r / 2.0)
        if r <= n:
            start = min(max(start, 0), n - r)
        else:
            start = (n - r) // 2
        box.append((start, start + int(r)))
    return tuple(box)


def mask_box(mask: np.ndarray, margin, min_size) -> tuple[tuple[int, int], ...] | None:
    """Start/stop per axis of ``mask``'s voxels grown by ``margin`` voxels, widened to at
    least ``min_size`` where the array allows, inside the array; None for an empty mask."""
    if not mask.any():
        return None
    bounds = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        bounds.append((int(hit[0]), int(hit[-1]) + 1))
    return grow_box(bounds, margin, min_size, mask.shape)


def grow_box(box, margin, min_size, shape) -> tuple[tuple[int, int], ...]:
    """``box`` (start/stop per axis) grown by ``margin`` voxels, widened to at least
    ``min_size`` where ``shape`` allows, and clipped to ``shape``."""
    out = []
    for (start, stop), n, m, size in zip(box, shape, margin, min_size, strict=True):
        lo, hi = max(0, int(start) - m), min(n, int(stop) + m)
        width = min(size, n)
        if hi - lo < width:  # widen around the middle, shifted back inside the array
            lo = max(0, lo - (width - (hi - lo) + 1) // 2)
            hi = min(n, lo + width)
            lo = hi - width
        out.append((lo, hi))
    return tuple(out)


def touches_inner_face(mask: np.ndarray, box, shape) -> bool:
    """Whether ``mask`` (the contents of ``box``) reaches a face of ``box`` that is not a
    face of the array of ``shape`` it was cut from: the object may go on beyond the box."""
    for axis, ((lo, hi), n) in enumerate(zip(box, shape, strict=True)):
        moved = np.moveaxis(mask, axis, 0)
        if (lo > 0 and moved[0].any()) or (hi < n and moved[-1].any()):
            return True
    return False


def crop(array: np.ndarray, box, fill: float = 0.0) -> np.ndarray:
    """Crop ``box`` out of ``array`` (leading axes kept), padding with ``fill`` outside it."""
    lead = array.ndim - len(box)
    src, dst, out_shape = [], [], []
    for (start, stop), n in zip(box, array.shape[lead:], strict=False):
        s0, s1 = max(start, 0), min(stop, n)
        src.append(slice(s0, s1))
        dst.append(slice(s0 - start, s1 - start))
        out_shape.append(stop - start)
    out = np.full(array.shape[:lead] + tuple(out_shape), fill, dtype=array.dtype)
    out[(Ellipsis, *dst)] = array[(Ellipsis, *src)]
    return out


def paste(target: np.ndarray, patch: np.ndarray, box) -> np.ndarray:
    """Write ``patch`` (cropped with ``box``) back into ``target`` in place; returns it."""
    lead = target.ndim - len(box)
    src, dst = [], []
    for (start, stop), n in zip(box, target.shape[lead:], strict=False):
        s0, s1 = max(start, 0), min(stop, n)
        dst.append(slice(s0, s1))
        src.append(slice(s0 - start, s1 - start))
    target[(Ellipsis, *dst)] = patch[(Ellipsis, *src)]
    return target


def center_of_mass(mask: np.ndarray) -> tuple[float, float, float] | None:
    """Centre of mass of a mask in voxels, or None for an empty mask."""
    idx = np.nonzero(mask)
    if len(idx[0]) == 0:
        return None
    return tuple(float(i.mean()) for i in idx)


def _linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output index: the two source indices and the second one's weight of linear
    interpolation from ``n_in`` to ``n_out`` samples, as torch's ``interpolate`` computes them
    (``align_corners=False``: source = (i + 0.5) * n_in / n_out - 0.5, clamped at 0)."""
    scale = np.float32(n_in / n_out)
    src = np.maximum((np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), 0)
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    i1 = np.where(i0 < n_in - 1, i0 + 1, i0)
    return i0, i1, (src - i0).astype(np.float32)


def resample_box(patch: np.ndarray, box, grid_shape, shape) -> tuple[tuple[slice, ...], np.ndarray]:
    """:func:`resample` (``kind="prob"``) of a grid of ``grid_shape`` that is zero except for
    ``patch`` at ``box``, to ``shape``, computed only where the result can be non-zero.

    Returns the slices of the output that can hold non-zero values and the values there: the
    same numbers as resampling the whole grid (to float rounding), at the cost of the ROI only
    (the pipeline's finish step resampled six whole 88x576x576 grids for a box a tenth that size).
    """
    slices, taps = [], []
    for (first, last), n_in, n_out in zip(box, grid_shape, shape, strict=True):
        start, stop = max(int(first), 0), min(int(last), n_in)
        i0, i1, w = _linear_taps(n_in, int(n_out))
        # the outputs with a tap of non-zero weight inside the box
        hit = np.nonzero(((i0 >= start) & (i0 < stop) & (w < 1)) | ((i1 >= start) & (i1 < stop) & (w > 0)))[0]
        if start >= stop or not len(hit):
            return tuple(slice(0, 0) for _ in shape), np.zeros((0,) * len(shape), np.float32)
        lo, hi = int(hit[0]), int(hit[-1]) + 1
        slices.append(slice(lo, hi))
        taps.append((i0[lo:hi] - start, i1[lo:hi] - start, w[lo:hi], stop - start))
    # the part of the patch inside the grid
    inside = tuple((max(0, -int(b[0])), max(0, -int(b[0])) + t[3]) for b, t in zip(box, taps, strict=True))
    import torch

    out = torch.from_numpy(np.ascontiguousarray(crop(patch.astype(np.float32, copy=False), inside)))
    for axis, (i0, i1, w, n) in enumerate(taps):
        if len(i0) == n and not w.any() and (i0 == np.arange(n)).all():
            continue  # an axis the resampling keeps as it is (the same size)
        # a source index outside the box reads zero: pad the box by one zero on each side
        pad = [0, 0] * (out.ndim - 1 - axis) + [1, 1]
        out = torch.nn.functional.pad(out[None], pad)[0]
        shape_w = (-1,) + (1,) * (out.ndim - 1 - axis)
        first = out.index_select(axis, torch.from_numpy(np.clip(i0, -1, n) + 1))
        second = out.index_select(axis, torch.from_numpy(np.clip(i1, -1, n) + 1))
        out = torch.lerp(first, second, torch.from_numpy(w).reshape(shape_w))
    return tuple(slices), out.numpy()
