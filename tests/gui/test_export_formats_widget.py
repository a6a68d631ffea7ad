"""The Export widget writes other tools' formats too (runs under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.layers import case_layers
from napari_c2w.phantom import generate_phantom

pytestmark = pytest.mark.gui


def test_export_widget_writes_a_slicer_segmentation(make_napari_viewer, qtbot, tmp_path):
    import slicerio
    from napari.layers import Layer

    from napari_c2w.widgets.export import ExportWidget

    case = generate_phantom(0, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25)).to_case()
    viewer = make_napari_viewer()
    for t in case_layers(case):
        viewer.add_layer(Layer.create(*t))
    w = ExportWidget(viewer)
    assert set(w.format.choices) >= {"seg.nrrd", "nnunet", "nifti", "nrrd"}
    w.dataset.value, w.format.value = tmp_path, "seg.nrrd"
    w.export()
    qtbot.waitUntil(lambda: not w.busy, timeout=30_000)
    assert w.last_error is None and w.written == tmp_path
    seg = slicerio.read_segmentation(str(tmp_path / "phantom_0000.seg.nrrd"))
    assert slicerio.segment_names(seg) == ["cavity", "wall", "scar"]
    mask = slicerio.segment_mask(seg, "scar").transpose(2, 1, 0)
    np.testing.assert_array_equal(mask, case.labels["scar"] != 0)
    assert not list(tmp_path.glob("*.ome.zarr")), "no case store was written"
