"""Semi-synthetic wall and scar on real LGE images around their real cavities.

No real wall or scar labels are available here, so the wall and scar models learn from
phantoms; this module brings their training data closer to real scans. From a real image and
its expert cavity it builds:

- a **wall** shell outside the real endocardium whose thickness varies smoothly between 1 and
  4 mm (a random field), **open** where blood continues beyond the label (the mitral valve and
  pulmonary-vein cuts, found as shell voxels whose real intensity is blood-like) and along the
  veins beyond 5-15 mm from the atrial body (tubular parts, found by a morphological opening);
- **scar** patches inside that wall (a thresholded smooth random field on the shell, 0-40 % of
  the wall);
- an image with healthy wall and LGE-enhanced scar rendered into the real scan through a
  Gaussian point-spread (healthy wall at a nulled-myocardium level, scar at 1.2-1.7 times the
  blood pool), and optionally SynthSeg-style: every tissue class (cavity, wall, scar and four
  intensity clusters of the real background) redrawn with a random mean and texture, then a
  bias field, so the models cannot rely on one contrast.

Pure numpy/scipy; deterministic in ``seed``. Phantom coordinates: (z, y, x), mm.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage as ndi

from ..io.case import Case, provenance_entry, semisynthetic_case_id
from ..io.volume import Volume
from ..masks.geometry import ball_opening
from .fields import F32, Field, smooth_field

#: Semi-synthetic generator version, stored in each case's provenance.
SEMISYNTH_VERSION = "1.0"


@dataclasses.dataclass(frozen=True)
class SemiSynthOptions:
    """Ranges of the semi-synthetic wall, scar and rendering."""

    thickness_mm: tuple[float, float] = (1.0, 4.0)
    vein_keep_mm: tuple[float, float] = (5.0, 15.0)
    body_radius_mm: float = 7.0
    scar_fraction: tuple[float, float] = (0.0, 0.4)
    scar_iir: tuple[float, float] = (1.2, 1.7)
    wall_level: tuple[float, float] = (0.25, 0.5)  # healthy wall, relative to the blood pool
    opening_level: float = 0.8  # shell voxels brighter than this x blood are openings
    synthseg: bool = False
    # Leave the healthy wall as the real image shows it (only scar is rendered): the real LA wall
    # lies right outside the real endocardium, so the shell label sits on it, its thickness drawn.
    real_wall: bool = False
    # Keep the case's own wall and scar labels (a phantom or a corrected case) and only redraw
    # the image: with ``synthseg``, the same anatomy in random tissue contrasts.
    keep_labels: bool = False


def _points(shape, spacing, idx) -> np.ndarray:
    return np.stack([i * s for i, s in zip(idx, spacing, strict=True)], axis=1).astype(F32)


def wall_shell(
    image: np.ndarray, cavity: np.ndarray, spacing, rng: np.random.Generator, opts: SemiSynthOptions
) -> tuple[np.ndarray, np.ndarray]:
    """The semi-synthetic wall mask and its thickness (mm, at wall voxels) around ``cavity``."""
    cavity = cavity.astype(bool)
    h = min(spacing)
    dist_out = ndi.distance_transform_edt(~cavity, sampling=spacing).astype(F32)
    near = (dist_out > 0) & (dist_out <= opts.thickness_mm[1] + h)
    idx = np.nonzero(near)
    pts = _points(cavity.shape, spacing, idx)
    lo, hi = opts.thickness_mm
    field = Field.random(rng, 25.0, n=12).at(pts)
    t = lo + (hi - lo) * (0.5 + 0.5 * np.tanh(1.2 * field))
    thickness = np.zeros(cavity.shape, F32)
    thickness[idx] = t
    wall = near & (dist_out - h / 2 < thickness)

    # Openings: where blood continues beyond the label (mitral valve, vein cuts), a thick
    # blood-like region lies right outside it; a thin bright rim (the real wall's own
    # enhancement) does not count: the region must hold a ball of 3 mm radius.
    core = ndi.binary_erosion(cavity, iterations=2)
    blood = float(np.median(image[core] if core.sum() > 50 else image[cavity]))
    smooth = ndi.gaussian_filter(image.astype(F32), 0.6 / np.asarray(spacing))
    bright_out = (smooth >= opts.opening_level * blood) & ~cavity
    pool = ball_opening(bright_out, 3.0, spacing)
    if pool.any():  # the pool and the bright voxels joining it to the cavity (its mouth)
        near_pool = ndi.distance_transform_edt(~pool, sampling=spacing) <= 3.0 + h
        wall &= ~(pool | (near_pool & bright_out))
    # Veins: the parts of the cavity a ball of body_radius_mm cannot reach are tubes; the wall
    # follows them only so far from the body.
    body = ball_opening(cavity, opts.body_radius_mm, spacing)
    if body.any():
        from_body = ndi.distance_transform_edt(~body, sampling=spacing).astype(F32)
        keep = float(rng.uniform(*opts.vein_keep_mm))
        wall &= from_body <= keep + opts.thickness_mm[1]
    # Only shell pieces attached to the kept wall's largest part remain.
    lab, n = ndi.label(wall)
    if n > 1:
        sizes = ndi.sum(wall, lab, index=np.arange(1, n + 1))
        wall = np.isin(lab, 1 + np.nonzero(sizes >= 0.01 * sizes.max())[0])
    thickness[~wall] = 0
    return wall, thickness


def scar_patches(wall: np.ndarray, spacing, rng: np.random.Generator, fraction: float) -> np.ndarray:
    """Scar inside ``wall``: the ``fraction`` of wall voxels where a smooth field is highest."""
    if fraction <= 0 or not wall.any():
        return np.zeros(wall.shape, bool)
    idx = np.nonzero(wall)
    pts = _points(wall.shape, spacing, idx)
    f = Field.random(rng, 30.0, n=10).at(pts) + 0.3 * Field.random(rng, 8.0, n=10).at(pts)
    cut = np.quantile(f, 1.0 - fraction)
    scar = np.zeros(wall.shape, bool)
    scar[idx] = f >= cut
    # Remove specks: scar is patchy, not salt and pepper.
    return ndi.binary_opening(scar, iterations=1) & wall


def render(
    image: np.ndarray,
    cavity: np.ndarray,
    wall: np.ndarray,
    scar: np.ndarray,
    spacing,
    rng: np.random.Generator,
    opts: SemiSynthOptions,
) -> np.ndarray:
    """Blend healthy wall (unless ``opts.real_wall``) and scar into the real image through a
    Gaussian PSF."""
    img = image.astype(F32)
    blood = float(np.median(img[cavity.astype(bool)]))
    wall_v = blood * float(rng.uniform(*opts.wall_level))
    scar_v = blood * float(rng.uniform(*opts.scar_iir))
    signal = np.zeros(img.shape, F32)
    tex = 1 + 0.08 * rng.normal(size=img.shape).astype(F32)
    drawn = scar if opts.real_wall else wall
    signal[drawn & ~scar] = wall_v
    signal[scar] = scar_v
    signal *= tex
    sigma = [0.5 / s for s in spacing]  # about a 1.2 mm FWHM PSF
    alpha = ndi.gaussian_filter(drawn.astype(F32), sigma)
    return img * (1 - alpha) + ndi.gaussian_filter(signal, sigma)


def synthseg(
    image: np.ndarray, labels: dict[str, np.ndarray], spacing, rng: np.random.Generator
) -> np.ndarray:
    """SynthSeg-style image: each class (labels, then 4 intensity clusters of the rest) gets a
    random mean and texture; then a smooth bias field and a light blur."""
    img = image.astype(F32)
    rest = ~np.any([m.astype(bool) for m in labels.values()], axis=0)
    edges = np.quantile(img[rest], [0.25, 0.5, 0.75])
    classes = np.digitize(img, edges).astype(np.int8)  # 0..3 background clusters
    out = np.zeros(img.shape, F32)
    blood = rng.uniform(0.4, 0.9)
    means = {"cavity": blood, "wall": rng.uniform(0.05, 0.5), "scar": blood * rng.uniform(1.2, 1.7)}
    for k in range(4):
        sel = rest & (classes == k)
        out[sel] = rng.uniform(0.0, 1.0)
    for name in ("cavity", "wall", "scar"):
        if name in labels:
            out[labels[name].astype(bool)] = means[name]
    out *= 1 + rng.uniform(0.02, 0.12) * rng.normal(size=img.shape).astype(F32)
    out = ndi.gaussian_filter(out, [rng.uniform(0.3, 0.8) / s for s in spacing])
    bias = smooth_field(img.shape, rng)
    out *= np.exp(rng.uniform(0.0, 0.4) * bias)
    return np.clip(out, 0, None) * 200.0


def _drawn_wall_and_scar(image, cavity, spacing, rng, opts: SemiSynthOptions):
    """A wall shell around ``cavity`` and scar patches in it."""
    # The shell lies within a few mm of the cavity: work in its box plus 12 mm.
    idx = np.nonzero(cavity)
    box = tuple(
        slice(max(0, int(i.min()) - int(12 / s)), int(i.max()) + 1 + int(12 / s))
        for i, s in zip(idx, spacing, strict=True)
    )
    wall = np.zeros(cavity.shape, bool)
    wall[box], _ = wall_shell(image[box], cavity[box], spacing, rng, opts)
    return wall, scar_patches(wall, spacing, rng, float(rng.uniform(*opts.scar_fraction)))


def _own_wall_and_scar(case: Case):
    """The case's own wall and scar (no scar label: none)."""
    wall = np.asarray(case.labels.get("wall", False)).astype(bool)
    if not wall.any():
        raise ValueError(
            f"{case.case_id}: keeping its labels needs a non-empty wall label; "
            "drop --keep-labels to draw a wall shell around its cavity"
        )
    return wall, np.asarray(case.labels.get("scar", np.zeros(wall.shape))).astype(bool)


def semi_synthetic_case(case: Case, seed: int, opts: SemiSynthOptions | None = None) -> Case:
    """A copy of a real case (image + expert cavity) with semi-synthetic wall and scar."""
    opts = opts or SemiSynthOptions()
    if "cavity" not in case.labels or not np.any(case.labels["cavity"]):
        raise ValueError(f"{case.case_id}: a semi-synthetic case needs a non-empty cavity label")
    rng = np.random.default_rng([int(seed), 11])
    image = np.asarray(case.image.array, F32)
    cavity = np.asarray(case.labels["cavity"]).astype(bool)
    spacing = case.image.spacing
    if opts.keep_labels:
        wall, scar = _own_wall_and_scar(case)
    else:
        wall, scar = _drawn_wall_and_scar(image, cavity, spacing, rng, opts)
    labels = {"cavity": cavity.astype(np.uint8), "wall": wall.astype(np.uint8), "scar": scar.astype(np.uint8)}
    if opts.synthseg:
        out = synthseg(image, labels, spacing, rng)
    else:
        out = render(image, cavity, wall, scar, spacing, rng, opts)
    kind = "synthseg" if opts.synthseg else "real wall" if opts.real_wall else "rendered"
    kind += ", own labels" if opts.keep_labels else ""
    entry = provenance_entry(
        "semi-synthetic",
        by="napari_c2w.phantom.semisynth",
        version=SEMISYNTH_VERSION,
        seed=int(seed),
        image=kind,
    )
    return Case(
        Volume(out.astype(np.float32), spacing, case.image.origin, case.image.direction),
        labels,
        case_id=semisynthetic_case_id(case.case_id, seed),
        sources={"image": f"semi-synthetic from {case.case_id}"},
        provenance=[*case.provenance, entry],
    )
