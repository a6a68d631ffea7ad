"""The review widgets inside napari: review, queue, quantification and export (runs under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.layers import META_KEY, case_layers
from napari_c2w.phantom import generate_phantom
from testutils import read_label_version, settle

pytestmark = [pytest.mark.gui, pytest.mark.filterwarnings("error:Private attribute access:FutureWarning")]

SPACING = (2.5, 1.25, 1.25)
ORIGIN = (-20.0, 5.0, 10.0)


@pytest.fixture(scope="module")
def phantom():
    return generate_phantom(0, shape=(24, 64, 64), spacing=SPACING, origin=ORIGIN)


def open_case(viewer, case):
    from napari.layers import Layer

    return [viewer.add_layer(Layer.create(*t)) for t in case_layers(case)]


def plugin_widget(viewer, name):
    """The widget as napari makes it from the plugin menu (with a proxy of the viewer)."""
    return viewer.window.add_plugin_dock_widget("napari-c2w", name)[1]


@pytest.fixture
def review(make_napari_viewer, qtbot, phantom):
    viewer = make_napari_viewer()
    layers = open_case(viewer, phantom.to_case(noisy=True))
    widget = plugin_widget(viewer, "Review annotations")
    widget.annotator.value = "dr who"
    widget.find()
    settle(widget)
    assert widget.last_error is None
    return viewer, widget, {ly.name: ly for ly in layers}


def test_review_and_surface_leave_the_viewers_thread_free(make_napari_viewer, phantom, monkeypatch):
    """Issue 34.8: Find implausible held napari's thread 0.9 s on a scanner's grid (the masks,
    the band, the components and two full-grid layers), Atrial surface 0.55 s. Now the masks and
    the analysis are made in a worker, find() returns at once, and the band and the flagged
    components are layers on their own boxes, placed where the full-grid ones were."""
    import threading

    import napari_c2w.layers
    import napari_c2w.widgets.review as review_widget
    import napari_c2w.widgets.surface as surface_widget
    from napari_c2w.labels import to_mask

    on_main: list[bool] = []

    def spy(data):
        on_main.append(threading.current_thread() is threading.main_thread())
        return to_mask(data)

    for module in (napari_c2w.layers, review_widget, surface_widget):
        monkeypatch.setattr(module, "to_mask", spy, raising=False)
    viewer = make_napari_viewer()
    layers = {ly.name: ly for ly in open_case(viewer, phantom.to_case(noisy=True))}
    w = plugin_widget(viewer, "Review annotations")
    w.find()
    assert w.busy  # the analysis runs in the worker: find() did not wait for it
    settle(w)
    assert w.last_error is None and on_main and not any(on_main)
    band, flagged = viewer.layers["review band"], viewer.layers["flagged components"]
    grid = layers["cavity"]
    assert band.data.size < grid.data.size
    np.testing.assert_array_equal(on_grid(band, grid) > 0, w.session.band.full())
    np.testing.assert_array_equal(on_grid(flagged, grid), w.session.pending_label_image())
    on_main.clear()
    s = plugin_widget(viewer, "Atrial surface")
    s.run()
    settle(s)
    assert s.last_error is None and on_main and not any(on_main)


def select_row(widget, row):
    widget.table.clearSelection()
    widget.table.selectRow(row)


def scar_mask(layers):
    return layers["scar"].data > 0


def test_review_finds_noisy_scar_and_moves_the_view(review, phantom):
    viewer, w, _ = review
    assert {ly.name for ly in viewer.layers} >= {"review band", "flagged components"}
    findings = w.session.findings
    scar_found = findings.mask(structure="scar")
    noise = phantom.noise > 0
    assert (scar_found & noise).sum() >= 0.9 * noise.sum()  # the spurious blobs are flagged
    assert w.table.rowCount() == len(findings) > 0
    assert w.table.item(0, 1).text().split(" ", 1)[1] in ("beyond wall", "deep in cavity")
    assert "flagged component" in w.summary.text()
    f = findings.items[1]
    select_row(w, 1)
    assert int(w.table.item(1, 0).text()) == f.id
    z = ORIGIN[0] + f.z * SPACING[0]
    assert viewer.dims.point[0] == pytest.approx(z)
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], f.centroid_mm[1:], atol=1e-6)


def test_remove_keep_undo_and_provenance(review):
    viewer, w, layers = review
    before = layers["scar"].data.copy()
    first = w.session.findings.items[0]
    comp = w.session.findings.mask([first.id])
    select_row(w, 0)
    w.remove_selected()
    settle(w)
    assert not (scar_mask(layers) & comp).any()
    assert scar_mask(layers).sum() == (before > 0).sum() - first.voxels
    prov = viewer.layers[0].metadata[META_KEY]["provenance"]
    entry = prov[-1]
    assert entry["rule"] == "remove components" and entry["by"] == "dr who"
    assert entry["voxels_removed"] == first.voxels and entry["structure"] == "scar" and "time" in entry
    assert viewer.layers[0].metadata[META_KEY]["status"] == "in progress"
    assert w.table.rowCount() == len(w.session.findings)  # refreshed: one row fewer
    # keep the (new) first row: it is greyed as kept and no longer flagged
    kept_id = w.session.findings.items[0].id
    select_row(w, 0)
    w.keep_selected()
    settle(w)
    assert prov[-1]["rule"] == "keep component"
    assert [r["decision"] for r in w.session.rows() if r["id"] == kept_id] == ["kept"]
    # undo both, in order
    w.undo()
    settle(w)
    assert all(r["decision"] == "flagged" for r in w.session.rows())
    w.undo()
    settle(w)
    np.testing.assert_array_equal(layers["scar"].data, before)
    assert prov[-1]["action"] == "review undo"
    w.redo()
    settle(w)
    assert not (scar_mask(layers) & comp).any()
    # napari's own undo takes back the widget's last write as one step
    layers["scar"].undo()
    np.testing.assert_array_equal(layers["scar"].data, before)


def test_remove_outside_band_with_threshold_and_undo(review):
    viewer, w, layers = review
    before = layers["scar"].data.copy()
    band = w.session.band.full()
    w.min_size.value = 0
    w.remove_outside_band()
    settle(w)
    after0 = scar_mask(layers)
    assert not (after0 & ~band).any() and (after0 == ((before > 0) & band)).all()
    assert all(f.structure != "scar" for f in w.session.findings)
    w.undo()
    settle(w)
    np.testing.assert_array_equal(layers["scar"].data, before)
    w.min_size.value = 40
    w.remove_outside_band()
    settle(w)
    after40 = scar_mask(layers)
    assert after40.sum() < after0.sum() and not (after40 & ~band).any()
    entry = viewer.layers[0].metadata[META_KEY]["provenance"][-1]
    assert entry["min_size_voxels"] == 40 and entry["inner_mm"] == 3.0 and entry["outer_mm"] == 2.5


def test_band_distances_are_configurable(review):
    _, w, _ = review
    n_default = w.session.band.voxels
    w.inner_mm.value, w.outer_mm.value = 5.0, 5.0
    w.find()
    settle(w)
    assert w.session.band.voxels > n_default
    assert len(w.session.findings.select("scar")) <= w.table.rowCount()


def test_painting_outside_band_is_reverted(review, qtbot):
    viewer, w, layers = review
    scar = layers["scar"]
    band = w.session.band.full()
    w.confine.value = True
    outside = tuple(np.argwhere(~band & (scar.data == 0))[0])
    inside = tuple(np.argwhere(band & (scar.data == 0))[0])
    scar.paint(outside, 3)  # napari's brush (masked paint atom)
    scar.data_setitem(tuple(np.array([i]) for i in inside), 3)  # a programmatic edit
    qtbot.waitUntil(lambda: scar.data[outside] == 0)
    assert scar.data[inside] == 3 and w.last_error is None
    assert viewer.layers[0].metadata[META_KEY]["provenance"][-1]["rule"] == "confine painting to wall band"
    w.undo()  # the revert is undoable: the painted voxel comes back
    settle(w)
    assert scar.data[outside] == 3
    w.confine.value = False
    scar.data_setitem(tuple(np.array([i]) for i in outside), 3)
    qtbot.wait(20)
    assert scar.data[outside] == 3


@pytest.mark.parametrize(
    ("rule", "structure"), [("fill holes", "cavity"), ("keep largest", "scar"), ("smooth", "scar")]
)
def test_corrections_are_undoable(review, rule, structure):
    viewer, w, layers = review
    layer = layers[structure]
    if rule == "fill holes":  # punch a hole in the middle of the cavity
        inner = np.argwhere(layer.data > 0)
        layer.data[tuple(inner[len(inner) // 2])] = 0
    w.structure.value = structure
    w.radius_mm.value = 2.5
    before = layer.data.copy()
    w.correct(rule)
    settle(w)
    assert w.last_error is None
    assert not np.array_equal(layer.data, before)
    entry = viewer.layers[0].metadata[META_KEY]["provenance"][-1]
    assert entry["by"] == "dr who" and entry["structure"] == structure
    assert entry["voxels_removed"] + entry["voxels_added"] == int((layer.data != before).sum())
    w.undo()
    settle(w)
    np.testing.assert_array_equal(layer.data, before)


def test_review_errors_become_notifications(make_napari_viewer):
    from napari_c2w.widgets.review import ReviewWidget

    viewer = make_napari_viewer()
    w = ReviewWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.find()
    settle(w)
    assert "choose a cavity layer" in w.last_error


# --------------------------------------------------------------------------- queue


@pytest.fixture
def dataset(tmp_path, phantom):
    """Three stores: a (approved, uncertainty 0.9, clean), b (noisy, 0.2), c (part of the noise, none)."""
    noise = phantom.noise > 0
    half = noise & (np.arange(noise.shape[0]) < noise.shape[0] // 2)[:, None, None]
    specs = [
        ("a", phantom.labels["scar"], "approved", 0.9),
        ("b", phantom.noisy_scar, "unreviewed", 0.2),
        ("c", phantom.labels["scar"] | half, "unreviewed", None),
    ]
    for case_id, scar, status, u in specs:
        case = phantom.to_case()
        case.case_id, case.status = case_id, status
        case.labels["scar"] = scar.astype(np.uint8)
        case.attrs = {"uncertainty": {"score": u, "method": "test"}} if u is not None else {}
        write_case_store(case, tmp_path / f"{case_id}.ome.zarr")
    return tmp_path


def names(widget):
    return [widget.table.item(r, 0).text() for r in range(widget.table.rowCount())]


def test_queue_walks_filters_orders_and_saves(make_napari_viewer, qtbot, dataset, phantom):
    viewer = make_napari_viewer()
    w = plugin_widget(viewer, "Review queue")
    w.annotator.value = "dr who"
    w.dataset.value = dataset
    w.scan()
    qtbot.waitUntil(lambda: not w.busy)
    assert names(w) == ["a", "b", "c"] and w.last_error is None
    w.order.value = "uncertainty"
    assert names(w) == ["a", "b", "c"]
    w.order.value = "flagged voxels"
    qtbot.waitUntil(lambda: not w.busy and w.table.item(0, 2).text() != "")
    assert names(w) == ["b", "c", "a"]
    flagged = [int(w.table.item(r, 2).text()) for r in range(3)]
    assert flagged[0] > flagged[1] > flagged[2] == 0
    w.show_status.value = "unreviewed"
    assert names(w) == ["b", "c"]
    # next opens b: its layers appear
    w.next()
    settle(w)
    assert [ly.name for ly in viewer.layers] == ["b", "cavity", "wall", "scar"]
    assert w.status.value == "unreviewed" and "b" in w.position.text()
    scar = viewer.layers["scar"]
    scar.data[phantom.noise > 0] = 0  # clean it by hand
    w.status.value = "flagged"
    row = names(w).index("b")
    assert w.table.item(row, 1).text() == "flagged (unsaved)"  # the table follows the choice at once
    c_ino = (dataset / "c.ome.zarr").stat().st_ino
    w.next()  # saves b, opens c
    settle(w)
    assert [ly.name for ly in viewer.layers] == ["c", "cavity", "wall", "scar"]
    b = read_case_store(dataset / "b.ome.zarr")
    assert b.status == "flagged" and not (b.labels["scar"] & phantom.noise).any()
    np.testing.assert_array_equal(read_label_version(dataset / "b.ome.zarr", "scar", "1"), phantom.noisy_scar)
    assert b.provenance[-1]["action"] == "review save" and b.provenance[-1]["by"] == "dr who"
    assert w.table.item(0, 1).text() == "flagged"
    w.next()  # the last one: stays, and c (unchanged) is not rewritten
    settle(w)
    assert "last case" in w.position.text()
    w.previous()  # back to b, as saved
    settle(w)
    assert w.status.value == "flagged" and viewer.layers[0].name == "b"
    assert (dataset / "c.ome.zarr").stat().st_ino == c_ino


# --------------------------------------------------------------------------- quantify


def test_quantify_shows_numbers_map_and_agreement(make_napari_viewer, qtbot, phantom):
    from napari_c2w.widgets.quantify import THICKNESS_ROLE, QuantifyWidget

    viewer = make_napari_viewer()
    layers = {ly.name: ly for ly in open_case(viewer, phantom.to_case(noisy=True))}
    ref = viewer.add_labels(
        phantom.labels["scar"] * 3,
        name="reference scar",
        scale=layers["scar"].scale,
        translate=layers["scar"].translate,
    )
    w = QuantifyWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.reference.value = ref
    assert w.compared.value == "scar"
    w.run()
    qtbot.waitUntil(lambda: w.result is not None or w.last_error is not None, timeout=60_000)
    assert w.last_error is None
    rows = {w.table.item(r, 0).text(): w.table.item(r, 1).text() for r in range(w.table.rowCount())}
    ml = np.prod(SPACING) / 1000
    assert rows["cavity volume"] == f"{phantom.labels['cavity'].sum() * ml:.2f} mL"
    assert rows["wall volume"] == f"{phantom.labels['wall'].sum() * ml:.2f} mL"
    assert rows["scar volume"] == f"{phantom.noisy_scar.sum() * ml:.2f} mL"
    assert float(rows["wall thickness mean"].split()[0]) > 0.5
    assert "scar burden (% of wall)" in rows
    dice = float(rows["scar Dice"])
    assert 0.3 < dice < 1.0 and float(rows["scar HD95"].split()[0]) > 0
    assert {"scar surface Dice 1 mm", "scar ASSD"} <= set(rows)
    (tmap,) = [ly for ly in viewer.layers if ly.name == THICKNESS_ROLE]
    wall = phantom.labels["wall"] > 0
    shown = on_grid(tmap, layers["wall"])
    assert (shown[wall & (phantom.labels["cavity"] == 0)] > 0).all() and (shown[~wall] == 0).all()
    np.testing.assert_allclose(tmap.scale, SPACING)
    assert not w.key.isHidden() and w.key.high.text() == f"{float(tmap.contrast_limits[1]):.1f} mm"


def on_grid(layer, like) -> np.ndarray:
    """``layer``'s data (a crop placed with ``translate``) back on ``like``'s grid, zeros around."""
    at = np.rint((np.asarray(layer.translate) - like.translate) / np.asarray(like.scale)).astype(int)
    out = np.zeros(like.data.shape, layer.data.dtype)
    out[tuple(slice(a, a + n) for a, n in zip(at, layer.data.shape, strict=True))] = layer.data
    return out


def test_quantify_leaves_the_viewers_thread_free(make_napari_viewer, qtbot, phantom, monkeypatch):
    """Issue 34.8: the viewer's thread makes no mask of a full grid (0.26-0.30 s on a scanner's
    88x576x576 grid), adds the thickness map on the labels' box only, and draws its key in the
    dock, not as napari's colour bar (0.3-0.4 s of overlay and glyphs on the viewer's thread)."""
    import threading

    import napari_c2w.layers
    import napari_c2w.widgets.quantify as quantify_widget
    from napari_c2w.labels import to_mask
    from napari_c2w.widgets.quantify import THICKNESS_ROLE, QuantifyWidget

    on_main: list[bool] = []

    def spy(data):
        on_main.append(threading.current_thread() is threading.main_thread())
        return to_mask(data)

    monkeypatch.setattr(napari_c2w.layers, "to_mask", spy)
    monkeypatch.setattr(quantify_widget, "to_mask", spy, raising=False)
    viewer = make_napari_viewer()
    layers = {ly.name: ly for ly in open_case(viewer, phantom.to_case(noisy=True))}
    w = QuantifyWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.run()
    qtbot.waitUntil(lambda: w.result is not None or w.last_error is not None, timeout=60_000)
    assert w.last_error is None
    assert on_main and not any(on_main)
    (tmap,) = [ly for ly in viewer.layers if ly.name == THICKNESS_ROLE]
    box = w.result.box
    assert (
        tmap.data.shape == tuple(b.stop - b.start for b in box) and tmap.data.size < layers["wall"].data.size
    )
    np.testing.assert_array_equal(on_grid(tmap, layers["wall"]), w.result.thickness)
    assert not tmap.colorbar.visible and not w.key.isHidden()


# --------------------------------------------------------------------------- export


def test_export_and_the_queue_build_read_and_write_cases_off_the_viewers_thread(
    make_napari_viewer, tmp_path, dataset, phantom, monkeypatch
):
    """Issue 34.8: on a scanner's grid, Export held napari's thread 0.71 s (the case built from
    the layers on it), the queue 0.73 s to open a case and 2.5 s to save it and open the next.
    Now the case is built, read and written in a worker, the layers locked meanwhile, and a
    case's layers arrive one per turn of the event loop."""
    import threading

    import napari_c2w.widgets.export as export_widget
    import napari_c2w.widgets.queue as queue_widget
    from napari_c2w.layers import case_from_layers

    on_main: list[bool] = []

    def spy(*args, **kwargs):
        on_main.append(threading.current_thread() is threading.main_thread())
        return case_from_layers(*args, **kwargs)

    monkeypatch.setattr(export_widget, "case_from_layers", spy)
    monkeypatch.setattr(queue_widget, "case_from_layers", spy)
    viewer = make_napari_viewer()
    open_case(viewer, phantom.to_case(noisy=True))
    e = plugin_widget(viewer, "Export case")
    e.dataset.value = tmp_path / "exported"
    e.export()
    assert e.busy and not e.cavity.value.editable  # in the worker, the labels locked
    settle(e)
    assert e.last_error is None and e.cavity.value.editable and on_main == [False]
    viewer.layers.clear()
    q = plugin_widget(viewer, "Review queue")
    q.dataset.value = dataset
    q.scan()
    settle(q)
    q.next()
    assert q.busy and not any(ly.name == "a" for ly in viewer.layers)  # read in the worker
    settle(q)
    assert [ly.name for ly in viewer.layers] == ["a", "cavity", "wall", "scar"]
    q.status.value = "flagged"
    q.next()  # saves a in the worker, then opens b
    settle(q)
    assert q.last_error is None and read_case_store(dataset / "a.ome.zarr").status == "flagged"
    assert on_main == [False, False]


def test_export_writes_store_and_keeps_versions(make_napari_viewer, qtbot, tmp_path, phantom):
    from napari_c2w.widgets.export import ExportWidget

    viewer = make_napari_viewer()
    layers = {ly.name: ly for ly in open_case(viewer, phantom.to_case(noisy=True))}
    w = ExportWidget(viewer)
    viewer.window.add_dock_widget(w)
    assert w.case_id.value == "phantom_0000" and w.scar.value is layers["scar"]
    w.dataset.value = tmp_path
    w.status.value = "approved"
    w.annotator.value = "dr who"

    def export():
        w.written, w.last_error = None, None
        w.export()
        qtbot.waitUntil(lambda: not w.busy, timeout=30_000)

    export()
    path = tmp_path / "phantom_0000.ome.zarr"
    assert w.written == path and w.last_error is None
    case = read_case_store(path)
    assert case.status == "approved" and case.structures == ["cavity", "wall", "scar"]
    np.testing.assert_array_equal(case.labels["scar"], phantom.noisy_scar)
    assert case.provenance[-1]["action"] == "napari export" and case.provenance[-1]["by"] == "dr who"
    assert viewer.layers[0].metadata[META_KEY]["status"] == "approved"
    # a changed scar is refused without "replace", and the store is left as it was
    layers["scar"].data[phantom.noise > 0] = 0
    export()
    assert w.written is None and "refusing to replace" in w.last_error and "tick" in w.message.text()
    np.testing.assert_array_equal(read_case_store(path).labels["scar"], phantom.noisy_scar)
    # with "replace", the stored scar becomes version 1
    w.replace.value = True
    export()
    assert w.written == path
    np.testing.assert_array_equal(read_case_store(path).labels["scar"], phantom.noisy_scar & ~phantom.noise)
    np.testing.assert_array_equal(read_label_version(path, "scar", "1"), phantom.noisy_scar)


@pytest.mark.parametrize("name", ["Review annotations", "Review queue", "Quantify", "Export case"])
def test_widgets_open_from_the_plugin_menu(make_napari_viewer, name):
    viewer = make_napari_viewer()
    widget = plugin_widget(viewer, name)
    assert (
        type(widget).__name__
        == {
            "Review annotations": "ReviewWidget",
            "Review queue": "QueueWidget",
            "Quantify": "QuantifyWidget",
            "Export case": "ExportWidget",
        }[name]
    )


def test_the_review_table_names_each_kind_once():
    from napari_c2w.widgets._review_parts import finding_text

    assert finding_text({"structure": "wall", "kind": "wall far from cavity"}) == "wall far from cavity"
    assert finding_text({"structure": "scar", "kind": "beyond wall"}) == "scar beyond wall"


def test_closing_the_review_dock_removes_its_helper_layers(review):
    viewer, w, _ = review
    assert {"review band", "flagged components"} <= {ly.name for ly in viewer.layers}
    viewer.window.remove_dock_widget(w)  # the dock's close button
    assert not {"review band", "flagged components"} & {ly.name for ly in viewer.layers}
    assert {"cavity", "wall", "scar"} <= {ly.name for ly in viewer.layers}


def test_closing_the_review_dock_during_an_analysis_adds_no_helper_layers(make_napari_viewer, phantom):
    """The analysis runs in a worker: a dock closed before it ends must not leave its band and
    flagged components behind when the result arrives."""
    viewer = make_napari_viewer()
    open_case(viewer, phantom.to_case(noisy=True))
    w = plugin_widget(viewer, "Review annotations")
    w.find()
    assert w.busy
    viewer.window.remove_dock_widget(w)
    settle(w)
    assert not {"review band", "flagged components"} & {ly.name for ly in viewer.layers}
