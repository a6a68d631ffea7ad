"""The Segment widget predicts a scan stored in another orientation as ``napari-c2w predict``
does: the image layer's direction reaches the pipeline, which runs the models in their
canonical order and maps the labels back."""

from __future__ import annotations

import numpy as np
import pytest

from testutils import tiny_segment_widget

pytestmark = pytest.mark.gui


def test_widget_predicts_a_flipped_scan_as_the_cli_does(make_napari_viewer, qtbot, tmp_path):
    import SimpleITK as sitk

    from napari_c2w.cli import main
    from napari_c2w.io import write_volume
    from napari_c2w.io.store import read_case_store
    from napari_c2w.io.volume import from_sitk, to_sitk
    from napari_c2w.phantom import generate_phantom

    ph = generate_phantom(5, shape=(20, 72, 64), spacing=(2.5, 1.25, 1.5), origin=(-30.0, 12.5, 100.0))
    flipped = from_sitk(sitk.DICOMOrient(to_sitk(ph.image), "RAS"))  # x and y stored reversed
    path = tmp_path / "flipped.nrrd"
    write_volume(flipped, path)

    viewer = make_napari_viewer()
    (image,) = viewer.open(str(path), plugin="napari-c2w")
    w = tiny_segment_widget(viewer, tmp_path / "models")
    w.image.value = image
    w.run()
    qtbot.waitUntil(lambda: not w.busy, timeout=120000)
    assert w.last_error is None

    out = tmp_path / "out"
    argv = ["predict", str(path), "-o", str(out), "--models", str(w.folder.value), "--device", "cpu"]
    assert main(argv) == 0
    cli = read_case_store(out / "flipped.ome.zarr")
    for structure, mask in cli.labels.items():
        layer = viewer.layers[structure]
        np.testing.assert_array_equal(layer.data > 0, mask > 0, err_msg=structure)
    assert any(cli.labels[s].any() for s in cli.labels)  # not two empty results
    assert w.result.roi.get("stored_orientation") == "RAS"  # the direction reached the pipeline
