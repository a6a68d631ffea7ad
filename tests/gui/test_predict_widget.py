"""The segmentation widget: runs in a worker with progress, cancels, adds layers with geometry,
and asks before replacing labels an annotator edited."""

from __future__ import annotations

import numpy as np
import pytest

from testutils import tiny_segment_widget, write_model_set

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(make_napari_viewer, tmp_path):
    from napari_c2w.phantom import generate_phantom

    viewer = make_napari_viewer()
    ph = generate_phantom(5, shape=(20, 72, 64), spacing=(2.5, 1.25, 1.5), origin=(-30.0, 12.5, 100.0))
    viewer.add_image(ph.image.array, name="lge", scale=ph.image.spacing, translate=ph.image.origin)
    return viewer, tiny_segment_widget(viewer, tmp_path / "models")


def _run(qtbot, w):
    worker = w.run()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    return worker


def test_runs_reports_progress_and_adds_layers(qtbot, widget):
    viewer, w = widget
    seen = []
    w.progress.changed.connect(lambda f, m: seen.append(f))
    _run(qtbot, w)
    assert w.last_error is None
    image = viewer.layers["lge"]
    for name in ("cavity", "wall", "scar"):
        layer = viewer.layers[name]
        assert layer.data.shape == image.data.shape
        np.testing.assert_allclose(layer.scale, image.scale)
        np.testing.assert_allclose(layer.translate, image.translate)
    assert seen and seen[-1] == 1.0 and w.bar.value() == 100


def test_cancel(qtbot, widget):
    viewer, w = widget
    w.progress.changed.connect(lambda f, m: w.cancel())
    _run(qtbot, w)
    assert w.last_error is None  # a cancel is no error
    assert "cancelled" in w.message.text().lower() and w.bar.value() == 0
    assert "cavity" not in viewer.layers
    assert w.run_button.isEnabled()


def test_edited_labels_are_not_replaced_without_asking(qtbot, widget):
    viewer, w = widget
    _run(qtbot, w)
    viewer.layers["wall"].data[0, 0, 0] = 2  # an annotator's correction
    viewer.layers["wall"].refresh()
    edited = viewer.layers["wall"].data.copy()
    asked = []
    w.confirm_replace = lambda names: asked.append(names) or False
    _run(qtbot, w)
    assert asked == [["wall"]]
    np.testing.assert_array_equal(viewer.layers["wall (corrected)"].data, edited)
    (new,) = [ly.name for ly in viewer.layers if ly.name.startswith("wall (prediction ")]
    viewer.layers.remove(new)  # back to the edited layer as the latest result
    w.confirm_replace = lambda names: True
    _run(qtbot, w)
    assert viewer.layers["wall (corrected)"].data[0, 0, 0] != 2 or not edited.any()


def test_after_keeping_edits_the_defaults_are_the_corrections(qtbot, widget):
    """Export and Quantify default to the annotator's corrected layer, not the newer unedited run,
    and the names say which is which."""
    from napari_c2w.widgets.export import ExportWidget
    from napari_c2w.widgets.quantify import QuantifyWidget

    viewer, w = widget
    _run(qtbot, w)
    viewer.layers["cavity"].data[0, 0, 0] = 1  # a correction
    viewer.layers["cavity"].refresh()
    w.confirm_replace = lambda names: False  # keep my edits
    _run(qtbot, w)
    assert "cavity (corrected)" in viewer.layers
    assert [ly.name for ly in viewer.layers if ly.name.startswith("cavity (prediction ")]
    for picker in (ExportWidget(viewer), QuantifyWidget(viewer)):
        assert picker.cavity.value.name == "cavity (corrected)"
        assert picker.wall.value.name.startswith("wall")  # the latest run's wall (not edited)
        assert "cavity: your corrections" in picker.defaults.describe()


def test_no_image_is_a_notification_not_a_crash(make_napari_viewer):
    from napari_c2w.widgets.predict import PredictWidget

    w = PredictWidget(make_napari_viewer())
    assert w.run() is None


def _fake_prediction(roi: dict, quality: dict):
    """What results_text reads of a prediction."""
    import types

    import numpy as np

    return types.SimpleNamespace(
        timings={"total": 1.0},
        device="cpu",
        uncertainty={"score": 0.1},
        labels={"cavity": np.ones((2, 2, 2), np.uint8)},
        models={},
        roi=roi,
        quality=quality,
    )


def test_results_text_warns_about_a_flagged_case():
    from napari_c2w.noise import TARGET
    from napari_c2w.widgets.predict import results_text

    pred = _fake_prediction(
        {"noise": 0.02, "denoise_sigma_mm": 0.0},
        {"score": 0.8, "flagged": True, "reason": "compactness", "warnings": ["wall_coverage"]},
    )
    text = results_text(pred)
    assert "looks implausible (compactness, quality score 0.80)" in text
    assert "leaves much of the endocardium bare" in text
    assert "smoothed" not in text
    pred.quality = {"score": 0.0, "flagged": False, "reason": "", "warnings": []}
    assert "Quality checks passed" in results_text(pred)
    pred.roi = {"noise": 0.131, "denoise_sigma_mm": 0.55}
    pred.quality["warnings"] = ["noise"]
    text = results_text(pred)
    assert f"(noise 0.131, training up to {TARGET:.2f}): smoothed in-plane (Gaussian 0.55 mm)" in text
    assert "far noisier than the training data" in text
    assert "alternate" not in text
    pred.quality.update(warnings=["scar_confidence"], features={"scar_confidence": 0.312})
    assert "sure of little of the scar it found (31% of it; 46-68% on real held-out scans" in results_text(
        pred
    )
    pred.quality["features"] = {}
    assert "sure of little of the scar it found: another contrast" in results_text(pred)


def test_results_text_says_which_wall_it_kept():
    from napari_c2w.infer.quality import FLAG_AT
    from napari_c2w.widgets.predict import results_text

    cover = {"wall": 0.094, "wall_contrast": 0.27}
    pred = _fake_prediction(
        {"alternates": {"wall": {"name": "wall_contrast", "chosen": "wall", "coverage": cover}}},
        {"score": 0.1, "flagged": False, "reason": "", "warnings": []},
    )
    text = results_text(pred)
    assert "alternate" not in text and f"{FLAG_AT} flags" in text
    pred.roi["alternates"]["wall"]["chosen"] = "wall_contrast"
    text = results_text(pred)
    assert "contrast-robust alternate's (wall_contrast): it covers 27% of the cavity's surface" in text
    assert "the main wall model 9%" in text


def test_layers_the_widgets_add_keep_the_image_units(make_napari_viewer, qtbot, tmp_path):
    """A layer without units among layers in mm makes napari warn and drop the units of all."""
    from napari_c2w.layers import case_layers
    from napari_c2w.phantom import generate_phantom
    from napari_c2w.widgets._common import show_layer
    from napari_c2w.widgets.predict import PredictWidget

    viewer = make_napari_viewer()
    case = generate_phantom(5, shape=(20, 72, 64), spacing=(2.5, 1.25, 1.5)).to_case()
    for data, kwargs, kind in case_layers(case):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    image = viewer.layers[0]
    assert tuple(str(u) for u in image.units) == ("millimeter",) * 3
    shown = show_layer(viewer, "test map", np.zeros(image.data.shape, np.float32), "image", image)
    w = PredictWidget(viewer)
    w.image.value = image
    w.models.value = "folder..."
    w.folder.value = write_model_set(tmp_path / "models")
    w.device.value = "cpu"
    w.run()
    qtbot.waitUntil(lambda: not w.busy, timeout=60000)
    added = [ly for ly in viewer.layers if "prediction" in ly.name] + [shown]
    assert len(added) == 4
    for layer in added:
        assert layer.units == image.units and tuple(layer.axis_labels) == ("z", "y", "x"), layer.name


def test_scar_burden_comes_with_its_caveat_for_the_bundled_models():
    """The bundled wall and scar learnt from phantoms and semi-synthetic copies of real scans:
    no real wall or scar label. The burden line says so where it is shown."""
    import numpy as np

    from napari_c2w.infer import load_model_set
    from napari_c2w.widgets.predict import results_text

    models = load_model_set()
    pred = _fake_prediction({}, {})
    wall = np.zeros((4, 4, 4), np.uint8)
    wall[1:3] = 1
    scar = np.zeros_like(wall)
    scar[1, 1] = 1
    pred.labels = {"wall": wall, "scar": scar}
    pred.models = {name: models[name].describe() for name in ("cavity", "wall", "scar")}
    assert pred.models["wall"]["phantom_only"] is False  # semi-synthetic copies joined: not "phantoms only"
    text = results_text(pred)
    assert "Scar burden" in text and "never saw a real wall or scar label" in text


def test_segment_adds_its_layers_one_per_turn_and_hashes_each_once(qtbot, widget, monkeypatch):
    """Issue 34.8: Segment held napari's thread 0.83 s while it added its three layers on a
    scanner's grid: all three in one call, each added layer making the pickers of the open widgets
    hash every predicted layer again (20 digests), pandas imported on the first. Now each layer
    is added in its own turn of the event loop, the records' digests are made in the worker and
    a layer's digest is kept until napari says its data may have changed."""
    import threading

    from qtpy.QtCore import QTimer

    import napari_c2w.layers
    from napari_c2w.layers import checksum
    from napari_c2w.widgets import predict
    from napari_c2w.widgets.quantify import QuantifyWidget

    viewer, w = widget
    viewer.window.add_dock_widget(QuantifyWidget(viewer))  # its pickers follow every added layer
    hashed_on_main: list[bool] = []

    def spy(data):
        hashed_on_main.append(threading.current_thread() is threading.main_thread())
        return checksum(data)

    monkeypatch.setattr(napari_c2w.layers, "checksum", spy)
    monkeypatch.setattr(predict, "checksum", spy)
    turns = {"n": 0}
    ticker = QTimer()
    ticker.timeout.connect(lambda: turns.__setitem__("n", turns["n"] + 1))
    ticker.start(5)
    at_insert: list[int] = []
    viewer.layers.events.inserted.connect(lambda e: at_insert.append(turns["n"]))
    _run(qtbot, w)
    ticker.stop()
    assert w.last_error is None and len(at_insert) == 3
    assert at_insert == sorted(set(at_insert)), f"layers added in the same turn: {at_insert}"
    # the records' digests in the worker; on the viewer's thread at most one per added layer, when
    # napari first slices it (20 on a full grid before: 0.31 s)
    assert any(not m for m in hashed_on_main) and sum(hashed_on_main) <= 3
    # a brush stroke is still seen as a correction (napari announces it: the digest is made again)
    wall = viewer.layers["wall"]
    wall.data_setitem((np.array([0]), np.array([0]), np.array([0])), 2)
    from napari_c2w.widgets._common import is_corrected

    assert is_corrected(wall)
