"""The noise estimate and the in-plane smoothing that brings noisy scans to the training range."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_c2w import noise


def _smooth_volume(shape=(12, 96, 80), seed=0) -> np.ndarray:
    """Smooth anatomy-like content, 0..1000."""
    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.random(shape), (1, 6, 6))
    return ((a - a.min()) / np.ptp(a) * 1000.0).astype(np.float32)


@pytest.mark.parametrize("level", [0.02, 0.05, 0.1, 0.2])
def test_estimate_recovers_the_level_of_white_noise(level):
    clean = _smooth_volume()
    scale = np.percentile(clean, 99.5) - np.percentile(clean, 0.5)
    noisy = clean + np.random.default_rng(1).normal(0, level * scale, clean.shape)
    got = noise.estimate(noisy, (2.5, 0.7, 0.7))
    # relative to the noisy scan's own intensity range, which the noise widens
    sigma = got * (np.percentile(noisy, 99.5) - np.percentile(noisy, 0.5))
    assert sigma == pytest.approx(level * scale, rel=0.1)


def test_estimate_reads_the_acquisition_plane_whatever_the_stored_order():
    a = _smooth_volume() + np.random.default_rng(2).normal(0, 40, (12, 96, 80))
    stored = np.transpose(a, (1, 2, 0))  # thick slices now along the last axis
    assert noise.in_plane_axes((0.7, 0.7, 2.5)) == (0, 1)
    assert noise.estimate(stored, (0.7, 0.7, 2.5)) == pytest.approx(noise.estimate(a, (2.5, 0.7, 0.7)))


def test_estimate_of_a_flat_or_tiny_volume_is_zero():
    assert noise.estimate(np.zeros((4, 20, 20)), (1, 1, 1)) == 0.0
    assert noise.estimate(np.ones((4, 2, 20)), (1, 1, 1)) == 0.0


@pytest.mark.parametrize("level", [0.07, 0.14, 0.3])
def test_sigma_for_brings_white_noise_down_to_the_target(level):
    sigma = noise.sigma_for(level, 0.05)
    white = np.random.default_rng(3).normal(0, level, (4, 256, 256))
    smoothed = ndimage.gaussian_filter(white, (0, sigma, sigma))
    assert smoothed.std() <= 0.05 * 1.03
    finer = ndimage.gaussian_filter(white, (0, sigma - 0.05, sigma - 0.05))
    assert finer.std() > 0.05 * 0.97  # the smallest such sigma
    assert noise.sigma_for(0.04, 0.05) == 0.0
    assert noise.sigma_for(level, 0.05, max_sigma_px=0.3) <= 0.3


def test_denoise_leaves_a_scan_like_the_training_data_as_it_is():
    from napari_c2w.phantom import generate_phantom

    ph = generate_phantom(3, shape=(16, 96, 96), spacing=(2.0, 0.75, 0.75))
    a = np.asarray(ph.image.array, np.float32)
    out, info = noise.denoise(a, ph.image.spacing)
    assert out is a and info["sigma_mm"] == 0.0 and 0 < info["noise"] < noise.TARGET


def test_denoise_smooths_a_noisy_scan_in_plane_only_and_within_the_cap():
    rng = np.random.default_rng(4)
    clean = _smooth_volume()
    clean[5] += 500.0  # one bright slice: smoothing across slices would spread it
    a = clean + rng.normal(0, 0.15 * 1500, clean.shape).astype(np.float32)
    out, info = noise.denoise(a, (2.5, 0.7, 0.7))
    assert 0 < info["sigma_mm"] <= noise.MAX_SIGMA_MM
    assert noise.estimate(out, (2.5, 0.7, 0.7)) < noise.estimate(a, (2.5, 0.7, 0.7)) / 2
    # each slice's mean is kept: nothing was mixed between slices
    np.testing.assert_allclose(out.mean(axis=(1, 2)), a.mean(axis=(1, 2)), rtol=1e-3, atol=1.0)
