"""Reorientation to the models' order: exact, and equal to SimpleITK's DICOMOrient."""

import itertools

import numpy as np
import pytest
import SimpleITK as sitk

from napari_c2w.io.orient import reorientation
from napari_c2w.io.volume import Volume, from_sitk, to_sitk


def _codes():
    for perm in itertools.permutations(((("R", "L")), ("A", "P"), ("I", "S"))):
        for signs in itertools.product((0, 1), repeat=3):
            yield "".join(pair[s] for pair, s in zip(perm, signs, strict=True))


def _canonical_volume() -> Volume:
    rng = np.random.default_rng(0)
    return Volume(
        rng.integers(0, 255, (5, 6, 7)).astype(np.uint8),
        spacing=(2.5, 0.7, 0.6),
        origin=(-30.0, 12.0, 4.0),
    )


def _stored_as(volume: Volume, code: str) -> Volume:
    return from_sitk(sitk.DICOMOrient(to_sitk(volume), code))


@pytest.mark.parametrize("code", list(_codes()))
def test_every_stored_order_comes_back_to_canonical_exactly(code):
    canon = _canonical_volume()
    stored = _stored_as(canon, code)
    r = reorientation(stored.direction)
    assert r.code == code
    back = r.volume(stored)
    np.testing.assert_array_equal(back.array, canon.array)
    np.testing.assert_allclose(back.spacing, canon.spacing)
    np.testing.assert_allclose(back.origin, canon.origin, atol=1e-9)
    np.testing.assert_allclose(back.direction, canon.direction, atol=1e-12)
    # And results on the canonical grid map back onto the stored grid voxel for voxel.
    np.testing.assert_array_equal(r.from_canonical(back.array), stored.array)


def test_matches_dicomorient_on_an_oblique_volume():
    angle = np.deg2rad(20)
    rot = np.array([[0, 0, -1], [np.cos(angle), np.sin(angle), 0], [-np.sin(angle), np.cos(angle), 0]])
    vol = _canonical_volume()
    vol = Volume(vol.array, vol.spacing, vol.origin, tuple(rot.ravel()))
    r = reorientation(vol.direction)
    ours = r.volume(vol)
    ref = sitk.DICOMOrient(to_sitk(vol), "LPS")
    np.testing.assert_array_equal(ours.array, sitk.GetArrayFromImage(ref))
    np.testing.assert_allclose(ours.origin, tuple(reversed(ref.GetOrigin())), atol=1e-9)
    np.testing.assert_allclose(ours.direction, ref.GetDirection(), atol=1e-12)
    np.testing.assert_allclose(ours.spacing, tuple(reversed(ref.GetSpacing())))


def test_identity_is_left_alone():
    vol = _canonical_volume()
    r = reorientation(vol.direction)
    assert r.identity and r.code == "LPS"
    assert r.volume(vol) is vol
