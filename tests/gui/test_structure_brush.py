"""A brush stroke on a structure layer opened from disk paints that structure and can be saved."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.labels import LABELS
from napari_c2w.phantom import generate_phantom

pytestmark = pytest.mark.gui


@pytest.fixture
def store(tmp_path):
    case = generate_phantom(3, shape=(16, 48, 48), spacing=(2.5, 1.25, 1.25)).to_case()
    case.case_id = "brush"
    return write_case_store(case, tmp_path / "brush.ome.zarr")


def _stroke(layer) -> tuple[int, int, int]:
    z = layer.data.shape[0] // 2
    where = (z, 2, 2)  # a corner: outside the atrium
    layer.paint(where, layer.selected_label, refresh=False)
    return where


@pytest.mark.parametrize("structure", ["wall", "scar"])
def test_opened_structure_layers_paint_their_value_and_save(make_napari_viewer, store, structure):
    from napari_c2w._writer import write_case

    viewer = make_napari_viewer()
    viewer.open(str(store), plugin="napari-c2w")  # File > Open with napari-c2w's reader
    layer = viewer.layers[structure]
    assert layer.selected_label == LABELS[structure]
    layer.selected_label = 1  # the label picker or a typed value: turned back to the structure
    assert layer.selected_label == LABELS[structure]
    where = _stroke(layer)
    assert set(np.unique(layer.data)) <= {0, LABELS[structure]}
    data = [(ly.data, {"name": ly.name, "metadata": ly.metadata}, ly._type_string) for ly in viewer.layers]
    write_case(str(store), data)  # the writer accepts it (it refused "holds the values 1, 2")
    assert read_case_store(store).labels[structure][where]


def test_sample_structure_layers_paint_their_value(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-c2w", "lge_phantom")
    for structure in ("cavity", "wall", "scar"):
        assert viewer.layers[structure].selected_label == LABELS[structure]
