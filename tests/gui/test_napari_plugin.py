"""The plugin inside napari: discovery, reader, writer and sample data (runs under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.io import write_case_folder
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store
from testutils import write_dicom_series, write_sitk

pytestmark = pytest.mark.gui


def test_manifest_is_valid_and_discovered():
    from npe2 import PluginManager, PluginManifest

    manifest = PluginManifest.from_distribution("napari-c2w")
    manifest.validate_imports()
    pm = PluginManager.instance()
    pm.discover()
    assert "napari-c2w" in pm._manifests


def _check_geometry(layer, case):
    np.testing.assert_allclose(layer.scale, case.image.spacing)
    np.testing.assert_allclose(layer.translate, case.image.origin)


@pytest.mark.parametrize("layout", ["utah", "lascarqs", "store"])
def test_open_case_with_labels(make_napari_viewer, tmp_path, small_case, layout):
    viewer = make_napari_viewer()
    if layout == "store":
        path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
        expected = ["ball", "cavity", "wall", "scar"]
    else:
        path = write_case_folder(small_case, tmp_path / "case7", layout)
        expected = ["case7", "cavity", "wall"] if layout == "utah" else ["case7", "cavity", "scar"]
    layers = viewer.open(str(path), plugin="napari-c2w")
    assert [ly.name for ly in layers] == expected
    for layer in layers:
        _check_geometry(layer, small_case)
    by_name = {ly.name: ly for ly in layers}
    assert set(np.unique(by_name["cavity"].data)) == {0, 1}
    if "wall" in by_name:
        assert set(np.unique(by_name["wall"].data)) == {0, 2}
    if "scar" in by_name:
        assert set(np.unique(by_name["scar"].data)) == {0, 3}
    assert type(by_name["cavity"]).__name__ == "Labels"


@pytest.mark.parametrize("name", ["lgemri.nrrd", "scan.nii.gz", "scan.mha"])
def test_open_single_volume(make_napari_viewer, tmp_path, small_case, name):
    path = write_sitk(
        small_case.image.array, tmp_path / name, small_case.image.spacing, small_case.image.origin
    )
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-c2w")
    assert type(layer).__name__ == "Image"
    _check_geometry(layer, small_case)


def test_open_challenge_label_file_maps_to_project_value(make_napari_viewer, tmp_path, small_case):
    mask = small_case.labels["wall"].astype(np.uint8) * 255
    path = write_sitk(mask, tmp_path / "lawall.nrrd", small_case.image.spacing, small_case.image.origin)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-c2w")
    assert layer.name == "wall" and type(layer).__name__ == "Labels"
    assert set(np.unique(layer.data)) == {0, 2}
    _check_geometry(layer, small_case)


def test_open_dicom_folder(make_napari_viewer, tmp_path, small_case):
    folder = write_dicom_series(
        small_case.image.array, tmp_path / "series", small_case.image.spacing, small_case.image.origin
    )
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(folder), plugin="napari-c2w")
    np.testing.assert_allclose(layer.scale, small_case.image.spacing, rtol=1e-4)


def test_oblique_volume_warns_and_keeps_direction(make_napari_viewer, tmp_path, small_case):
    c, s = np.cos(0.4), np.sin(0.4)
    direction = (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)
    path = write_sitk(small_case.image.array, tmp_path / "obl.nrrd", direction=direction)
    viewer = make_napari_viewer()
    with pytest.warns(UserWarning, match="oblique"):
        (layer,) = viewer.open(str(path), plugin="napari-c2w")
    assert layer.metadata["direction"] == pytest.approx(list(direction))


def test_bad_input_gives_a_clear_error_and_no_layer(make_napari_viewer, tmp_path, small_case):
    folder = write_case_folder(small_case, tmp_path / "case7", "utah")
    write_sitk(np.zeros((12, 40, 47), np.uint8), folder / "laendo.nrrd")
    viewer = make_napari_viewer()
    with pytest.raises(Exception, match=r"laendo.nrrd: has shape \(12, 40, 47\)"):
        viewer.open(str(folder), plugin="napari-c2w")
    assert len(viewer.layers) == 0  # nothing half-loaded


def test_writer_saves_image_and_labels_as_case_store(make_napari_viewer, tmp_path, small_case):
    viewer = make_napari_viewer()
    layers = viewer.open(str(write_case_folder(small_case, tmp_path / "case7", "utah")), plugin="napari-c2w")
    layers[1].data[layers[1].data > 0] = 1  # still cavity
    viewer.layers.select_all()
    out = tmp_path / "saved.ome.zarr"
    written = viewer.layers.save(str(out), plugin="napari-c2w")
    assert written == [str(out)]
    case = read_case_store(out)
    assert case.case_id == "case7" and case.structures == ["cavity", "wall"]
    np.testing.assert_allclose(case.image.spacing, small_case.image.spacing)
    np.testing.assert_array_equal(case.labels["wall"], small_case.labels["wall"])
    assert case.provenance[-1]["action"] == "napari save"
    # save again after an edit: the previous wall is kept as a version
    layers[2].data[:] = 0
    viewer.layers.save(str(out), plugin="napari-c2w")
    from testutils import read_label_version

    assert read_case_store(out).labels["wall"].sum() == 0
    np.testing.assert_array_equal(read_label_version(out, "wall", "1"), small_case.labels["wall"])
