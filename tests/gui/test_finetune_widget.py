"""The Fine-tune widget with tiny runs, and the whole annotation loop through the widgets' callbacks:
predict -> correct -> export -> fine-tune -> reload -> predict again (runs under Xvfb)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from napari.layers import Labels

from napari_c2w.io.store import read_case_store, store_path
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.labels import LABELS
from napari_c2w.phantom import generate_phantom
from napari_c2w.train.config import dump_config
from testutils import TRAIN_SPACING, small_train_config, write_model_set

pytestmark = [pytest.mark.gui, pytest.mark.filterwarnings("error:Private attribute access:FutureWarning")]


def plugin_widget(viewer, name):
    return viewer.window.add_plugin_dock_widget("napari-c2w", name)[1]


def phantom_case(seed, status="approved"):
    case = generate_phantom(seed, shape=(40, 64, 64), spacing=TRAIN_SPACING).to_case()
    case.status = status
    return case


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune")
    data = root / "reviewed"
    data.mkdir()
    for seed, status in ((1, "approved"), (2, "approved"), (4, "unreviewed")):
        case = phantom_case(seed, status)
        write_case_store(case, store_path(data, case.case_id))
    models = write_model_set(root / "models")
    start = root / "start"
    start.mkdir()
    shutil.copy(models / "cavity.pt", start / "best.pt")  # a 'run folder' of the tiny cavity
    config = root / "tiny.yaml"
    config.write_text(dump_config(small_train_config("cavity")))
    return {"root": root, "data": data, "models": models, "start": start, "config": config}


def fine_tune_widget(viewer, setup, out, iterations=4):
    w = plugin_widget(viewer, "Fine-tune")
    w.dataset.value = setup["data"]
    w.start_from.value = "run folder..."
    w.run_folder.value = setup["start"]
    w.iterations.value = iterations
    w.val_every.value = 2
    w.device.value = "cpu"
    w.config.value = setup["config"]
    w.output.value = out
    return w


def test_fine_tune_widget_runs_plots_and_prints_the_command(make_napari_viewer, qtbot, setup, tmp_path):
    viewer = make_napari_viewer()
    w = fine_tune_widget(viewer, setup, tmp_path / "runs")
    assert w.cases.count() == 2  # the approved cases only, by default
    w.start()
    assert w.last_error is None and w.busy
    assert "napari-c2w-train --stage cavity" in w.command.toPlainText()
    qtbot.waitUntil(lambda: not w.busy, timeout=240000)
    assert w.process.state == "completed", w.process.message
    run = tmp_path / "runs" / "cavity"
    assert (run / "best.pt").is_file()
    lines = w.plot.dice.get_lines()
    assert len(lines[0].get_xdata()) == 2  # validations at iterations 2 and 4
    assert w.bar.value() == 100 and w.use_button.isEnabled()


def test_the_widget_trains_the_part_of_the_cavity_network_chosen(make_napari_viewer, qtbot, setup, tmp_path):
    import torch

    from napari_c2w.models import load_checkpoint

    viewer = make_napari_viewer()
    w = fine_tune_widget(viewer, setup, tmp_path / "runs")
    w.tune.value = "norm"
    w.start()
    assert "--tune norm" in w.command.toPlainText()
    qtbot.waitUntil(lambda: not w.busy, timeout=240000)
    assert w.process.state == "completed", w.process.message
    start, _ = load_checkpoint(setup["start"] / "best.pt")
    tuned, _ = load_checkpoint(tmp_path / "runs" / "cavity" / "best.pt")
    a, b = start.state_dict(), tuned.state_dict()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed and all(".norm." in k for k in changed)


def test_cancel_keeps_last_checkpoint(make_napari_viewer, qtbot, setup, tmp_path):
    viewer = make_napari_viewer()
    w = fine_tune_widget(viewer, setup, tmp_path / "runs", iterations=10000)
    w.start()
    qtbot.waitUntil(lambda: len(w.process.metrics()) >= 1, timeout=240000)
    w.cancel()
    qtbot.waitUntil(lambda: not w.busy, timeout=120000)
    assert w.process.state == "cancelled"
    assert (tmp_path / "runs" / "cavity" / "last.pt").is_file()
    assert "--resume" in w.message.text() and w.last_error is None
    assert w.start_button.isEnabled() and not w.use_button.isEnabled()


def test_the_annotation_loop_end_to_end(make_napari_viewer, qtbot, setup, tmp_path):
    from napari.layers import Layer

    from napari_c2w.layers import case_layers

    viewer = make_napari_viewer()
    case = phantom_case(3, "unreviewed")
    reference = dict(case.labels)
    case.labels = {}
    (image,) = [viewer.add_layer(Layer.create(*t)) for t in case_layers(case)]
    # 1. predict
    seg = plugin_widget(viewer, "Segment LA (cavity, wall, scar)")
    seg.image.value = image
    seg.models.value, seg.folder.value, seg.device.value = "folder...", setup["models"], "cpu"
    seg.run()
    qtbot.waitUntil(lambda: not seg.busy, timeout=60000)
    first = [ly for ly in viewer.layers if isinstance(ly, Labels)]
    assert [ly.name for ly in first] == ["cavity", "wall", "scar"]
    # 2. correct: the annotator paints the cavity as it should be
    cavity = first[0]
    index = np.nonzero((cavity.data > 0) != (reference["cavity"] > 0))
    cavity.data_setitem(index, (reference["cavity"][index] > 0).astype(np.uint8) * LABELS["cavity"])
    np.testing.assert_array_equal(cavity.data > 0, reference["cavity"] > 0)
    # 3. export as approved into the reviewed dataset
    data = tmp_path / "reviewed"
    shutil.copytree(setup["data"], data, symlinks=True)
    ex = plugin_widget(viewer, "Export case")
    assert ex.cavity.value.unique_id == cavity.unique_id
    ex.dataset.value, ex.status.value = data, "approved"
    ex.export()
    qtbot.waitUntil(lambda: not ex.busy, timeout=30000)
    assert ex.last_error is None
    stored = read_case_store(ex.written)
    assert stored.status == "approved"
    assert any(e["action"] == "napari edit" and e["structure"] == "cavity" for e in stored.provenance)
    # 4. fine-tune on the approved cases (this one included)
    ft = fine_tune_widget(viewer, setup, tmp_path / "runs")
    ft.dataset.value = data
    assert ft.cases.count() == 3
    ft.start()
    qtbot.waitUntil(lambda: not ft.busy, timeout=240000)
    assert ft.process.state == "completed", ft.process.message
    # 5. reload into Segment and 6. predict again (the edited cavity is kept: answer No)
    seg.confirm_replace = lambda names: False
    ft.use_in_segment()
    qtbot.waitUntil(lambda: not seg.busy, timeout=60000)
    assert seg.last_error is None
    run_best = tmp_path / "runs" / "cavity" / "best.pt"
    assert seg.result.models["cavity"]["file"] == str(run_best)
    assert seg.result.models["wall"]["file"] == str(setup["models"] / "wall.pt")
    np.testing.assert_array_equal(cavity.data > 0, reference["cavity"] > 0)  # the correction survives
    names = [ly.name for ly in viewer.layers if isinstance(ly, Labels)]
    assert "cavity (corrected)" in names and any(n.startswith("cavity (prediction ") for n in names)


def test_adapt_to_these_scans_runs_napari_c2w_adapt_and_hands_the_run_to_segment(
    make_napari_viewer, qtbot, setup, tmp_path
):
    """The widget's face of ``napari-c2w adapt``: every listed scan (no labels needed), a child
    process, progress from its log, and the adapt run offered to Segment as a model folder."""
    viewer = make_napari_viewer()
    w = plugin_widget(viewer, "Fine-tune")
    w.dataset.value = setup["data"]
    w.adapt.value = True
    assert w.status.value == "any" and w.cases.count() == 3, "scans of any status"
    assert w.start_button.text() == "Start adapting" and not w.stages["scar"].enabled
    w.iterations.value, w.device.value, w.output.value = 2, "cpu", tmp_path / "runs"
    w.start()
    assert w.last_error is None and w.busy
    assert w.command.toPlainText().splitlines()[-1].startswith("napari-c2w adapt ")
    seen = []
    qtbot.waitUntil(lambda: seen.append(w.bar.value()) or not w.busy, timeout=600000)
    assert w.process.state == "completed", w.process.message
    run = tmp_path / "runs" / "adapt"
    assert (run / "cavity.pt").is_file() and (run / "adapt.json").is_file()
    assert seen == sorted(seen) and w.bar.value() == 100, "progress never goes backwards"
    assert w.use_button.isEnabled()
    segment = w.segment_widget()
    assert w.process.finished == [run]
    segment.use_models(list(w.process.finished))
    assert segment.model_sources() == [run]


def test_loss_plot_keeps_its_legend_and_title_off_the_curves_and_redraws_quickly(qtbot):
    """Issue 34.7/34.8: the legend and the title lie outside the axes and apart from each other,
    and the figure has no tight layout (it measured every label's text on each redraw)."""
    from napari_c2w.widgets.finetune import _Plot

    plot = _Plot()
    qtbot.addWidget(plot.canvas)
    rows = [{"iteration": i, "loss": 1 / (i + 1), "dice": 0.5 + i / 1000} for i in range(0, 400, 100)]
    plot.show(rows, "cavity")
    plot.canvas.draw()
    renderer = plot.canvas.get_renderer()
    axes = plot.loss.get_window_extent(renderer)
    legend = plot.loss.get_legend().get_window_extent(renderer)
    title = plot.figure._suptitle.get_window_extent(renderer)
    assert legend.y0 >= axes.y1 - 1 and not legend.overlaps(title)
    assert not plot.figure.get_tight_layout()
