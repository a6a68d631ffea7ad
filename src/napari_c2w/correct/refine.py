"""Correct a 3D label from one prompt, locally, in about a second on 2 CPU cores (pure numpy/scipy/skimage).

:func:`refine` changes the label only in a ball around the prompt (``radius_mm``) and only in the
prompt's direction: a positive prompt only adds voxels, a negative one only removes them. Inside
the ball the decision is a random walker (Grady 2006, scikit-image) on the image, and on the
network's probability when one is given, with seeds from what is already known:

- positive: the prompt's points and the current label are the structure; the rest of the box
  outside the ball, and other structures' labels, are not;
- negative: the prompt's points, everything outside the current label and other structures are
  not the structure; the current label outside the ball is;
- box: the box's centre and the current label are the structure, the box's faces are not.

The walker runs on a grid no finer than ``grid_mm`` (1.25 mm by default), so the cost depends on
the ball, not on the image. Other structures' voxels are never taken. Method ``"probability"``
instead follows the network's probability map (the component of a lowered threshold around a
positive prompt, of a raised one around a negative prompt); it needs the map, and falls back to
the walker where the map says nothing near the prompt. ``benchmarks/bench_interactive.py``
compares them.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from ..masks.geometry import Box
from .prompts import Prompt

#: Correction methods: the prompt-conditioned network (cavity; :mod:`.network`, run by the
#: session) and the two of this module.
METHODS = ("network", "random-walker", "probability")


@dataclasses.dataclass(frozen=True)
class RefineOptions:
    """How far a prompt reaches and how the decision is made.

    Attributes:
        method: ``random-walker`` (the default: the best measured, docs/correct.md),
            ``probability``, or ``network`` (a prompt-conditioned cavity network, :mod:`.network`,
            from ``network_weights`` or the bundled one when a release ships it; a wall or a box
            prompt goes to the walker).
        radius_mm: the ball around the prompt where the label may change (``reach`` 0, and boxes).
        seed_mm: radius of the seed around each prompt point.
        grid_mm: the walker's grid is no finer than this (mm).
        beta: the walker's edge sensitivity (scikit-image's ``beta``).
        probability_weight: weight of the network probability beside the image (0: image only).
        network_weights: a prompt network checkpoint (``training/prompt_cavity.py``) for ``network``.
        network_direction: keep the network's answer only in the prompt's direction (a positive
            prompt adds, a negative one removes) and where it touches the prompt.
        reach: the ball's radius is this times the prompt's distance to the label's border (an
            error's centre lies as deep inside it as the error is thick), within
            ``min_radius_mm``-``max_radius_mm``; 0: always ``radius_mm``.
    """

    method: str = "random-walker"
    radius_mm: float = 20.0
    seed_mm: float = 1.5
    grid_mm: float = 1.25
    beta: float = 30.0
    probability_weight: float = 1.0
    reach: float = 3.0
    network_direction: bool = True
    network_weights: str | None = None
    min_radius_mm: float = 10.0
    max_radius_mm: float = 40.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"the correction method is one of {METHODS}, not {self.method!r}")
        if self.radius_mm <= 0 or self.seed_mm <= 0 or self.grid_mm <= 0:
            raise ValueError("radius_mm, seed_mm and grid_mm must be > 0")


@dataclasses.dataclass
class Refined:
    """The corrected label and what the correction did."""

    mask: np.ndarray
    added: int
    removed: int
    seconds: float
    method: str
    box: Box


def refine(
    image: np.ndarray,
    mask: np.ndarray,
    prompt: Prompt,
    spacing: Sequence[float],
    *,
    others: np.ndarray | None = None,
    probability: np.ndarray | None = None,
    options: RefineOptions | None = None,
) -> Refined:
    """The label ``mask`` corrected by ``prompt`` (a new uint8 0/1 array; ``mask`` is unchanged).

    Args:
        image: the image (z, y, x).
        mask: the structure's current label on the same grid.
        prompt: the interaction.
        spacing: voxel size in mm (z, y, x).
        others: other structures' labels (never taken; negatives for a positive prompt).
        probability: the network's probability of this structure on the same grid, if known.
        options: see :class:`RefineOptions`.

    Raises:
        ValueError: grids differ, or the prompt lies outside the image.
    """
    t0 = time.perf_counter()
    o = options or RefineOptions()
    image, mask = np.asarray(image), np.asarray(mask)
    for name, arr in (("mask", mask), ("others", others), ("probability", probability)):
        if arr is not None and np.shape(arr) != image.shape:
            raise ValueError(
                f"the {name} has shape {np.shape(arr)}, the image {image.shape}: they must share one grid"
            )
    spacing = np.asarray(spacing, float)
    pts = prompt.voxels(image.shape)
    held = mask[tuple(pts.T)] != 0
    if prompt.kind != "box" and np.all(held == (prompt.kind == "positive")):
        # every point already where the prompt wants it: nothing to correct
        same = (mask != 0).astype(np.uint8)
        return Refined(same, 0, 0, time.perf_counter() - t0, "none", (slice(0, 0),) * 3)
    radius = _reach(mask, pts, prompt.kind, spacing, o) if o.reach > 0 else o.radius_mm
    box = _box(prompt, spacing, image.shape, radius)
    m = mask[box] != 0
    oth = np.zeros_like(m) if others is None else np.asarray(others)[box] != 0
    origin = np.array([s.start for s in box])
    local = pts - origin
    if prompt.kind == "box":  # the whole box may change; the seed is its centre
        region = np.ones_like(m)
        seeds = _distance_to(np.round(local.mean(0))[None], m.shape, spacing) <= max(
            o.seed_mm, float(spacing.max())
        )
    else:
        d = _distance_to(local, m.shape, spacing)
        region = d <= radius
        seeds = d <= max(o.seed_mm, float(spacing.max()) * 0.75)
    prob = None if probability is None else np.asarray(probability, np.float32)[box]
    fg, used = None, "random-walker"  # "network" is the session's (it needs the model)
    if o.method == "probability" and prob is not None and prompt.kind != "box":
        fg = _by_probability(prompt.kind, m, prob, seeds, region, oth)
        used = "probability"
    if fg is None:
        used = "random-walker"
        fg = _by_walker(prompt.kind, image[box], m, prob, seeds, region, oth, spacing, o)
    if prompt.kind == "negative":  # remove what the walker gave up, where it touches the prompt
        new = m & ~_touching(m & ~fg & region, seeds)
    else:  # add what it found, where it joins the prompt or the label; never another structure's
        new = m | (_touching((fg & ~m & ~oth & region) | (m & ~oth), seeds | m) & ~m)
    out = (mask != 0).astype(np.uint8)
    out[box] = new
    added = int(np.count_nonzero(new & ~m))
    removed = int(np.count_nonzero(m & ~new))
    return Refined(out, added, removed, time.perf_counter() - t0, used, box)


def _reach(mask: np.ndarray, pts: np.ndarray, kind: str, spacing: np.ndarray, o: RefineOptions) -> float:
    """The ball's radius from the error the prompt was placed in: ``o.reach`` times the distance
    from the prompt to the label's border (outside the label for a positive prompt, inside for
    a negative one), within ``o.min_radius_mm`` and ``o.max_radius_mm``."""
    if kind == "box":
        return o.radius_mm
    c = pts.mean(0).round().astype(int)
    r = np.ceil(o.max_radius_mm / o.reach / spacing).astype(int) + 1
    lo, hi = np.maximum(c - r, 0), np.minimum(c + r + 1, mask.shape)
    sub = np.asarray(mask[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))]) != 0
    inside = sub if kind == "negative" else ~sub
    if inside.all():
        return o.max_radius_mm
    depth = ndi.distance_transform_edt(inside, sampling=spacing)[tuple(c - lo)]
    return float(np.clip(o.reach * depth, o.min_radius_mm, o.max_radius_mm))


def _box(prompt: Prompt, spacing: np.ndarray, shape: Sequence[int], radius_mm: float) -> Box:
    if prompt.kind == "box":
        lo, hi = prompt.box_bounds(spacing, shape)
        pad = np.ceil(2.0 / spacing).astype(int)
        lo, hi = np.maximum(lo - pad, 0), np.minimum(hi + pad + 1, np.asarray(shape))
    else:
        r = np.ceil(radius_mm / spacing).astype(int) + 1
        pts = prompt.voxels(shape)
        lo = np.maximum(pts.min(0) - r, 0)
        hi = np.minimum(pts.max(0) + r + 1, np.asarray(shape))
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def _distance_to(points: np.ndarray, shape: Sequence[int], spacing: np.ndarray) -> np.ndarray:
    """Distance (mm) from every voxel of a box of ``shape`` to the nearest of ``points``."""
    idx = np.clip(np.rint(points).astype(int), 0, np.asarray(shape) - 1)
    if len(idx) == 1:
        grids = np.ogrid[tuple(slice(0, n) for n in shape)]
        return np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grids, idx[0], spacing, strict=True)))
    seed = np.zeros(shape, bool)
    seed[tuple(idx.T)] = True
    return ndi.distance_transform_edt(~seed, sampling=spacing)


def _touching(candidates: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The voxels of ``candidates`` in components (6-connected) that touch ``anchors``."""
    if not candidates.any():
        return candidates
    lab, _n = ndi.label(candidates)
    hit = np.unique(lab[anchors & candidates])
    hit = hit[hit > 0]
    return np.isin(lab, hit) if len(hit) else np.zeros_like(candidates)


def _by_probability(kind, m, prob, seeds, region, oth) -> np.ndarray | None:  # noqa: PLR0917
    """The structure near the prompt from the probability map alone, or None where the map shows
    nothing there (the seed's probability below 0.02 for a positive prompt)."""
    at = float(prob[seeds].max() if kind == "positive" else prob[seeds].min())
    if kind == "positive":
        if at < 0.02:
            return None
        return _touching((prob >= 0.5 * at) & region & ~oth, seeds) | m
    # negative: remove the label's voxels around the prompt that are no more likely than the prompt
    cut = min(1.0, at * 1.1 + 0.01)
    gone = _touching(m & region & (prob <= cut), seeds)
    return m & ~gone


def _by_walker(kind, img, m, prob, seeds, region, oth, spacing, o: RefineOptions) -> np.ndarray:  # noqa: PLR0917
    """Foreground decided by a random walker on a grid no finer than ``o.grid_mm``."""
    from skimage.segmentation import random_walker

    f = np.maximum(1, np.floor(o.grid_mm / spacing + 1e-6)).astype(int)
    labels = np.zeros(m.shape, np.int32)  # 0 unknown, 1 structure, 2 not
    if kind == "positive":
        labels[m] = 1
        labels[~m & ~region] = 2
    elif kind == "negative":
        labels[~m] = 2
        labels[m & ~region] = 1
    else:  # box: the faces are not the structure
        labels[m] = 1
        face = np.ones_like(m)
        face[1:-1, 1:-1, 1:-1] = False
        labels[face & ~m] = 2
    labels[oth & ~m] = 2
    labels[seeds] = 2 if kind == "negative" else 1
    c_img = _block(img.astype(np.float32), f, np.mean)
    c_lab = _block_labels(labels, f)
    c_lab[_block(seeds.astype(np.float32), f, np.max) > 0] = 2 if kind == "negative" else 1
    chans = [(c_img - c_img.mean()) / (c_img.std() + 1e-6)]
    if prob is not None and o.probability_weight > 0:
        c_prob = _block(prob, f, np.mean)
        chans.append(o.probability_weight * (c_prob - 0.5) * 4.0)
    data = np.stack(chans, axis=-1)
    if not (c_lab == 0).any() or not (c_lab == 1).any() or not (c_lab == 2).any():
        p = (c_lab == 1).astype(np.float32)
    else:
        with warnings.catch_warnings():  # a loose tolerance leaves probabilities a hair outside [0, 1]
            warnings.simplefilter("ignore", UserWarning)
            p = random_walker(
                data,
                c_lab,
                beta=o.beta,
                mode="cg_j",
                tol=1e-2,
                spacing=tuple(spacing * f),
                return_full_prob=True,
                channel_axis=-1,
            )[0]
    full = _unblock(p.astype(np.float32), f, m.shape)
    return full >= 0.5


def _block(a: np.ndarray, f: np.ndarray, reduce) -> np.ndarray:
    """Reduce ``a`` over blocks of ``f`` voxels (the last partial block included)."""
    if np.all(f == 1):
        return a
    pad = [(0, (-n) % k) for n, k in zip(a.shape, f, strict=True)]
    a = np.pad(a, pad, mode="edge")
    s = a.shape
    return reduce(a.reshape(s[0] // f[0], f[0], s[1] // f[1], f[1], s[2] // f[2], f[2]), axis=(1, 3, 5))


def _block_labels(labels: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Seeds on the coarse grid: where every voxel of a block is fixed, the majority of them, else
    unknown (the caller then marks the blocks that hold a prompt's seed)."""
    if np.all(f == 1):
        return labels
    one = _block((labels == 1).astype(np.float32), f, np.mean)
    two = _block((labels == 2).astype(np.float32), f, np.mean)
    out = np.zeros(one.shape, np.int32)
    fixed = one + two > 0.999
    out[fixed & (one >= two)] = 1
    out[fixed & (two > one)] = 2
    return out


def _unblock(p: np.ndarray, f: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Linear interpolation of a coarse map back onto the box's voxels."""
    if np.all(f == 1):
        return p[tuple(slice(0, n) for n in shape)]
    coords = [(np.arange(n) + 0.5) / k - 0.5 for n, k in zip(shape, f, strict=True)]
    grid = np.meshgrid(*coords, indexing="ij", sparse=True)
    return ndi.map_coordinates(p, np.broadcast_arrays(*grid), order=1, mode="nearest")
