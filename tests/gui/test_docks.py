"""Docks fit a 1080p laptop (they scroll) and Fine-tune finds the Segment dock the menu opened."""

from __future__ import annotations

import pytest

from napari_c2w.widgets._common import MAX_DOCK_HEIGHT

pytestmark = pytest.mark.gui

WIDGETS = [
    "Segment LA (cavity, wall, scar)",
    "Review annotations",
    "Review queue",
    "Quantify",
    "Export case",
    "Atrial surface",
    "Fine-tune",
]


@pytest.mark.parametrize("name", WIDGETS)
def test_each_dock_fits_a_laptop_screen(make_napari_viewer, name):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-c2w", name)
    assert widget.sizeHint().height() <= MAX_DOCK_HEIGHT
    assert widget.minimumSizeHint().height() <= MAX_DOCK_HEIGHT  # napari cannot shrink it further


def test_fine_tune_uses_the_segment_dock_opened_from_the_menu(make_napari_viewer):
    from napari._app_model import get_app_model

    from napari_c2w.widgets.predict import PredictWidget

    viewer = make_napari_viewer()
    # Layers > Segment, or Plugins > napari-c2w > Segment LA (cavity, wall, scar)
    get_app_model().commands.execute_command("napari-c2w.segment").result()
    _, ft = viewer.window.add_plugin_dock_widget("napari-c2w", "Fine-tune")
    opened = [w for w in viewer.window.dock_widgets.values() if isinstance(w, PredictWidget)]
    assert len(opened) == 1
    assert ft.segment_widget() is opened[0]
    assert sum(isinstance(w, PredictWidget) for w in viewer.window.dock_widgets.values()) == 1
