"""The Atrial surface widget inside napari: surface layer on the labels, intensity scar, region table."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.layers import case_layers
from napari_c2w.phantom import generate_phantom
from napari_c2w.surface import REGIONS

pytestmark = [pytest.mark.gui]

SPACING = (2.5, 1.25, 1.25)
ORIGIN = (-20.0, 5.0, 10.0)


@pytest.fixture(scope="module")
def phantom():
    return generate_phantom(0, shape=(40, 96, 96), spacing=SPACING, origin=ORIGIN)


@pytest.fixture
def opened(make_napari_viewer, phantom, monkeypatch):
    from napari.layers import Layer

    monkeypatch.setenv("NAPARI_C2W_NOTHREADS", "1")
    viewer = make_napari_viewer()
    layers = {t[1]["name"]: viewer.add_layer(Layer.create(*t)) for t in case_layers(phantom.to_case())}
    widget = viewer.window.add_plugin_dock_widget("napari-c2w", "Atrial surface")[1]
    return viewer, widget, layers


def test_surface_layer_lines_up_with_the_labels_in_world_space(opened):
    viewer, w, layers = opened
    assert w.cavity.value.name == "cavity" and w.wall.value.name == "wall"
    w.run()
    assert w.last_error is None, w.last_error
    surface = next(ly for ly in viewer.layers if ly.name == "endocardial surface")
    verts = surface.data[0]
    cav = layers["cavity"]
    # world -> cavity layer's data index: the inside of each vertex is cavity, the outside is not
    normals = w.result.surface.mesh.normals
    idx_in = np.round((verts - 1.0 * normals - np.asarray(cav.translate)) / np.asarray(cav.scale)).astype(int)
    idx_out = np.round((verts + 1.5 * normals - np.asarray(cav.translate)) / np.asarray(cav.scale)).astype(
        int
    )
    assert (cav.data[tuple(idx_in.T)] > 0).mean() > 0.9
    assert (cav.data[tuple(idx_out.T)] == 0).mean() > 0.9
    assert np.allclose(surface.scale, 1.0) and np.allclose(surface.translate, 0.0)
    assert not surface.colorbar.visible and not w.colours.isHidden()  # its key is in the dock
    assert w.colours.title.text() == "maximum IIR" and w.colours.high.text() == "1.6"
    # the intensity scar labels lie on the image grid, inside the wall
    scar = next(ly for ly in viewer.layers if ly.name.startswith("intensity scar"))
    assert np.allclose(scar.scale, layers["wall"].scale)
    assert not ((scar.data > 0) & (layers["wall"].data == 0)).any()
    assert w.table.rowCount() == len(REGIONS)
    assert "surface network" in w.message.text() and "IIR" in w.message.text()


def test_colour_by_switches_the_vertex_values(opened):
    viewer, w, _ = opened
    w.run()
    surface = next(ly for ly in viewer.layers if ly.name == "endocardial surface")
    w.colour_by.value = "region"
    assert set(np.unique(surface.data[2])) <= set(map(float, REGIONS))
    assert tuple(surface.contrast_limits) == (0.5, 9.5)
    assert all(name in w.key.text() for name in REGIONS.values())  # a key names the region colours
    w.colour_by.value = "thickness_mm"
    assert surface.data[2].max() > 0.5
    assert w.key.text() == ""


def test_the_surface_says_which_labels_it_uses(opened):
    """One consistent set, said in the widget: not a reference cavity with a prediction's wall."""
    _, w, _ = opened
    assert "cavity, wall, scar" in w.origin.text() and "not made by Segment" in w.origin.text()


def test_missing_cavity_is_a_clear_error(make_napari_viewer, monkeypatch):
    monkeypatch.setenv("NAPARI_C2W_NOTHREADS", "1")
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((8, 8, 8), np.float32), name="img")
    w = viewer.window.add_plugin_dock_widget("napari-c2w", "Atrial surface")[1]
    w.run()
    assert "cavity" in w.last_error


def test_the_widgets_offer_a_registered_scar_method(make_napari_viewer, phantom, monkeypatch):
    """One registered entry (a test's toy rule) is offered by Atrial surface and Quantify."""
    from napari.layers import Layer

    from napari_c2w.widgets.quantify import QuantifyWidget
    from napari_c2w.widgets.surface import SurfaceWidget
    from testutils import toy_scar_method

    monkeypatch.setenv("NAPARI_C2W_NOTHREADS", "1")
    with toy_scar_method():
        viewer = make_napari_viewer()
        for t in case_layers(phantom.to_case()):
            viewer.add_layer(Layer.create(*t))
        s, q = SurfaceWidget(viewer), QuantifyWidget(viewer)
        assert "toy" in s.method.choices and "toy" in q.method.choices
        s.method.value, q.method.value = "toy", "toy"
        s.params["toy_level"].value = q.params["toy_level"].value = 0.5
        s.run()
        assert s.last_error is None, s.last_error
        assert "scar_toy" in s.result.surface.arrays and "toy rule" in s.message.text()
        assert "toy rule %" in [s.table.horizontalHeaderItem(j).text() for j in range(s.table.columnCount())]
        s.colour_by.value = "scar_toy"
        q.run()
        assert q.last_error is None, q.last_error
        rows = dict(q.result.rows())
        assert float(rows["toy rule scar burden (% of wall)"].split()[0]) > 0
