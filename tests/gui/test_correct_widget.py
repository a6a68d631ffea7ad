"""The "Correct with prompts" widget inside napari (runs under Xvfb): clicks correct the cavity in 3D
as one undoable step each, every prompt is in the case's provenance on its layer, the wall is
proposed from the cavity, Accept clears the prompts and the corrected layer is what Export takes."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtGui import QKeySequence, QShortcut

from napari_c2w.correct import Prompt
from napari_c2w.layers import META_KEY, case_layers, layer_token
from napari_c2w.metrics import dice
from napari_c2w.phantom import generate_phantom
from testutils import settle

pytestmark = [pytest.mark.gui, pytest.mark.filterwarnings("error:Private attribute access:FutureWarning")]

SPACING = (2.5, 1.25, 1.25)
ORIGIN = (-20.0, 5.0, 10.0)


@pytest.fixture
def correct(make_napari_viewer, qtbot):
    from napari.layers import Layer

    viewer = make_napari_viewer()
    case = generate_phantom(0, shape=(24, 64, 64), spacing=SPACING, origin=ORIGIN).to_case()
    layers = {ly.name: ly for ly in (viewer.add_layer(Layer.create(*t)) for t in case_layers(case))}
    w = viewer.window.add_plugin_dock_widget("napari-c2w", "Correct with prompts")[1]
    w.method.value = "random-walker"
    w.annotator.value = "dr who"
    layers["lge"] = layers[case.case_id]
    assert w.image.value.name == case.case_id
    w.cavity.value, w.wall.value, w.scar.value = layers["cavity"], layers["wall"], layers["scar"]
    return viewer, w, layers, case, qtbot


def cut_cavity(layers, case):
    """The cavity layer with one side of the atrium missed, the reference, and the wrong labels
    (a copy: napari keeps the array it is given)."""
    cav = layers["cavity"]
    wrong = cav.data.copy()
    wrong[:, :, 34:] = 0
    cav.data = wrong.copy()
    return cav, case.labels["cavity"].astype(bool), wrong


def test_a_positive_click_corrects_the_cavity_in_3d_and_undo_takes_it_back(correct):
    viewer, w, layers, case, qtbot = correct
    cav, ref, wrong = cut_cavity(layers, case)  # the model missed one side of the atrium
    start = dice(cav.data > 0, ref)
    missed = np.argwhere(ref & (wrong == 0))
    target = missed[np.argmin(np.abs(missed - missed.mean(0)).sum(1))]  # a missed voxel near its centre
    w.start("positive")
    prompts = next(ly for ly in viewer.layers if ly.name == "correction prompts")
    world = cav.data_to_world(target)
    prompts.add(prompts.world_to_data(world))
    qtbot.waitUntil(lambda: not w.busy and not w._queue, timeout=30_000)
    assert w.last_error is None, w.last_error
    after = dice(cav.data > 0, ref)
    assert after > start + 0.05
    assert set(np.unique(cav.data)) <= {0, 1}
    changed_slices = np.nonzero((cav.data != wrong).any((1, 2)))[0]
    assert len(changed_slices) > 1  # one click, several slices: a 3D update
    added = (cav.data > 0) & (wrong == 0)
    assert not np.any(added & ((layers["wall"].data > 0) | (layers["scar"].data > 0)))  # others kept
    assert (added & ref).sum() >= 0.8 * added.sum()  # what it added is mostly the missed atrium
    provenance = layers["lge"].metadata[META_KEY]["provenance"]
    entry = provenance[-1]
    assert entry["action"] == "prompt correction" and entry["by"] == "dr who"
    assert entry["prompt"]["kind"] == "positive"
    assert np.allclose(entry["prompt"]["voxels"][0], target)
    assert entry["layer"] == layer_token(cav.metadata)
    cav.undo()  # napari's own undo (Ctrl+Z on the layer)
    np.testing.assert_array_equal(cav.data, wrong)
    assert provenance[-1]["action"] == "correction undo"
    assert provenance[-1]["layer"] == layer_token(cav.metadata)


def test_negative_click_propose_wall_keys_and_accept(correct):
    viewer, w, layers, case, qtbot = correct
    cav = layers["cavity"]
    ref = case.labels["cavity"].astype(bool)
    from scipy import ndimage as ndi

    spill = ndi.binary_dilation(ref, iterations=3) & ~ref & (np.arange(64)[None, :, None] < 20)
    cav.data = (ref | spill).astype(cav.data.dtype)
    start = dice(cav.data > 0, ref)
    target = np.argwhere(spill)[len(np.argwhere(spill)) // 2]
    keys = {s.key().toString() for s in w.findChildren(QShortcut)}
    assert {
        QKeySequence(k).toString() for k in ("Ctrl+Alt+P", "Ctrl+Alt+E", "Ctrl+Alt+D", "Ctrl+Alt+Y")
    } <= keys
    (neg,) = [s for s in w.findChildren(QShortcut) if s.key() == QKeySequence("Ctrl+Alt+E")]
    neg.activated.emit()
    assert w.polarity == "negative"
    prompts = next(ly for ly in viewer.layers if ly.name == "correction prompts")
    prompts.add(prompts.world_to_data(cav.data_to_world(target)))
    qtbot.waitUntil(lambda: not w.busy and not w._queue, timeout=30_000)
    assert w.last_error is None, w.last_error
    assert dice(cav.data > 0, ref) > start
    cav.data = ref.astype(cav.data.dtype)
    wall_before = layers["wall"].data.copy()
    w.propose_wall()
    assert w.busy and not layers["wall"].editable  # proposed in the worker, the wall locked meanwhile
    settle(w)
    assert w.last_error is None, w.last_error
    assert layers["wall"].editable
    wall = layers["wall"].data
    assert not np.array_equal(wall, wall_before)
    assert set(np.unique(wall)) <= {0, 2}  # the wall's own label value
    assert not np.any((wall > 0) & ref)
    assert w.structure.value == "wall"
    w.accept()
    assert not any(ly.name in ("correction prompts", "correction shapes") for ly in viewer.layers)


def test_correct_without_a_label_layer_says_what_to_choose(correct):
    w = correct[1]
    w.cavity.value = None
    w.start("positive")
    assert w.last_error is not None and "choose a cavity layer" in w.last_error


def test_a_prompt_corrected_case_exports_with_its_prompts(correct, tmp_path):
    from napari_c2w.io.store import read_case_store, store_path

    viewer, w, layers, case, qtbot = correct
    cav, ref, wrong = cut_cavity(layers, case)
    missed = np.argwhere(ref & (wrong == 0))
    target = missed[np.argmin(np.abs(missed - missed.mean(0)).sum(1))]
    w.add_prompt(Prompt.click(target))
    qtbot.waitUntil(lambda: not w.busy and not w._queue, timeout=30_000)
    corrected = cav.data.copy()
    export = viewer.window.add_plugin_dock_widget("napari-c2w", "Export case")[1]
    export.cavity.value = cav
    export.dataset.value = tmp_path
    export.export()
    qtbot.waitUntil(lambda: not export.busy, timeout=30_000)
    assert export.last_error is None, export.last_error
    stored = read_case_store(store_path(tmp_path, export.case_id.value))
    np.testing.assert_array_equal(stored.labels["cavity"], corrected > 0)
    prompts = [e for e in stored.provenance if e.get("action") == "prompt correction"]
    assert len(prompts) == 1 and prompts[0]["structure"] == "cavity"
    assert prompts[0]["prompt"]["kind"] == "positive"


def test_a_scribble_along_the_missed_part_is_one_prompt(correct):
    viewer, w, layers, case, qtbot = correct
    cav, ref, wrong = cut_cavity(layers, case)
    z = int(np.argmax(ref[:, :, 34:].sum((1, 2))))
    ys, xs = np.nonzero(ref[z, :, 34:])
    start, end = (z, ys.min() + 2, 34 + xs.mean()), (z, ys.max() - 2, 34 + xs.mean())
    w.start("positive")
    w.start_scribble()
    shapes = next(ly for ly in viewer.layers if ly.name == "correction shapes")
    path = [shapes.world_to_data(cav.data_to_world(p)) for p in (start, end)]
    shapes.add_paths([np.array(path)])
    qtbot.waitUntil(lambda: not w.busy and not w._queue, timeout=30_000)
    assert w.last_error is None, w.last_error
    entry = layers[case.case_id].metadata[META_KEY]["provenance"][-1]
    assert entry["rule"] == "positive prompt" and len(entry["prompt"]["voxels"]) > 2
    assert dice(cav.data > 0, ref) > dice(wrong > 0, ref)
