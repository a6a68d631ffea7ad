"""Reading volumes at their true geometry, and a clear error for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.errors import InputError
from napari_c2w.io import read_label_volume, read_volume, write_volume
from napari_c2w.io.volume import Volume, check_same_grid
from testutils import write_dicom_series, write_sitk

ARRAY = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)


@pytest.mark.parametrize("suffix", [".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd"])
def test_formats_keep_geometry(tmp_path, geometry, suffix):
    spacing, origin = geometry
    path = write_sitk(ARRAY, tmp_path / f"img{suffix}", spacing, origin)
    vol = read_volume(path)
    np.testing.assert_array_equal(vol.array, ARRAY)
    assert vol.shape == (5, 6, 7)
    np.testing.assert_allclose(vol.spacing, spacing, rtol=1e-6)
    # NIfTI stores the origin through its qform/sform: LPS flips are kept in direction
    np.testing.assert_allclose(vol.origin, origin, atol=1e-4)
    assert vol.layer_kwargs()["scale"] == vol.spacing
    assert vol.layer_kwargs()["translate"] == vol.origin
    assert not vol.is_oblique


def test_dicom_series_folder(tmp_path, geometry):
    spacing, origin = geometry
    folder = write_dicom_series(ARRAY, tmp_path / "dicom", spacing, origin)
    vol = read_volume(folder)
    np.testing.assert_array_equal(vol.array, ARRAY)
    np.testing.assert_allclose(vol.spacing, spacing, rtol=1e-4)
    np.testing.assert_allclose(vol.origin, origin, atol=1e-3)


def test_folder_with_two_dicom_series_is_refused(tmp_path, geometry):
    spacing, origin = geometry
    write_dicom_series(ARRAY, tmp_path / "d", spacing, origin, series_uid="1.2.3.4")
    write_dicom_series(ARRAY, tmp_path / "d2", spacing, origin, series_uid="1.2.3.5")
    for f in (tmp_path / "d2").iterdir():
        f.rename(tmp_path / "d" / f"b_{f.name}")
    with pytest.raises(InputError, match="2 DICOM series"):
        read_volume(tmp_path / "d")


def test_oblique_direction_is_kept(tmp_path):
    c, s = np.cos(0.3), np.sin(0.3)
    direction = (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)
    vol = read_volume(write_sitk(ARRAY, tmp_path / "obl.nrrd", direction=direction))
    assert vol.is_oblique
    np.testing.assert_allclose(vol.direction, direction, atol=1e-6)
    assert vol.layer_kwargs()["metadata"]["direction"] == pytest.approx(list(direction))


def test_write_volume_round_trip_and_no_overwrite(tmp_path, geometry):
    spacing, origin = geometry
    vol = Volume(ARRAY, spacing, origin)
    path = write_volume(vol, tmp_path / "out.nii.gz")
    back = read_volume(path)
    np.testing.assert_array_equal(back.array, ARRAY)
    np.testing.assert_allclose(back.spacing, spacing, rtol=1e-6)
    with pytest.raises(FileExistsError):
        write_volume(vol, path)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


# ------------------------------------------------------------------ bad input, one test each


def test_2d_image(tmp_path):
    path = write_sitk(np.zeros((6, 7), np.uint8), tmp_path / "flat.nrrd")
    with pytest.raises(InputError, match=r"flat.nrrd: is a 2D image.*3D"):
        read_volume(path)


def test_4d_series(tmp_path):
    path = write_sitk(np.zeros((2, 3, 4, 5), np.uint8), tmp_path / "cine.nii.gz")
    with pytest.raises(InputError, match=r"cine.nii.gz: is a 4D series.*one 3D volume"):
        read_volume(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.nrrd"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty.nrrd: is empty \(0 bytes\)"):
        read_volume(path)


def test_truncated_file(tmp_path):
    full = write_sitk(
        np.random.default_rng(0).integers(0, 255, (20, 30, 40)).astype(np.uint8), tmp_path / "full.mha"
    )
    data = full.read_bytes()
    cut = tmp_path / "cut.mha"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.mha: .*truncated or corrupt"):
        read_volume(cut)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.nii.gz"
    path.write_text("this is a text file, not a NIfTI volume\n" * 10)
    with pytest.raises(InputError, match=r"notes.nii.gz: could not be read as an image"):
        read_volume(path)


def test_unknown_suffix(tmp_path):
    path = tmp_path / "scan.png"
    path.write_bytes(b"\x89PNG....")
    with pytest.raises(InputError, match=r"scan.png: is not a volume format"):
        read_volume(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_volume(tmp_path / "nope.nrrd")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_voxels(tmp_path, bad):
    array = np.ones((4, 5, 6), np.float32)
    array[1, 2, 3] = bad
    path = write_sitk(array, tmp_path / "bad.nrrd")
    with pytest.raises(InputError, match=r"bad.nrrd: contains 1 NaN or infinite voxels"):
        read_volume(path)


def test_labels_with_other_shape(tmp_path):
    image = read_volume(write_sitk(ARRAY, tmp_path / "img.nrrd"))
    lab = write_sitk(np.zeros((5, 6, 8), np.uint8), tmp_path / "laendo.nrrd")
    with pytest.raises(InputError, match=r"laendo.nrrd: has shape \(5, 6, 8\).*img.nrrd has \(5, 6, 7\)"):
        read_label_volume(lab, like=image)


def test_labels_with_other_spacing(tmp_path):
    image = read_volume(write_sitk(ARRAY, tmp_path / "img.nrrd", spacing=(1, 1, 1)))
    lab = write_sitk(np.zeros((5, 6, 7), np.uint8), tmp_path / "laendo.nrrd", spacing=(2, 1, 1))
    with pytest.raises(InputError, match=r"laendo.nrrd: has spacing \(2, 1, 1\) mm"):
        read_label_volume(lab, like=image)


def test_labels_with_other_origin(tmp_path):
    image = read_volume(write_sitk(ARRAY, tmp_path / "img.nrrd"))
    lab = write_sitk(np.zeros((5, 6, 7), np.uint8), tmp_path / "laendo.nrrd", origin=(0, 5, 0))
    with pytest.raises(InputError, match=r"laendo.nrrd: has origin \(0, 5, 0\) mm"):
        read_label_volume(lab, like=image)


def test_check_same_grid_accepts_equal(geometry):
    spacing, origin = geometry
    check_same_grid(Volume(ARRAY, spacing, origin), Volume(ARRAY, spacing, origin))


def test_label_mask_maps_255_to_one(tmp_path):
    lab = write_sitk((ARRAY % 2 * 255).astype(np.uint8), tmp_path / "laendo.nrrd")
    mask = read_label_volume(lab).array
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
