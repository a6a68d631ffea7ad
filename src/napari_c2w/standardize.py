"""Histogram (landmark) standardisation of a scan's intensities to the training scans' (Nyul).

Nyul, Udupa and Zhang (IEEE TMI 2000): each scan's intensity landmarks (here the 1st, 10th,
20th, ..., 90th and 99th percentiles) are mapped piecewise-linearly onto a standard set of
landmarks learned from the training scans, so that a scan from another scanner or protocol
reaches the network with the training scans' histogram shape. The map is monotone: it undoes
gamma-like and other monotone contrast changes, not a change of tissue order.

The landmarks are taken over the network's input region (the ROI box, without the fill outside
the scan), so that training and inference measure them on the same kind of region. Nyul takes
them over the foreground (voxels above the mean) because a brain scan is mostly air; an ROI
around the atrium holds little air, and its darker half (myocardium, lung, fat) is where a
contrast change shows, so every voxel counts here. The
standard shipped with the package (:func:`package_standard`) was fitted on the ROIs of the 70
training scans of the bundled weights with ``scripts/fit_intensity_standard.py``; a model
trained with ``data.standardize: true`` records the standard it used in its checkpoint's
``intensity_normalisation`` and inference applies it from there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources

import numpy as np

#: The landmark percentiles of the foreground (Nyul's decile set with the 1st and 99th).
PERCENTILES = (1.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 99.0)
STANDARD_FILE = "intensity_standard.json"


def landmarks(values: np.ndarray) -> np.ndarray:
    """The :data:`PERCENTILES` of ``values``.

    Args:
        values: intensities (any shape); non-finite values are ignored.

    Returns:
        The landmarks, increasing (ties broken by a tiny step so the map stays invertible).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("no finite intensities to take landmarks from")
    out = np.percentile(v, PERCENTILES)
    span = max(float(out[-1] - out[0]), 1e-6)
    return np.maximum.accumulate(out + np.arange(len(out)) * span * 1e-9)


def fit_standard(samples: Iterable[np.ndarray]) -> dict:
    """The standard landmarks: each sample's landmarks scaled to [0, 1] between its 1st and 99th
    percentile landmark, averaged over the samples.

    Args:
        samples: the training scans' intensities (one array per scan, e.g. its ROI).

    Returns:
        ``{"percentiles": [...], "landmarks": [...], "cases": n}``.
    """
    rows = []
    for values in samples:
        lm = landmarks(values)
        rows.append((lm - lm[0]) / max(lm[-1] - lm[0], 1e-6))
    if not rows:
        raise ValueError("no samples to fit a standard on")
    mean = np.mean(rows, axis=0)
    rounded = [round(float(x), 6) for x in mean]
    return {"percentiles": list(PERCENTILES), "landmarks": rounded, "cases": len(rows)}


def standardize(image: np.ndarray, standard: dict, region: np.ndarray | None = None) -> np.ndarray:
    """``image`` with its landmarks mapped onto ``standard``'s (piecewise linear; beyond the
    first and last landmark the end segments' slopes continue).

    Args:
        image: the intensities to map (float32 out).
        standard: a :func:`fit_standard` result.
        region: the values to take the image's own landmarks from (default: all of ``image``).

    Returns:
        The standardised image, float32, same shape.
    """
    if list(standard.get("percentiles", [])) != list(PERCENTILES):
        raise ValueError(f"the standard was fitted at other percentiles: {standard.get('percentiles')}")
    own = landmarks(image if region is None else region)
    std = np.asarray(standard["landmarks"], dtype=np.float64)
    x = np.asarray(image, dtype=np.float64)
    out = np.interp(x, own, std)
    lo_slope = (std[1] - std[0]) / max(own[1] - own[0], 1e-12)
    hi_slope = (std[-1] - std[-2]) / max(own[-1] - own[-2], 1e-12)
    out = np.where(x < own[0], std[0] + (x - own[0]) * lo_slope, out)
    out = np.where(x > own[-1], std[-1] + (x - own[-1]) * hi_slope, out)
    return out.astype(np.float32)


@cache
def package_standard() -> dict:
    """The standard fitted on the bundled weights' training scans (package data)."""
    text = resources.files("napari_c2w.weights").joinpath(STANDARD_FILE).read_text()
    return json.loads(text)
