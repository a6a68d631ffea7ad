"""An exported store's provenance is the exported layers' history, not the session's: review
corrections made on another layer and the reference's own record stay out, and a 'napari edit'
carries the time of the edit, not of the export."""

from __future__ import annotations

import time

import pytest

from napari_c2w.layers import case_from_layers, case_layers
from napari_c2w.phantom import generate_phantom
from testutils import settle, tiny_segment_widget

pytestmark = pytest.mark.gui

SPACING = (2.5, 1.25, 1.25)


@pytest.fixture
def session(make_napari_viewer, qtbot, tmp_path):
    from napari.layers import Layer

    viewer = make_napari_viewer()
    case = generate_phantom(0, shape=(24, 64, 64), spacing=SPACING).to_case(noisy=True)
    for t in case_layers(case):
        viewer.add_layer(Layer.create(*t))
    review = viewer.window.add_plugin_dock_widget("napari-c2w", "Review annotations")[1]
    review.annotator.value = "dr who"
    review.find()
    settle(review)
    review.table.selectRow(0)
    review.remove_selected()  # a correction on the reference's scar layer
    settle(review)
    seg = tiny_segment_widget(viewer, tmp_path / "models")
    seg.run()
    qtbot.waitUntil(lambda: not seg.busy, timeout=60000)
    assert seg.last_error is None
    return viewer


def _export(viewer, names: dict[str, str]):
    labels = []
    for structure, name in names.items():
        data, meta, _ = viewer.layers[name].as_layer_data_tuple()
        labels.append((data, {**meta, "name": structure}))
    return case_from_layers(viewer.layers[0].as_layer_data_tuple(), labels)


def _predicted(viewer, structure: str) -> str:
    return next(ly.name for ly in viewer.layers if ly.name.startswith(f"{structure} (prediction"))


def test_unedited_predictions_carry_only_their_own_history(session):
    viewer = session
    case = _export(viewer, {s: _predicted(viewer, s) for s in ("cavity", "wall", "scar")})
    actions = [(e["action"], e.get("structure")) for e in case.provenance]
    assert not any(a in ("review correction", "review decision", "phantom") for a, _ in actions), actions
    assert {s for a, s in actions if a == "predict"} == {"cavity", "wall", "scar"}


def test_the_reviewed_layer_keeps_its_review_history(session):
    viewer = session
    case = _export(viewer, {"scar": "scar"})
    rules = [e.get("rule") for e in case.provenance if e.get("structure") == "scar"]
    assert "remove components" in rules
    assert all("layer" not in e for e in case.provenance)  # the session's layer tokens stay in napari


def test_a_napari_edit_is_dated_when_it_was_made(session):
    viewer = session
    layer = viewer.layers[_predicted(viewer, "cavity")]
    layer.paint((12, 2, 2), layer.selected_label)
    painted = time.strftime("%Y-%m-%dT%H:%M:%S")
    time.sleep(1.2)
    case = _export(viewer, {"cavity": layer.name})
    (edit,) = [e for e in case.provenance if e["action"] == "napari edit"]
    assert edit["time"][:19] <= painted
