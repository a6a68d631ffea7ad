"""The wall band against the exact full-volume EDT definition."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_c2w.masks import exact_band, wall_band
from napari_c2w.masks.geometry import bounded_sq_distance


def blobby(shape, seed, level=0.55, sigma=3.0):
    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.random(shape), sigma)
    field = (field - field.min()) / (field.max() - field.min())
    return field > level


SPACINGS = [(0.625, 0.625, 0.625), (1.25, 0.625, 0.625), (2.5, 0.625, 0.7), (0.9, 1.1, 0.7)]


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_band_matches_exact_edt(spacing, seed):
    cavity = blobby((24, 40, 36), seed)
    assert cavity.any()
    band = wall_band(cavity, spacing)
    exact = exact_band(cavity, spacing)
    differ = band.full() != exact
    # the bounded separable distance is exact; only float ties at exactly the radius could differ
    assert differ.sum() <= 1e-4 * exact.sum()


@pytest.mark.parametrize("inner, outer", [(3.0, 2.5), (1.0, 4.0), (0.0, 0.0), (5.3, 0.7)])
def test_band_radii_and_wall(ball, inner, outer):
    wall = ball.wall | ball.far_wall
    band = wall_band(ball.cavity, ball.spacing, inner, outer, wall=wall)
    exact = exact_band(ball.cavity, ball.spacing, inner, outer, wall=wall)
    assert np.array_equal(band.full(), exact)
    assert band.with_wall and band.core.sum() <= band.mask.sum()


def test_band_at_array_edge_and_empty():
    cavity = np.zeros((10, 20, 20), bool)
    cavity[:4, :6, 5:15] = True  # touches three faces of the array
    band = wall_band(cavity, (1.0, 0.8, 0.8))
    assert np.array_equal(band.full(), exact_band(cavity, (1.0, 0.8, 0.8)))
    empty = wall_band(np.zeros((5, 6, 7), np.uint8), (1, 1, 1))
    assert empty.voxels == 0 and empty.full().shape == (5, 6, 7)
    assert np.isnan(empty.signed_distance(np.array([[1, 1, 1]]))).all()
    wall_only = np.zeros((5, 6, 7), np.uint8)
    wall_only[2, 2:4, 3] = 1
    assert np.array_equal(
        wall_band(np.zeros_like(wall_only), (1, 1, 1), wall=wall_only).full(), wall_only > 0
    )


def test_band_crop_is_small(ball):
    big = np.zeros((40, 160, 160), bool)
    big[4:36, 10:74, 50:114] = ball.cavity
    band = wall_band(big, ball.spacing)
    assert band.mask.size < 0.2 * big.size
    assert band.offset == tuple(s.start for s in band.box)


def test_bounded_sq_distance_exact_within_radius():
    target = blobby((20, 30, 30), 3, level=0.7)
    spacing = (1.3, 0.6, 0.75)
    got = bounded_sq_distance(target, spacing, 3.0)
    exact = ndi.distance_transform_edt(~target, sampling=spacing) ** 2
    near = exact <= 9.0
    assert np.allclose(got[near], exact[near], atol=1e-4)
    assert (got[~near] > 9.0).all()


def test_signed_distance_and_distance_to_band(ball):
    band = wall_band(ball.cavity, ball.spacing)
    rng = np.random.default_rng(0)
    idx = np.stack([rng.integers(0, n, 300) for n in ball.cavity.shape], 1)
    d_out = ndi.distance_transform_edt(~ball.cavity, sampling=ball.spacing)
    d_in = ndi.distance_transform_edt(ball.cavity, sampling=ball.spacing)
    expected = np.where(ball.cavity, -d_in, d_out)[tuple(idx.T)]
    assert np.allclose(band.signed_distance(idx), expected)
    to_band = ndi.distance_transform_edt(~band.full(), sampling=ball.spacing)[tuple(idx.T)]
    assert np.allclose(band.distance_to_band(idx), to_band)
    assert np.array_equal(band.contains(idx), band.full()[tuple(idx.T)])


def test_band_rejects_bad_input(ball):
    with pytest.raises(ValueError, match="spacing"):
        wall_band(ball.cavity, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="shape"):
        wall_band(ball.cavity, ball.spacing, wall=np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match=">= 0"):
        wall_band(ball.cavity, ball.spacing, inner_mm=-1)
