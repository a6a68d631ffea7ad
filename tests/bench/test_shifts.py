"""Protocol shifts keep the anatomy where it is in physical space."""

import numpy as np
import pytest

from napari_c2w.io.orient import reorientation
from testutils import benchmark_module

shifts = benchmark_module("_shifts")


def _centre_mm(volume, mask):
    idx = np.argwhere(mask > 0).mean(axis=0)
    return np.asarray(volume.origin) + idx * np.asarray(volume.spacing)


@pytest.mark.parametrize(
    "shift",
    [
        shifts.Shift("thick", {"mm": 2.5}),
        shifts.Shift("thick", {"mm": 4.0}),
        shifts.Shift("crop", {"margin_mm": 3.0}),
        shifts.Shift("crop", {"margin_mm": -2.0}),
        shifts.Shift("pad", {"mm": 20.0}),
        shifts.Shift("intensity", {"gamma": 0.6, "bias": 0.4, "noise": 0.05}),
    ],
    ids=lambda s: s.name,
)
def test_labels_stay_in_place_physically(small_case, shift):
    vol, labels = small_case.image, {k: v.astype(np.uint8) for k, v in small_case.labels.items()}
    out, out_labels = shift(vol, labels, seed=1)
    assert out.array.shape == out_labels["cavity"].shape
    tol = max(out.spacing) / 2 + 0.5
    np.testing.assert_allclose(
        _centre_mm(out, out_labels["cavity"]), _centre_mm(vol, labels["cavity"]), atol=tol
    )


def test_thick_slices_average_and_change_spacing(small_case):
    vol = small_case.image
    out, _ = shifts.thick_slices(vol, {}, mm=2 * vol.spacing[0])
    assert out.spacing[0] == pytest.approx(2 * vol.spacing[0]) and out.shape[0] == vol.shape[0] // 2
    np.testing.assert_allclose(out.array[0], np.asarray(vol.array[:2], np.float32).mean(axis=0))


def test_crop_cuts_into_the_atrium_with_a_negative_margin(small_case):
    labels = {"cavity": small_case.labels["cavity"].astype(np.uint8)}
    _, tight = shifts.crop_to_atrium(small_case.image, labels, margin_mm=0.0)
    _, cut = shifts.crop_to_atrium(small_case.image, labels, margin_mm=-2.0)
    assert tight["cavity"].sum() == labels["cavity"].sum()
    assert cut["cavity"].sum() < labels["cavity"].sum()


def test_pad_keeps_the_original_voxels_and_fills_with_structure(small_case):
    vol = small_case.image
    out, _ = shifts.pad_field_of_view(vol, {}, np.random.default_rng(0), mm=10.0)
    py, px = round(10 / vol.spacing[1]), round(10 / vol.spacing[2])
    np.testing.assert_array_equal(out.array[:, py:-py, px:-px], vol.array)
    assert out.array[:, :py].std() > 1.0


def test_orientation_shift_is_undone_exactly_by_the_pipeline_reorientation(small_case):
    labels = {"cavity": small_case.labels["cavity"].astype(np.uint8)}
    out, out_labels = shifts.orientation(small_case.image, labels, code="PIL")
    r = reorientation(out.direction)
    assert r.code == "PIL"
    np.testing.assert_array_equal(r.to_canonical(out.array), small_case.image.array)
    np.testing.assert_array_equal(r.to_canonical(out_labels["cavity"]), labels["cavity"])


def test_combined_shift_and_names(small_case):
    labels = {"cavity": small_case.labels["cavity"].astype(np.uint8)}
    combo = (shifts.Shift("thick", {"mm": 5.0}), shifts.Shift("intensity", {"scale": 2.0}))
    out, _ = shifts.apply(combo, small_case.image, labels)
    assert out.array.dtype == np.float32 and out.spacing[0] == pytest.approx(5.0)
    assert shifts.name(combo) == "thick(mm=5.0)+intensity(scale=2.0)"


def test_the_benchmark_runs_the_cohort_combination_also_in_another_contrast(small_case):
    sets = [shifts.name(s) for s in shifts.BENCHMARK_SETS]
    cohort = shifts.name(shifts.COMBINED)
    assert cohort in sets and f"{cohort}+remap(strength=0.3)" in sets
    labels = {"cavity": small_case.labels["cavity"].astype(np.uint8)}
    geometry, geometry_labels = shifts.apply(shifts.COMBINED, small_case.image, labels, seed=5)
    out, out_labels = shifts.apply(shifts.COMBINED_CONTRAST, small_case.image, labels, seed=5)
    # the cohort's geometry first (same seeds), then the contrast curve on top of it
    assert out.shape == geometry.shape and out.spacing == geometry.spacing
    np.testing.assert_array_equal(out_labels["cavity"], geometry_labels["cavity"])
    curved, _ = shifts.remap(geometry, labels, np.random.default_rng(5 + len(shifts.COMBINED)), strength=0.3)
    np.testing.assert_allclose(out.array, curved.array)


def test_in_plane_blocks_halve_y_and_x(small_case):
    vol = small_case.image
    labels = {"cavity": small_case.labels["cavity"].astype(np.uint8)}
    out, out_labels = shifts.in_plane(vol, labels, mm=2 * vol.spacing[1])
    assert out.shape == (vol.shape[0], vol.shape[1] // 2, vol.shape[2] // 2)
    np.testing.assert_allclose(
        out.array[:, 0, 0], np.asarray(vol.array[:, :2, :2], np.float32).mean(axis=(1, 2))
    )
    np.testing.assert_allclose(
        _centre_mm(out, out_labels["cavity"]),
        _centre_mm(vol, labels["cavity"]),
        atol=max(out.spacing) / 2 + 0.5,
    )


def test_contrast_shifts_change_intensities_not_labels(small_case):
    labels = {"cavity": small_case.labels["cavity"].astype(np.uint8)}
    for shift in (shifts.Shift("remap", {"strength": 0.6}), shifts.Shift("tissues")):
        out, out_labels = shift(small_case.image, labels, seed=3)
        assert out.shape == small_case.image.shape and out.spacing == small_case.image.spacing
        assert not np.allclose(out.array, small_case.image.array)
        np.testing.assert_array_equal(out_labels["cavity"], labels["cavity"])
