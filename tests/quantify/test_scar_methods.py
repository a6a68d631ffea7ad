"""The registry's scar methods on volumes with known intensities: IIR, mean + k·SD, the network's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_c2w.quantify import BandSpec, blood_pool, method_scar, scar_agreement

SPACING = (1.25, 0.625, 0.625)


def _shells(shape=(32, 64, 64)):
    centre = np.asarray(shape) // 2
    zz, yy, xx = np.meshgrid(
        *((np.arange(n) - c) * s for n, c, s in zip(shape, centre, SPACING, strict=True)), indexing="ij"
    )
    r = np.sqrt(zz**2 + yy**2 + xx**2)
    cavity = r < 8.0
    wall = (r >= 8.0) & (r < 10.0)
    return cavity, wall, xx, r


def _volume(cavity, wall, xx, r, *, noise=0.0, seed=0):
    """Blood 100 (deep), rim 40 (not in the pool), wall 30, wall at x > 4 mm 125 (IIR 1.25) / 140 (1.40)."""
    img = np.full(cavity.shape, 10.0)
    img[cavity] = 100.0
    img[cavity & (r > 6.0)] = 40.0  # within 2 mm of the wall: must not enter the blood pool
    img[wall] = 30.0
    img[wall & (xx > 4.0)] = 125.0
    img[wall & (xx > 6.0)] = 140.0
    if noise:
        img += np.random.default_rng(seed).normal(0, noise, img.shape)
    return img


def test_blood_pool_is_the_eroded_cavity():
    cavity, wall, xx, r = _shells()
    img = _volume(cavity, wall, xx, r)
    pool = blood_pool(img, cavity, SPACING, erode_mm=2.5)
    assert pool.mean == pytest.approx(100.0)
    assert pool.sd == pytest.approx(0.0)
    # without erosion the darker rim drags the mean down
    assert blood_pool(img, cavity, SPACING, erode_mm=0).mean < 90


@pytest.mark.parametrize(("iir", "expected"), [(1.2, 4.0), (1.32, 6.0), (1.5, None)])
def test_iir_threshold_finds_the_voxels_above_it(iir, expected):
    cavity, wall, xx, r = _shells()
    img = _volume(cavity, wall, xx, r)
    s = method_scar("iir", img, cavity, SPACING, wall, params={"iir": iir}, erode_mm=2.5)
    truth = wall & (xx > expected) if expected is not None else np.zeros_like(wall)
    assert np.array_equal(s.mask, truth)
    assert s.basis == "wall" and s.blood.mean == pytest.approx(100.0)
    assert s.burden_pct == pytest.approx(100.0 * truth.sum() / wall.sum())


def test_sd_threshold_uses_mean_plus_k_sd():
    cavity, wall, xx, r = _shells()
    img = _volume(cavity, wall, xx, r, noise=2.0)
    pool = blood_pool(img, cavity, SPACING, erode_mm=2.5)
    assert pool.sd == pytest.approx(2.0, rel=0.1)
    for k, expected in ((3.0, 4.0), (15.0, 6.0)):  # thresholds about 106 and 130
        s = method_scar("sd", img, cavity, SPACING, wall, params={"sd_k": k}, erode_mm=2.5)
        assert np.array_equal(s.mask, wall & (img > pool.mean + k * pool.sd))
        truth = wall & (xx > expected)
        assert scar_agreement(s.mask, truth, wall)["dice"] > 0.99


def test_without_wall_the_outer_band_is_searched_not_the_blood():
    cavity, wall, xx, r = _shells()
    img = _volume(cavity, wall, xx, r)
    img[cavity & (r < 3)] = 200.0  # a bright spot deep in the blood is not scar
    s = method_scar("iir", img, cavity, SPACING, None, params={"iir": 1.2}, erode_mm=2.5)
    region, basis = BandSpec().scar_region(cavity, SPACING, None)
    assert basis == "band" and not (region & cavity).any()
    assert not (s.mask & cavity).any()
    assert s.mask[wall & (xx > 6.5) & (r < 10.0)].all()
    assert np.array_equal(s.region, region)


def test_the_network_method_is_the_scar_label_in_the_region():
    cavity, wall, xx, _ = _shells()
    scar = (wall | cavity) & (xx > 4.0)  # a label that slips into the cavity
    s = method_scar("network", None, cavity, SPACING, wall, scar=scar)
    assert s.blood is None and np.array_equal(s.mask, wall & (xx > 4.0))
    prob = np.where(scar, 0.7, 0.2).astype(np.float32)  # a probability: >= 0.5 is scar
    assert np.array_equal(method_scar("network", None, cavity, SPACING, wall, scar=prob).mask, s.mask)


def test_agreement_dice_and_burden_difference():
    region = np.zeros((4, 4, 4), bool)
    region[:2] = True  # 32 voxels
    a = np.zeros_like(region)
    b = np.zeros_like(region)
    a[0, :2] = True  # 8
    b[0, :1] = True  # 4, inside a
    got = scar_agreement(a, b, region)
    assert got["dice"] == pytest.approx(2 * 4 / 12)
    assert got["burden_diff_pp"] == pytest.approx(100 * 8 / 32 - 100 * 4 / 32)
    assert math.isnan(scar_agreement(b & False, b & False, region)["dice"])


def test_bad_inputs_say_what_to_fix():
    cavity, wall, xx, r = _shells()
    img = _volume(cavity, wall, xx, r)
    with pytest.raises(ValueError, match="shape"):
        method_scar("iir", img[:-1], cavity, SPACING, wall)
    with pytest.raises(ValueError, match="cavity is empty"):
        blood_pool(img, np.zeros_like(cavity), SPACING)
    with pytest.raises(ValueError, match="lower the erosion"):
        blood_pool(img, cavity, SPACING, erode_mm=9.0)
    with pytest.raises(ValueError, match="unknown scar method"):
        method_scar("otsu", img, cavity, SPACING, wall)
    with pytest.raises(ValueError, match="IIR threshold must be > 0"):
        method_scar("iir", img, cavity, SPACING, wall, params={"iir": 0.0})
    with pytest.raises(ValueError, match="needs the image"):
        method_scar("sd", None, cavity, SPACING, wall)
    with pytest.raises(ValueError, match="needs a scar label"):
        method_scar("network", img, cavity, SPACING, wall)
