"""Issue 31 item 7: a napari save never undoes a change made to the store after it was opened.

The reader puts the store and the revision it read into the layers' metadata; the writer refuses
to save over a store that changed since (a CLI clean, another napari session) with an error that
names the store and says how to keep the edit, and napari shows that error to the user.
"""

from __future__ import annotations

import numpy as np
import pytest
from relutils import run_cli

from napari_c2w._reader import read_layers
from napari_c2w._writer import write_case
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import StoreConflict, write_case_store


@pytest.fixture
def store(tmp_path, tiny_case):
    scar = tiny_case.labels["scar"].copy()
    scar[3, 0:2, 0:2] = 1  # far outside the wall band: `review --clean` removes it
    tiny_case.set_label("scar", scar)
    return write_case_store(tiny_case, tmp_path / "t.ome.zarr")


def _layer(layers, name):
    return next(t for t in layers if t[1]["name"] == name)


def _paint(layers, name, index, value) -> None:
    data = _layer(layers, name)[0]
    data[index] = value


def test_reader_records_the_store_and_revision(store):
    layers = read_layers(str(store))
    revision = read_case_store(store).revision
    for _data, meta, _ in layers:
        record = meta["metadata"]["napari_c2w"]
        assert record["store"] == str(store.resolve()) and record["revision"] == revision, meta["name"]


def test_save_after_a_cli_clean_is_refused(store):
    layers = read_layers(str(store))  # opened in napari
    _paint(layers, "scar", (2, 10, 10), 3)  # the annotator paints some scar
    clean = run_cli("review", store, "--clean")  # meanwhile, in a terminal
    assert clean.returncode == 0, clean.stderr[-800:]
    cleaned = read_case_store(store).labels["scar"]
    assert not cleaned[3, 0:2, 0:2].any()
    with pytest.raises(StoreConflict) as info:
        write_case(str(store), layers)
    message = str(info.value)
    assert str(store) in message and "another name" in message, message
    np.testing.assert_array_equal(read_case_store(store).labels["scar"], cleaned)  # the clean is kept


def test_second_napari_session_cannot_undo_the_first(store):
    mine, theirs = read_layers(str(store)), read_layers(str(store))
    _paint(theirs, "cavity", (1, 1, 1), 1)
    write_case(str(store), theirs)
    _paint(mine, "cavity", (4, 18, 22), 1)
    with pytest.raises(StoreConflict, match=r"t\.ome\.zarr"):
        write_case(str(store), mine)
    cavity = read_case_store(store).labels["cavity"]
    assert cavity[1, 1, 1] == 1 and cavity[4, 18, 22] == 0


def test_saving_twice_in_one_session_and_saving_elsewhere_work(store, tmp_path):
    layers = read_layers(str(store))
    _paint(layers, "cavity", (1, 1, 1), 1)
    write_case(str(store), layers)
    _paint(layers, "cavity", (1, 1, 2), 1)
    write_case(str(store), layers)  # the first save's revision was recorded in the layers
    assert read_case_store(store).labels["cavity"][1, 1, 1:3].all()
    other = read_layers(str(store))
    write_case(str(store), read_layers(str(store)))  # unchanged: nothing lost
    _paint(other, "cavity", (1, 1, 3), 1)
    with pytest.raises(StoreConflict):
        write_case(str(store), other)
    saved = write_case(str(tmp_path / "mine.ome.zarr"), other)  # the way out the message gives
    assert read_case_store(saved[0]).labels["cavity"][1, 1, 3] == 1


def test_napari_shows_the_conflict_instead_of_no_writer(store):
    """napari swallows a writer's ValueError ("no writer found"); the conflict must reach the user."""
    from napari.layers import Layer
    from napari.plugins.io import save_layers
    from npe2 import PluginManager

    PluginManager.instance().discover()
    layers = [Layer.create(*t) for t in read_layers(str(store))]
    layers[1].data[1, 1, 1] = 1
    assert save_layers(str(store), layers, plugin="napari-c2w") == [str(store)]
    layers[1].data[1, 1, 2] = 1
    assert save_layers(str(store), layers, plugin="napari-c2w") == [str(store)]  # the layers know the save
    write_case_store(read_case_store(store), store)  # another process saves meanwhile
    layers[1].data[1, 1, 3] = 1
    with pytest.raises(StoreConflict, match=r"t\.ome\.zarr"):
        save_layers(str(store), layers, plugin="napari-c2w")
    assert read_case_store(store).labels["cavity"][1, 1, 1:4].tolist() == [1, 1, 0]


def test_napari_shows_why_the_writer_refused_the_layers(store):
    """A layer the writer cannot place (value 7) or two images: the plugin's own message, not
    napari's "not a valid writer" (which is what a ValueError turns into)."""
    from napari.layers import Layer
    from napari.plugins.io import save_layers
    from npe2 import PluginManager

    from napari_c2w.errors import SaveRefused

    PluginManager.instance().discover()
    layers = [Layer.create(*t) for t in read_layers(str(store))]
    odd = Layer.create(np.full(layers[0].data.shape, 7, np.uint8), {"name": "mystery"}, "labels")
    with pytest.raises(SaveRefused, match="mystery"):
        save_layers(str(store), [*layers, odd], plugin="napari-c2w")
    two_images = [*(layer.as_layer_data_tuple() for layer in layers), (layers[0].data, {}, "image")]
    with pytest.raises(SaveRefused, match="exactly one image layer"):  # napari filters it; a script may not
        write_case(str(store), two_images)
