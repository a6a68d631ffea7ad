"""The pipeline's last step, pure numpy: post-process the ROI probabilities on the model grid,
bring labels (and, on request, probabilities and the uncertainty map) back to the input grid,
drop scar deep inside the cavity, and score the uncertainty."""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import preprocess as pre
from ..io.orient import CANONICAL
from .postprocess import (
    binary_entropy,
    discarded_share,
    drop_deep_scar,
    postprocess,
    scar_confidence,
    uncertainty,
)


@dataclasses.dataclass
class Geometry:
    """Where the ROI sits: its ``box`` on the model grid of ``grid_shape`` and ``model_spacing``,
    and the input's ``input_shape`` and ``input_spacing``."""

    box: tuple
    grid_shape: tuple[int, ...]
    model_spacing: tuple[float, ...]
    input_shape: tuple[int, ...]
    input_spacing: tuple[float, ...]

    def back_box(self, roi_array: np.ndarray) -> tuple[tuple[slice, ...], np.ndarray]:
        """An ROI array resampled to the input's grid where it can be non-zero: the slices of
        the input grid and the values there (zero elsewhere; :func:`.preprocess.resample_box`)."""
        return pre.resample_box(roi_array, self.box, self.grid_shape, self.input_shape)

    def back(self, roi_array: np.ndarray) -> np.ndarray:
        """An ROI array pasted into the model grid and resampled to the input's shape."""
        where, values = self.back_box(roi_array)
        full = np.zeros(self.input_shape, np.float32)
        full[where] = values
        return full


def finish(
    probs: dict[str, np.ndarray],
    thresholds: dict[str, float],
    geometry: Geometry,
    options,
    atrium: np.ndarray | None = None,
) -> tuple[dict, dict]:
    """Labels on the input grid from the ROI probabilities ``probs``, with ``options``'
    (:class:`~.options.InferenceOptions`) post-processing switches (``atrium``: the localizer's
    atrium on the ROI, which picks the cavity's component): the
    :class:`~.pipeline.Prediction` fields ``labels``, ``probabilities``, ``uncertainty`` and
    ``uncertainty_map``, and the checks the quality score reads: the share of cavity probability
    discarded as fragments (``cavity_fragments``) and :func:`.postprocess.scar_confidence`."""
    o, g = options, geometry
    roi_labels, band = postprocess(
        probs,
        thresholds,
        g.model_spacing,
        largest_cavity=o.largest_cavity,
        wall_near_cavity=o.wall_near_cavity,
        scar_in_band=o.scar_in_band,
        inner_mm=o.band_inner_mm,
        outer_mm=o.band_outer_mm,
        atrium=atrium,
    )
    checks = {"cavity_fragments": None, "scar_confidence": None}
    if "cavity" in roi_labels:
        checks["cavity_fragments"] = discarded_share(
            probs["cavity"], roi_labels["cavity"], thresholds["cavity"]
        )
    if "scar" in probs:
        checks["scar_confidence"] = scar_confidence(probs["scar"], band)
    entropy = {s: binary_entropy(p) for s, p in probs.items()}
    scores = uncertainty(entropy, band, o.flip_tta)
    labels: dict[str, np.ndarray] = {}
    prob_out = {} if o.probabilities else None
    for s, kept_roi in roi_labels.items():
        # The boundary comes from the probabilities resampled to the input grid (sub-voxel where
        # the model grid is coarser, as nnU-Net resamples its softmax), the kept components and
        # the band from the post-processed mask on the model grid.
        where, prob = g.back_box(probs[s])
        _, kept = g.back_box(kept_roi.astype(np.float32))
        labels[s] = np.zeros(g.input_shape, np.uint8)
        labels[s][where] = (prob >= thresholds[s]) & (kept > 1e-3)
        if prob_out is not None:
            prob_out[s] = np.zeros(g.input_shape, np.float32)
            prob_out[s][where] = prob
        del prob, kept
    if "scar" in labels and o.scar_max_depth_mm is not None:
        labels["scar"] = drop_deep_scar(labels, g.input_spacing, o.scar_max_depth_mm)
    umap = None
    if o.uncertainty_map:
        umap = g.back(entropy["scar" if "scar" in entropy else o.stages[-1]])
    fields = {"labels": labels, "probabilities": prob_out, "uncertainty": scores, "uncertainty_map": umap}
    return fields, checks


def to_stored_order(pred, orient):
    """Map a prediction made in the canonical orientation back to the input's array order
    (``orient``: :func:`napari_c2w.io.orient.reorientation` of the input)."""
    pred.roi["stored_orientation"] = orient.code
    if orient.identity:
        return pred
    pred.labels = {s: orient.from_canonical(a) for s, a in pred.labels.items()}
    if pred.probabilities is not None:
        pred.probabilities = {s: orient.from_canonical(a) for s, a in pred.probabilities.items()}
    if pred.uncertainty_map is not None:
        pred.uncertainty_map = orient.from_canonical(pred.uncertainty_map)
    pred.roi["reoriented_to"] = CANONICAL
    return pred
