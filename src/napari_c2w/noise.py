"""Image noise: an estimate, and in-plane smoothing that brings a noisy scan back to the noise
level the models trained on.

The bundled models trained on la2018 scans (noise 0.007-0.042 by :func:`estimate`, median
0.015 on all 80) and phantoms (0.011-0.058, median 0.03-0.04). Scans noisier than that lose wall
and scar first: on 8 phantoms of an untrained configuration with Rician noise of 0.2 x the 99th
percentile (estimate 0.13-0.14), wall Dice fell from 0.76 to 0.67 and scar from 0.66 to 0.39, and
on 5 held-out la2018 scans the worst cavity from 0.87 to 0.80; an in-plane Gaussian of 0.5 mm
before inference gave back 0.70 / 0.47 and 0.88 (docs/robustness.md). The pipeline therefore
smooths only a scan whose estimate is above :data:`TARGET`, with the smallest in-plane Gaussian
that brings white noise of that level down to it (:func:`sigma_for`), so scans like the training
data are left as they are. Pure numpy/scipy.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

#: Noise level (of :func:`estimate`) the pipeline smooths a scan down to, and above which it
#: smooths at all: just above the noisiest training volume (a phantom at 0.058).
TARGET = 0.06
#: The largest in-plane Gaussian the pipeline applies (mm): the wall is 1-4 mm thick.
MAX_SIGMA_MM = 1.0
#: Immerkaer's Laplacian-difference mask: it cancels smooth image content (up to second order)
#: and keeps white noise.
_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)


def in_plane_axes(spacing) -> tuple[int, int]:
    """The two axes with the finest spacing: the acquisition's plane, whatever the stored order
    (thick slices are along the third)."""
    order = sorted(range(3), key=lambda a: (spacing[a], -a))
    return tuple(sorted(order[:2]))


def estimate(array: np.ndarray, spacing=(1.0, 1.0, 1.0), max_slices: int = 16) -> float:
    """Standard deviation of white noise in ``array``, over its 0.5-99.5th percentile range.

    Immerkaer's estimator (Immerkaer 1996, "Fast noise variance estimation") on up to
    ``max_slices`` evenly spaced slices of the acquisition plane (:func:`in_plane_axes`), the
    median over slices. 0.0 for a volume with no contrast or slices smaller than 3 x 3.
    """
    a = np.moveaxis(np.asarray(array), 3 - sum(in_plane_axes(spacing)), 0)
    if a.shape[1] < 3 or a.shape[2] < 3:
        return 0.0
    picks = a[np.unique(np.linspace(0, a.shape[0] - 1, min(max_slices, a.shape[0])).round().astype(int))]
    picks = picks.astype(np.float64)
    low, high = np.percentile(picks, [0.5, 99.5])  # one partition for both
    scale = float(high - low)
    if not scale > 0:
        return 0.0
    per_slice = [
        math.sqrt(math.pi / 2) / 6 * np.abs(ndimage.convolve(s, _MASK, mode="reflect")[1:-1, 1:-1]).mean()
        for s in picks
    ]
    return float(np.median(per_slice) / scale)


def reduction(sigma_px: float) -> float:
    """The factor by which an in-plane Gaussian of ``sigma_px`` (scipy's, in both axes) scales
    the standard deviation of white noise: the 2D kernel's L2 norm, the 1D norm squared."""
    if sigma_px <= 0:
        return 1.0
    delta = np.zeros(2 * math.ceil(4 * sigma_px) + 3)
    delta[len(delta) // 2] = 1.0
    kernel = ndimage.gaussian_filter1d(delta, sigma_px, mode="constant")
    return float((kernel**2).sum())


def sigma_for(noise: float, target: float = TARGET, max_sigma_px: float = math.inf) -> float:
    """The smallest in-plane Gaussian (pixels, to 0.05) that brings white noise of level
    ``noise`` down to ``target``; 0.0 when it is there already, at most ``max_sigma_px``."""
    if not noise > target:
        return 0.0
    sigma = 0.05
    while noise * reduction(sigma) > target and sigma < max_sigma_px:
        sigma = round(sigma + 0.05, 2)
    return float(min(sigma, max_sigma_px))


def denoise(array: np.ndarray, spacing, target: float = TARGET) -> tuple[np.ndarray, dict]:
    """``array`` smoothed in its acquisition plane down to the noise level ``target`` (unchanged
    when it is not noisier), and what was done: ``{"noise", "sigma_mm"}``."""
    noise = estimate(array, spacing)
    axes = in_plane_axes(spacing)
    pixel = float(np.mean([spacing[a] for a in axes]))
    sigma_px = sigma_for(noise, target, MAX_SIGMA_MM / pixel)
    info = {"noise": round(noise, 4), "sigma_mm": round(sigma_px * pixel, 3)}
    if not sigma_px:
        return array, info
    sigmas = [sigma_px if a in axes else 0.0 for a in range(3)]
    return ndimage.gaussian_filter(np.asarray(array, np.float32), sigmas), info
