"""The first File ▸ Open of an NRRD keeps its geometry; Segment warns about an image without one."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.io import Volume
from napari_c2w.io.volumewrite import write_volume

pytestmark = pytest.mark.gui

SPACING = (1.25, 0.625, 0.625)


@pytest.fixture
def scan(tmp_path):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 200, (8, 24, 20)).astype(np.int16)
    return write_volume(Volume(array, SPACING, (10.0, -5.0, 3.0)), tmp_path / "lge.nrrd")


def test_after_the_plugin_loads_napari_opens_nrrd_with_its_geometry(make_napari_viewer, scan):
    from napari.settings import get_settings

    from napari_c2w.widgets.predict import PredictWidget

    viewer = make_napari_viewer()
    PredictWidget(viewer)  # the plugin runs once in this napari
    assert get_settings().plugins.extension2reader.get("*.nrrd") == "napari-c2w"
    # File ▸ Open names no plugin (napari's reader dialog appears when it finds no preference;
    # viewer.open raises MultipleReaderError there instead)
    viewer.open(str(scan), plugin=None)
    layer = viewer.layers["lge"]
    np.testing.assert_allclose(layer.scale, SPACING)
    np.testing.assert_allclose(layer.translate, (10.0, -5.0, 3.0))


def test_a_reader_the_user_chose_is_kept(make_napari_viewer):
    from napari.settings import get_settings

    from napari_c2w._preferences import claim_reader_patterns

    get_settings().plugins.extension2reader = {"*.nii.gz": "another-plugin"}
    added = claim_reader_patterns()
    assert "*.nii.gz" not in added and "*.nrrd" in added
    assert get_settings().plugins.extension2reader["*.nii.gz"] == "another-plugin"


def test_segment_warns_about_an_image_without_physical_scale(make_napari_viewer, qtbot, tmp_path):
    from napari_c2w.phantom import generate_phantom
    from testutils import tiny_segment_widget

    viewer = make_napari_viewer()
    ph = generate_phantom(5, shape=(20, 72, 64), spacing=(2.5, 1.25, 1.5))
    viewer.add_image(ph.image.array, name="opened by imageio")  # scale 1, pixel units
    w = tiny_segment_widget(viewer, tmp_path / "models")
    w.run()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    assert "no physical scale" in w.geometry_warning
    assert "no physical scale" in w.results.text() and "napari-c2w" in w.results.text()
