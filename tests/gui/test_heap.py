"""The plugin keeps the garbage collector's full passes off napari's thread, and leaks nothing."""

from __future__ import annotations

import gc
import time
import weakref

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_the_objects_alive_at_first_use_are_frozen(make_napari_viewer):
    """Issue 34.8: a full collection walked napari's ~430k objects on the viewer's thread (0.2 s of
    Quantify's first 0.55 s stall); frozen, the passes skip them."""
    from napari_c2w.widgets.quantify import QuantifyWidget

    viewer = make_napari_viewer()
    QuantifyWidget(viewer)
    assert gc.get_freeze_count() > 10_000


def test_a_removed_layer_and_its_data_are_still_freed(make_napari_viewer, qtbot):
    from napari_c2w.widgets.quantify import QuantifyWidget

    viewer = make_napari_viewer()
    data = np.zeros((8, 64, 64), np.uint8)
    gone = weakref.ref(viewer.add_labels(data, name="big"))
    held = weakref.finalize(data, lambda: None)
    del data
    QuantifyWidget(viewer)  # freezes what is alive, the layer included
    viewer.layers.remove("big")
    deadline = time.monotonic() + 5
    while (gone() is not None or held.alive) and time.monotonic() < deadline:
        qtbot.wait(50)
    assert gone() is None and not held.alive


def test_a_layer_made_after_the_freeze_is_freed_without_a_full_pass(make_napari_viewer, qtbot, monkeypatch):
    """Issue 34.8: moving on in the Review queue removed the case's layers, and the full pass that
    freed them (unfreeze, collect the whole heap) held napari's thread 0.29 s. Layers made since the
    heap was frozen are freed by a pass over the objects made since; only a layer alive at the
    freeze needs the full pass."""
    from napari_c2w.widgets.quantify import QuantifyWidget

    viewer = make_napari_viewer()
    QuantifyWidget(viewer)  # freezes what is alive
    unfrozen: list[int] = []
    real_unfreeze = gc.unfreeze
    monkeypatch.setattr(gc, "unfreeze", lambda: unfrozen.append(1) or real_unfreeze())
    data = np.zeros((8, 64, 64), np.uint8)
    gone = weakref.ref(viewer.add_labels(data, name="new"))
    held = weakref.finalize(data, lambda: None)
    del data
    viewer.layers.remove("new")
    deadline = time.monotonic() + 5
    while (gone() is not None or held.alive) and time.monotonic() < deadline:
        qtbot.wait(50)
    assert gone() is None and not held.alive
    assert not unfrozen
