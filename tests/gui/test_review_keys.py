"""Keyboard shortcuts of the review and queue widgets, listed in the widgets (runs under Xvfb)."""

from __future__ import annotations

import pytest
from qtpy.QtGui import QKeySequence, QShortcut
from qtpy.QtWidgets import QLabel

from napari_c2w.io.store import read_case_store, store_path
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.phantom import generate_phantom
from testutils import settle

pytestmark = [pytest.mark.gui, pytest.mark.filterwarnings("error:Private attribute access:FutureWarning")]


def press(widget, key: str) -> None:
    (shortcut,) = [s for s in widget.findChildren(QShortcut) if s.key() == QKeySequence(key)]
    shortcut.activated.emit()


def listed(widget) -> str:
    return " ".join(label.text() for label in widget.findChildren(QLabel))


def test_review_keys_go_to_keep_and_remove(make_napari_viewer):
    from napari.layers import Layer

    from napari_c2w.layers import case_layers

    viewer = make_napari_viewer()
    ph = generate_phantom(0, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25))
    added = [viewer.add_layer(Layer.create(*t)) for t in case_layers(ph.to_case(noisy=True))]
    layers = {layer.name: layer for layer in added}
    w = viewer.window.add_plugin_dock_widget("napari-c2w", "Review annotations")[1]
    w.find()
    settle(w)
    for key in ("Ctrl+Alt+F", "Ctrl+Alt+K", "Ctrl+Alt+R"):
        assert key in listed(w)
    zoom = viewer.scene.camera.zoom
    press(w, "Ctrl+Alt+F")
    settle(w)
    assert w.selected_ids() == [w.session.findings.items[0].id]
    assert viewer.scene.camera.zoom >= zoom
    press(w, "Ctrl+Alt+F")
    settle(w)
    second = w.selected_ids()
    assert second == [w.session.findings.items[1].id]
    press(w, "Ctrl+Alt+K")
    settle(w)
    assert w.session.rows()[1]["decision"] == "kept"
    w.table.clearSelection()
    w.table.selectRow(0)
    before = int((layers["scar"].data > 0).sum())
    press(w, "Ctrl+Alt+R")
    settle(w)
    assert int((layers["scar"].data > 0).sum()) < before


def test_queue_keys_move_and_approve(make_napari_viewer, qtbot, tmp_path):
    for seed in (1, 2):
        case = generate_phantom(seed, shape=(16, 40, 40)).to_case()
        write_case_store(case, store_path(tmp_path, case.case_id))
    viewer = make_napari_viewer()
    w = viewer.window.add_plugin_dock_widget("napari-c2w", "Review queue")[1]
    w.dataset.value = tmp_path
    w.scan()
    qtbot.waitUntil(lambda: not w.busy)
    assert "Ctrl+Alt+A" in listed(w) and "Ctrl+Alt+N" in listed(w)
    press(w, "Ctrl+Alt+N")
    settle(w)
    first = w.current
    press(w, "Ctrl+Alt+A")  # approve, save, next
    settle(w)
    assert w.current is not first
    assert read_case_store(first.path).status == "approved"
    press(w, "Ctrl+Alt+B")
    settle(w)
    assert w.current.case_id == first.case_id
