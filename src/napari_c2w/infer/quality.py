"""A per-case quality score that ranks failed segmentations first.

The entropy of the network's own probabilities does not find failures on shifted data (a model
that is wrong with confidence is certain). This score instead checks the result against what
an LA segmentation must look like, with features computed from the labels on the input grid:

- ``cavity_ml``: LA volumes in adults with or without AF lie within about 20-250 mL.
- ``localizer_ratio``: the cavity's volume over the atrium the (independent, coarse) localizer
  found; the two disagree when either failed.
- ``compactness``: sphericity of the cavity (1 for a ball); a segmentation scattered into
  pieces or ragged sheets has a far larger surface for its volume.
- ``fragments``: the share of cavity-probability voxels outside the kept cavity component.
- ``contrast_agreement``: Dice of the cavity with the cavity of a second pass on a gamma-bent
  input (:mod:`.contrast_check`); a model on a contrast it never saw is unstable.
- ``wall_coverage``: the share of the cavity's surface voxels with wall within 1.5 mm outside
  (an anatomical wall covers most of it; a wall model that failed leaves it bare).
- ``scar_depth``: the share of scar voxels more than 1.5 mm inside the cavity.
- ``scar_confidence``: the share of the wall band's candidate scar (probability >= 0.2) that
  the scar network is sure of (>= 0.8; :func:`.postprocess.scar_confidence`): 0.74-0.83 on
  unshifted phantoms, 0.46-0.68 on real held-out scans (it has never seen a real scar label), less
  on a contrast it never saw, where its scar fails; its entropy does not show that.
- ``noise``: the input's noise level (:func:`napari_c2w.noise.estimate`); above the training
  data's the pipeline smooths the scan, and far above it the wall and scar are less reliable.

Each feature maps to a badness in [0, 1] by a ramp between a plausible and an implausible value
(:data:`RAMPS`). The case score is the largest badness of the cavity checks (the first five):
the cavity is what every later stage and measure builds on, and a case is flagged at
:data:`FLAG_AT`. The wall, scar and noise checks are reported as warnings beside it. Pure numpy/scipy.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..masks.geometry import bbox, boundary
from ..noise import TARGET as NOISE_TARGET

#: feature: (value where badness starts, value where it reaches 1). Low-is-bad when start > end.
RAMPS = {
    "cavity_ml_low": (20.0, 5.0),
    "cavity_ml_high": (250.0, 400.0),
    "localizer_ratio_low": (0.5, 0.2),
    "localizer_ratio_high": (2.0, 4.0),
    "compactness": (0.45, 0.25),
    "fragments": (0.15, 0.5),
    # From perfect agreement on, so that cases passing every other check are still ranked (a
    # ramp starting at 0.85 tied every plausible case at 0 and the queue could not order them);
    # flagged below 0.86.
    "contrast_agreement": (1.0, 0.6),
    "wall_coverage": (0.4, 0.15),
    "scar_depth": (0.05, 0.3),
    # Warned below 0.50 (benchmarks/calibrate_warnings.py on 104 bench_robustness runs: 14
    # held-out real scans unshifted and under contrast shifts, semi-synthetic copies of 4 of them,
    # 12 phantoms in three configurations). The earlier cut, 0.68, chosen on phantoms, warned on
    # 9 of 10 real held-out scans (0.46-0.68 there) and all 19 shifted ones with a good cavity.
    # At 0.50: 1 of 10 and 6 of 19 of those; 0 of the 31 runs with scar truth and scar Dice
    # >= 0.4, 11 of the 33 below it (at 0.68: 9 of 31 and 23 of 33).
    "scar_confidence": (0.60, 0.40),
    # From the top of the training data's noise (the pipeline smooths down to it) on; a warning
    # from 0.10 (the benchmark's strongest noise reads 0.13-0.14, where 8 phantoms of an
    # untrained configuration lost 0.06 wall and 0.19 scar Dice even after the smoothing).
    "noise": (NOISE_TARGET, 0.14),
}
#: A case whose score reaches this is flagged for review. 0.5 missed most failures left after
#: the fourth robustness round (they score 0.35-0.45: plausible-looking atria); 0.35 flagged 10 of
#: 13 runs with cavity Dice < 0.8 instead of 6 on the third round's 484 benchmark runs (good runs
#: flagged 8 instead of 5 of 471), and 3 of 5 / 3 of 7 instead of 0 / 1 on the fourth round's
#: (docs/robustness.md).
FLAG_AT = 0.35
#: A wall, scar or noise check that reaches this is a warning beside the case score.
WARN_AT = 0.5
#: The checks behind the case score; the others (wall, scar, noise) give warnings.
CAVITY_CHECKS = (
    "cavity_ml_low",
    "cavity_ml_high",
    "localizer_ratio_low",
    "localizer_ratio_high",
    "compactness",
    "fragments",
    "contrast_agreement",
)


def _ramp(value: float, start: float, end: float) -> float:
    if value is None or math.isnan(value):
        return 0.0
    t = (value - start) / (end - start)
    return float(min(1.0, max(0.0, t)))


def _surface_area_mm2(mask: np.ndarray, spacing) -> float:
    """Surface area from the marching-cubes mesh of the mask (mm^2)."""
    from skimage import measure

    padded = np.pad(mask.astype(np.float32), 1)
    verts, faces, _, _ = measure.marching_cubes(padded, 0.5, spacing=tuple(spacing))
    return float(measure.mesh_surface_area(verts, faces))


def _crop(labels: dict[str, np.ndarray], spacing, margin_mm: float = 4.0) -> dict[str, np.ndarray]:
    """The masks cut to their union's box plus a margin (the distance maps cost that much)."""
    masks = {k: np.asarray(v) for k, v in labels.items()}
    # each mask's box by two projections (a few ms; np.nonzero of the union took 66 ms and the
    # union itself a full-volume copy per mask), then only the crops become bool
    boxes = [b for b in map(bbox, masks.values()) if b is not None]
    if not boxes:
        return {k: m.astype(bool) for k, m in masks.items()}
    box = tuple(
        slice(
            max(0, min(b[a].start for b in boxes) - math.ceil(margin_mm / s)),
            max(b[a].stop for b in boxes) + math.ceil(margin_mm / s),
        )
        for a, s in enumerate(spacing)
    )
    return {k: np.pad(m[box].astype(bool), 1) for k, m in masks.items()}


def features(
    labels: dict[str, np.ndarray],
    spacing,
    *,
    fragments=None,
    localizer_ml=None,
    agreement=None,
    noise=None,
    scar_confidence=None,
) -> dict:
    """The quality features of one prediction (see the module docstring).

    Args:
        labels: the binary masks on the input grid.
        spacing: the input grid's spacing (z, y, x) in mm.
        fragments: the share of cavity-probability voxels the post-processing discarded.
        localizer_ml: the volume of the atrium the localizer found (mL).
        agreement: the cavity's agreement with the contrast check's second pass.
        noise: the input's noise level (:func:`napari_c2w.noise.estimate`).
        scar_confidence: :func:`.postprocess.scar_confidence` of the scar probabilities.
    """
    voxel_ml = float(np.prod(spacing)) / 1000.0
    masks = _crop(labels, spacing) if labels else {}
    cavity = masks.get("cavity", np.zeros((1, 1, 1), bool))
    out = {"cavity_ml": float(cavity.sum() * voxel_ml)}
    out["localizer_ratio"] = out["cavity_ml"] / localizer_ml if localizer_ml else math.nan
    if cavity.any():
        v = cavity.sum() * float(np.prod(spacing))
        area = _surface_area_mm2(cavity, spacing)
        out["compactness"] = float(math.pi ** (1 / 3) * (6 * v) ** (2 / 3) / max(area, 1e-6))
    else:
        out["compactness"] = math.nan
    out["fragments"] = math.nan if fragments is None else float(fragments)
    out["wall_coverage"] = wall_coverage(cavity, masks.get("wall"), spacing)
    out["scar_depth"] = _scar_depth(cavity, masks.get("scar"), spacing)
    out["contrast_agreement"] = math.nan if agreement is None else float(agreement)
    out["noise"] = math.nan if noise is None else float(noise)
    out["scar_confidence"] = math.nan if scar_confidence is None else float(scar_confidence)
    return out


def wall_coverage(cavity: np.ndarray, wall, spacing, within_mm: float = 1.5) -> float:
    """The share of ``cavity``'s surface voxels with ``wall`` within ``within_mm`` (NaN without
    a wall or a cavity)."""
    if wall is None or not cavity.any():
        return math.nan
    wall = np.asarray(wall, bool)
    surface = boundary(cavity)  # the masks are padded: no voxel lies on the array's edge
    dist_to_wall = ndimage.distance_transform_edt(~wall, sampling=spacing)
    return float((dist_to_wall[surface] <= within_mm).mean())


def _scar_depth(cavity: np.ndarray, scar, spacing, depth_mm: float = 1.5) -> float:
    if scar is None or not cavity.any():
        return math.nan
    scar = np.asarray(scar, bool)
    if not scar.any():
        return 0.0
    depth = ndimage.distance_transform_edt(cavity, sampling=spacing)
    return float((depth[scar] > depth_mm).mean())


def score(feats: dict) -> dict:
    """Badness per check, the case score (their maximum) and whether it is flagged."""
    bad = {
        "cavity_ml_low": _ramp(feats.get("cavity_ml"), *RAMPS["cavity_ml_low"]),
        "cavity_ml_high": _ramp(feats.get("cavity_ml"), *RAMPS["cavity_ml_high"]),
        "localizer_ratio_low": _ramp(feats.get("localizer_ratio"), *RAMPS["localizer_ratio_low"]),
        "localizer_ratio_high": _ramp(feats.get("localizer_ratio"), *RAMPS["localizer_ratio_high"]),
        "compactness": _ramp(feats.get("compactness"), *RAMPS["compactness"]),
        "fragments": _ramp(feats.get("fragments"), *RAMPS["fragments"]),
        "contrast_agreement": _ramp(feats.get("contrast_agreement"), *RAMPS["contrast_agreement"]),
        "wall_coverage": _ramp(feats.get("wall_coverage"), *RAMPS["wall_coverage"]),
        "scar_depth": _ramp(feats.get("scar_depth"), *RAMPS["scar_depth"]),
        "noise": _ramp(feats.get("noise"), *RAMPS["noise"]),
        "scar_confidence": _ramp(feats.get("scar_confidence"), *RAMPS["scar_confidence"]),
    }
    if feats.get("cavity_ml", 0) == 0:
        bad["cavity_ml_low"] = 1.0  # nothing found at all
    worst = max(CAVITY_CHECKS, key=bad.get)
    value = bad[worst]
    return {
        "score": round(value, 4),
        "flagged": bool(value >= FLAG_AT),
        "reason": worst if value > 0 else "",
        "warnings": [k for k in bad if k not in CAVITY_CHECKS and bad[k] >= WARN_AT],
        "checks": {k: round(v, 4) for k, v in bad.items()},
        "features": {
            k: (None if v is None or math.isnan(v) else round(float(v), 4)) for k, v in feats.items()
        },
    }


#: What each warning means and what the annotator should do about it (widget and ``predict``).
WARNINGS = {
    "wall_coverage": "the predicted wall leaves much of the endocardium bare: correct the wall (or "
    "fine-tune it on a few corrected cases of this site) before reading thickness or scar burden",
    "scar_depth": "some predicted scar lies deep inside the cavity: remove it with Review "
    "annotations (band cleaning) or `napari-c2w review --clean`",
    "noise": "the scan is far noisier than the training data; check the wall and scar closely",
    "scar_confidence": "the scar network is sure of little of the scar it found{detail}: another "
    "contrast than its training data's? Review the scar closely before quoting its burden",
}
#: The value a warning quotes, where the quality record has it.
_DETAILS = {
    "scar_confidence": " ({value:.0%} of it; 46-68% on real held-out scans, 74-83% on phantoms like "
    "its training data)"
}


def warning_text(name: str, features: dict | None = None) -> str:
    """:data:`WARNINGS`' text for ``name``, quoting the feature's value where there is one."""
    value = (features or {}).get(name)
    detail = _DETAILS[name].format(value=value) if name in _DETAILS and value is not None else ""
    return WARNINGS.get(name, name).replace("{detail}", detail)


def assess(prediction, spacing) -> dict:
    """The quality record of a :class:`~napari_c2w.infer.pipeline.Prediction`."""
    feats = features(
        prediction.labels,
        spacing,
        fragments=prediction.roi.get("cavity_fragments"),
        localizer_ml=prediction.roi.get("localizer_ml"),
        agreement=prediction.roi.get("contrast_agreement"),
        noise=prediction.roi.get("noise"),
        scar_confidence=prediction.roi.get("scar_confidence"),
    )
    return score(feats)
