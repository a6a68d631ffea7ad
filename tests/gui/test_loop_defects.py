"""The six defects of issue 12, each driven through the widgets' own callbacks (runs under Xvfb).

Every test here failed on the code before the fix: edited/reference layers replaced by name,
exports crediting predictions to the reference file, napari's undo out of step with the
widget's, cancel shown as an error, defaults mixing reference and prediction, and colours.
"""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Labels

from napari_c2w.io.case import Case
from napari_c2w.io.store import read_case_store
from napari_c2w.labels import COLORS, LABELS
from napari_c2w.phantom import generate_phantom
from testutils import settle, write_model_set

pytestmark = [pytest.mark.gui, pytest.mark.filterwarnings("error:Private attribute access:FutureWarning")]

SPACING, ORIGIN = (2.5, 1.25, 1.5), (-30.0, 12.5, 100.0)


def plugin_widget(viewer, name):
    return viewer.window.add_plugin_dock_widget("napari-c2w", name)[1]


def open_case(viewer, case):
    from napari.layers import Layer

    from napari_c2w.layers import case_layers

    return [viewer.add_layer(Layer.create(*t)) for t in case_layers(case)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return write_model_set(tmp_path_factory.mktemp("models"))


@pytest.fixture
def challenge(make_napari_viewer, models):
    """A challenge case opened in napari (image + reference ``cavity``) and the Segment widget."""
    ph = generate_phantom(5, shape=(20, 72, 64), spacing=SPACING, origin=ORIGIN)
    case = Case(
        image=ph.image,
        labels={"cavity": ph.to_case().labels["cavity"]},
        case_id="utah07",
        sources={"image": "/data/utah07/lgemri.nrrd", "cavity": "/data/utah07/laendo.nrrd"},
    )
    viewer = make_napari_viewer()
    image, reference = open_case(viewer, case)
    w = plugin_widget(viewer, "Segment LA (cavity, wall, scar)")
    w.image.value = image
    w.models.value = "folder..."
    w.folder.value = models
    w.device.value = "cpu"
    return viewer, w, image, reference


def segment(qtbot, w, answer=False):
    asked = []
    w.confirm_replace = lambda names: asked.append(list(names)) or answer
    w.run()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    assert w.last_error is None
    return asked


def predicted(viewer, reference):
    return [ly for ly in viewer.layers if isinstance(ly, Labels) and ly.unique_id != reference.unique_id]


# ----------------------------------------------------------------- 1. edited labels


def test_1_reference_and_edited_layers_are_never_replaced_silently(qtbot, challenge):
    viewer, w, _, reference = challenge
    ref_before = reference.data.copy()
    assert segment(qtbot, w) == []  # the reference 'cavity' is no earlier result: nothing to ask
    np.testing.assert_array_equal(reference.data, ref_before)
    _, wall, _ = predicted(viewer, reference)
    wall.data_setitem((np.array([3]), np.array([4]), np.array([5])), LABELS["wall"])  # an annotator paints
    painted, name = wall.data.copy(), wall.name
    asked = segment(qtbot, w, answer=False)
    assert asked == [[name]] and wall.name == f"{name} (corrected)"  # the kept layer says so
    np.testing.assert_array_equal(wall.data, painted)  # No keeps the painting
    np.testing.assert_array_equal(reference.data, ref_before)
    assert len(predicted(viewer, reference)) == 4  # one new wall layer beside the edited one
    assert segment(qtbot, w, answer=True) == []  # the newest wall is unedited: replaced in place
    np.testing.assert_array_equal(wall.data, painted)


# ----------------------------------------------------------------- 2. provenance


def test_2_export_credits_the_prediction_with_its_models(qtbot, challenge, tmp_path):
    viewer, w, image, reference = challenge
    segment(qtbot, w)
    cavity, wall, scar = predicted(viewer, reference)
    ex = plugin_widget(viewer, "Export case")
    ex.image.value = image
    ex.cavity.value, ex.wall.value, ex.scar.value = cavity, wall, scar
    ex.dataset.value = tmp_path
    ex.export()
    qtbot.waitUntil(lambda: not ex.busy, timeout=30000)
    assert ex.last_error is None
    case = read_case_store(ex.written)
    assert "laendo" not in str(case.sources.get("cavity"))
    predicts = {e["structure"]: e for e in case.provenance if e["action"] == "predict"}
    assert set(predicts) == {"cavity", "wall", "scar"}
    for structure, entry in predicts.items():
        assert entry["models"][structure]["sha256"]
        assert entry["threshold"] == pytest.approx(0.5)
    assert case.attrs["uncertainty"]["score"] >= 0
    assert case.attrs["prediction"]["models"]["cavity"]["threshold"] == pytest.approx(0.5)


# ----------------------------------------------------------------- 3. one undo history


@pytest.fixture
def review(make_napari_viewer):
    ph = generate_phantom(0, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25))
    viewer = make_napari_viewer()
    layers = {ly.name: ly for ly in open_case(viewer, ph.to_case(noisy=True))}
    w = plugin_widget(viewer, "Review annotations")
    w.find()
    settle(w)
    assert w.last_error is None
    return viewer, w, layers


def test_3_napari_undo_and_the_widget_share_one_history(review):
    _, w, layers = review
    scar = layers["scar"]
    before = scar.data.copy()
    w.table.selectRow(0)
    w.remove_selected()
    settle(w)
    removed = scar.data.copy()
    assert (removed != before).any()
    w.undo()
    settle(w)
    np.testing.assert_array_equal(scar.data, before)
    w.redo()
    settle(w)
    np.testing.assert_array_equal(scar.data, removed)
    scar.undo()  # Ctrl+Z on the layer
    np.testing.assert_array_equal(scar.data, before)
    assert w.session.provenance[-1]["action"] == "review undo"
    assert w.session.can_redo
    assert w.table.rowCount() == len(w.session.pending()) + sum(
        r["decision"] == "kept" for r in w.session.rows()
    )
    w.redo()  # the widget redoes what napari undid
    settle(w)
    np.testing.assert_array_equal(scar.data, removed)
    scar.undo()
    scar.redo()  # Ctrl+Shift+Z
    np.testing.assert_array_equal(scar.data, removed)
    assert w.session.provenance[-1]["action"] == "review redo"
    w.undo()
    settle(w)
    np.testing.assert_array_equal(scar.data, before)
    assert not w.session.can_undo


# ----------------------------------------------------------------- 4. cancel


def test_4_cancel_is_no_error_and_resets_progress(qtbot, challenge, monkeypatch):
    from napari_c2w.widgets import _common

    viewer, w, _, reference = challenge
    errors = []
    monkeypatch.setattr(_common, "notify_error", errors.append)
    w.progress.changed.connect(lambda f, m: w.cancel() if f > 0.05 else None)
    w.run()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    assert errors == [] and w.last_error is None
    assert w.bar.value() == 0
    assert "cancel" in w.message.text().lower()
    assert w.run_button.isEnabled() and not w.cancel_button.isEnabled()
    assert predicted(viewer, reference) == []


# ----------------------------------------------------------------- 5. defaults


def test_5_quantify_and_export_never_mix_reference_and_prediction(qtbot, challenge):
    viewer, w, _, reference = challenge
    names = ("Export case", "Quantify", "Review annotations", "Atrial surface")
    opened_before = plugin_widget(viewer, "Quantify")  # open before Segment: follows the new layers
    segment(qtbot, w)
    ids = {ly.unique_id for ly in predicted(viewer, reference)}
    for widget in [opened_before, *(plugin_widget(viewer, n) for n in names)]:
        chosen = [c.value for c in (widget.cavity, widget.wall, widget.scar)]
        assert all(ly is not None and ly.unique_id in ids for ly in chosen), widget
    _, wall, _ = predicted(viewer, reference)
    wall.data_setitem((np.array([3]), np.array([4]), np.array([5])), LABELS["wall"])
    segment(qtbot, w, answer=False)  # a new wall layer; cavity and scar replaced in place
    cavity, _, scar, new_wall = predicted(viewer, reference)
    assert new_wall.name.startswith("wall (prediction ") and wall.name.endswith("(corrected)")
    # the annotator's corrected wall, the latest cavity and scar (issue 34: corrections first)
    wanted = [cavity.unique_id, wall.unique_id, scar.unique_id]
    for widget in [opened_before, *(plugin_widget(viewer, n) for n in names)]:
        chosen = [c.value for c in (widget.cavity, widget.wall, widget.scar)]
        ids = [None if ly is None else ly.unique_id for ly in chosen]
        assert ids == wanted, (widget, [None if ly is None else ly.name for ly in chosen])


# ----------------------------------------------------------------- 6. colours


def _rgba(layer, value):
    return np.asarray(layer.colormap.map(np.array([value])))[0]


def test_6_structure_colours_flagged_components_and_thickness_map(qtbot, challenge, review):
    viewer, w, _, reference = challenge
    segment(qtbot, w)
    for layer, structure in zip(predicted(viewer, reference), ("cavity", "wall", "scar"), strict=True):
        np.testing.assert_allclose(
            _rgba(layer, LABELS[structure]), np.asarray(COLORS[structure]) / 255, atol=0.01
        )
    np.testing.assert_allclose(_rgba(reference, 1), np.asarray(COLORS["cavity"]) / 255, atol=0.01)

    rv, rw, layers = review
    flagged = next(ly for ly in rv.layers if ly.name == "flagged components")
    colours = np.array([_rgba(flagged, f.id) for f in rw.session.findings])
    assert np.allclose(colours, colours[0]) and colours[0][3] == 1.0  # one colour for every finding
    for structure in COLORS:
        assert np.abs(colours[0][:3] - np.asarray(COLORS[structure][:3]) / 255).sum() > 0.5

    q = plugin_widget(rv, "Quantify")
    q.cavity.value, q.wall.value, q.scar.value = layers["cavity"], layers["wall"], layers["scar"]
    q.run()
    qtbot.waitUntil(lambda: not q.busy, timeout=60000)
    thickness = next(ly for ly in rv.layers if ly.name == "wall thickness (mm)")
    assert _rgba(thickness, 0.0)[3] == 0.0  # zero is transparent: the image is not tinted
    assert not q.key.isHidden()  # its colour key, in the dock
