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
