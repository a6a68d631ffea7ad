"""A wall proposed from a correct cavity: a shell outside the endocardium, open where blood flows on
(pure numpy/scipy).

Once the cavity is right, :func:`propose_wall` proposes the LA wall for the annotator to accept or
correct with prompts:

- a shell of ``thickness_mm`` (2.0 mm by default; the LA wall is 1-4 mm, and the image rarely
  shows its outer edge: in LGE the nulled wall looks like the tissue around it) outside the
  cavity, within the band the review uses;
- **open** where blood continues beyond the label: the mitral valve and the pulmonary-vein cuts
  are a blood-bright pool outside the cavity (a region as bright as ``opening_level`` times the
  blood pool that holds a 3 mm ball), and the wall does not cross its mouth; a thin bright rim,
  such as enhanced (scarred) wall, does not count, so scar stays in the wall;
- along the veins only ``vein_mm`` beyond the atrial body (the part of the cavity a ball of
  ``body_radius_mm`` reaches), as the myocardial sleeves of the veins end;
- never on another structure's voxels (``others``).

``bench_interactive.py --structure wall`` measures it against reference walls of phantoms and of
semi-synthetic real-image cases.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from ..masks.geometry import ball_opening, bbox, grow, margin_voxels
from .prompts import Prompt
from .refine import Refined, _distance_to


@dataclasses.dataclass(frozen=True)
class WallOptions:
    """The proposed wall's thickness and openings.

    Attributes:
        thickness_mm: the shell's thickness outside the cavity.
        opening_level: outside voxels at least this bright (times the blood pool) may be an opening.
        opening_radius_mm: an opening's pool holds a ball of this radius.
        body_radius_mm: the atrial body is the part of the cavity a ball of this radius reaches.
        vein_mm: the wall follows a vein this far beyond the body.
    """

    thickness_mm: float = 2.0
    opening_level: float = 1.0
    opening_radius_mm: float = 3.0
    body_radius_mm: float = 7.0
    vein_mm: float = 10.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.thickness_mm <= 5.0:
            raise ValueError(f"the wall thickness must be 0.5-5 mm, not {self.thickness_mm}")


def propose_wall(
    image: np.ndarray,
    cavity: np.ndarray,
    spacing: Sequence[float],
    others: np.ndarray | None = None,
    options: WallOptions | None = None,
) -> np.ndarray:
    """The wall (uint8 0/1 on the image grid) proposed around ``cavity``.

    Args:
        image: the LGE image (z, y, x).
        cavity: the cavity mask on the same grid.
        spacing: voxel size in mm (z, y, x).
        others: voxels the wall may not take (other structures' labels), or None.
        options: see :class:`WallOptions`.

    Raises:
        ValueError: the grids differ or the cavity is empty.
    """
    o = options or WallOptions()
    spacing = tuple(float(s) for s in spacing)
    image, cav = np.asarray(image), np.asarray(cavity) != 0
    if image.shape != cav.shape or (others is not None and np.shape(others) != cav.shape):
        raise ValueError(f"the image {image.shape}, cavity {cav.shape} and other labels must share one grid")
    reach = o.thickness_mm + 2 * o.opening_radius_mm + max(spacing)
    box = grow(bbox(cav), margin_voxels(reach, spacing), cav.shape)
    if box is None:
        raise ValueError("the cavity is empty: correct the cavity first, then propose the wall")
    c = cav[box]
    h = min(spacing)
    dist = ndi.distance_transform_edt(~c, sampling=spacing)
    wall = (dist > 0) & (dist - h / 2 < o.thickness_mm)
    img = image[box].astype(np.float32)
    core = ndi.binary_erosion(c, iterations=2)
    blood = float(np.median(img[core] if core.sum() > 50 else img[c]))
    smooth = ndi.gaussian_filter(img, 0.6 / np.asarray(spacing))
    bright = (smooth >= o.opening_level * blood) & ~c
    pool = ball_opening(bright, o.opening_radius_mm, spacing)
    if pool.any():  # the pool and the bright voxels joining it to the cavity (its mouth)
        near_pool = ndi.distance_transform_edt(~pool, sampling=spacing) <= o.opening_radius_mm + h
        wall &= ~(pool | (near_pool & bright))
    body = ball_opening(c, o.body_radius_mm, spacing)
    if body.any():
        wall &= ndi.distance_transform_edt(~body, sampling=spacing) <= o.vein_mm + o.thickness_mm
    if others is not None:
        wall &= np.asarray(others)[box] == 0
    out = np.zeros(cav.shape, np.uint8)
    out[box] = wall
    return out


def refine_wall(  # noqa: PLR0917
    mask: np.ndarray,
    prompt: Prompt,
    cavity: np.ndarray,
    spacing: Sequence[float],
    others: np.ndarray | None = None,
    radius_mm: float = 8.0,
) -> Refined:
    """Correct the wall near a click, measured from the cavity (the wall is a shell around it).

    A positive click adds, within ``radius_mm`` of it, every voxel outside the cavity as close to
    the cavity as the click is (at least 1 mm, at most 5 mm: the wall there reaches the click); a
    negative click removes, within the same ball, the wall voxels as far from the cavity as the
    click or farther (the wall there ends before the click).
    """
    t0 = time.perf_counter()
    spacing = np.asarray(spacing, float)
    pts = prompt.voxels(mask.shape)
    c = pts.mean(0).round().astype(int)
    r = np.ceil((radius_mm + 5.0) / spacing).astype(int) + 1
    lo, hi = np.maximum(c - r, 0), np.minimum(c + r + 1, mask.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    cav = np.asarray(cavity[box]) != 0
    m = np.asarray(mask[box]) != 0
    if not cav.any():
        raise ValueError(
            "no cavity near the click: the wall is corrected from the cavity; correct the cavity first"
        )
    dist = ndi.distance_transform_edt(~cav, sampling=spacing)
    ball = _distance_to((c - lo)[None], m.shape, spacing) <= radius_mm
    at = float(dist[tuple(c - lo)])
    blocked = cav if others is None else cav | (np.asarray(others)[box] != 0)
    new = m.copy()
    if prompt.kind == "negative":
        new &= ~(ball & (dist >= at - 0.5 * spacing.min()))
    else:
        reach = float(np.clip(at + 0.5 * spacing.min(), 1.0, 5.0))
        new |= ball & (dist > 0) & (dist <= reach) & ~blocked
    out = (np.asarray(mask) != 0).astype(np.uint8)
    out[box] = new
    added, removed = int(np.count_nonzero(new & ~m)), int(np.count_nonzero(m & ~new))
    return Refined(out, added, removed, time.perf_counter() - t0, "wall band", box)
