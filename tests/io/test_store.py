"""The OME-Zarr case store: round trip, other readers, and no data ever lost."""

from __future__ import annotations

import errno
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr

from napari_c2w.errors import InputError, StoreError
from napari_c2w.io import Case, Volume, provenance_entry
from napari_c2w.io.store import is_case_store, list_case_stores, read_case_store, read_store_attrs
from napari_c2w.io.storewrite import update_case_store, write_case_store
from testutils import read_label_version


def test_round_trip(tmp_path, small_case):
    small_case.provenance.append(provenance_entry("import", "cavity", source="x.nrrd"))
    small_case.image.direction = (0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    back = read_case_store(path)
    np.testing.assert_array_equal(back.image.array, small_case.image.array)
    assert back.image.spacing == small_case.image.spacing
    assert back.image.origin == small_case.image.origin
    assert back.image.direction == small_case.image.direction
    assert back.structures == ["cavity", "wall", "scar"]
    for name in back.structures:
        np.testing.assert_array_equal(back.labels[name], small_case.labels[name])
        assert back.labels[name].dtype == np.uint8
    assert back.case_id == "ball"
    assert back.provenance[0]["source"] == "x.nrrd"
    assert is_case_store(path) and list_case_stores(tmp_path) == [path]


def test_ngff_05_metadata_is_valid(tmp_path, small_case):
    from ome_zarr_models.v05 import Image

    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    model = Image.from_zarr(zarr.open_group(str(path), mode="r"))
    ms = model.attributes.ome.multiscales[0]
    assert [a.name for a in ms.axes] == ["z", "y", "x"]
    assert all(a.unit == "millimeter" for a in ms.axes)
    labels_attrs = zarr.open_group(str(path / "labels" / "scar"), mode="r").attrs["ome"]
    assert labels_attrs["image-label"]["colors"][0]["label-value"] == 1


def test_ome_zarr_py_reads_the_store(tmp_path, small_case):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    nodes = {str(n.zarr.path).rstrip("/").split("/")[-1]: n for n in Reader(parse_url(str(path)))()}
    image = nodes["ball.ome.zarr"]
    np.testing.assert_array_equal(np.asarray(image.data[0]), small_case.image.array)
    scale = image.metadata["coordinateTransformations"][0][0]["scale"]
    assert scale == list(small_case.image.spacing)
    for name in ("cavity", "wall", "scar"):
        np.testing.assert_array_equal(np.asarray(nodes[name].data[0]), small_case.labels[name])


def test_changed_label_is_refused_without_overwrite(tmp_path, small_case):
    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    edited = read_case_store(path)
    edited.labels["scar"][:] = 0
    with pytest.raises(StoreError, match="already holds different scar label"):
        write_case_store(edited, path)
    np.testing.assert_array_equal(read_case_store(path).labels["scar"], small_case.labels["scar"])


def test_overwrite_keeps_the_previous_version(tmp_path, small_case):
    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    for k in range(2):
        update_case_store(
            path,
            labels={"scar": np.zeros(small_case.image.shape)},
            entry=provenance_entry("review", "scar", rule=f"edit {k}"),
        )
        update_case_store(path, labels={"scar": small_case.labels["scar"]})
    history = read_store_attrs(path)["versions"]["scar"]
    assert [h["key"] for h in history] == ["1", "2", "3", "4"]  # every replaced label is kept
    np.testing.assert_array_equal(read_label_version(path, "scar", "1"), small_case.labels["scar"])
    assert read_label_version(path, "scar", "2").sum() == 0
    assert [e.get("rule") for e in read_case_store(path).provenance if e["action"] == "review"] == [
        "edit 0",
        "edit 1",
    ]


def test_labels_missing_from_the_new_case_are_kept(tmp_path, small_case):
    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    only_cavity = Case(small_case.image, {"cavity": small_case.labels["cavity"]}, case_id="ball")
    write_case_store(only_cavity, path)
    assert read_case_store(path).structures == ["cavity", "wall", "scar"]


def test_different_image_is_refused(tmp_path, small_case):
    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    other = Case(Volume(small_case.image.array + 1, small_case.image.spacing), case_id="ball")
    with pytest.raises(StoreError, match="different image"):
        write_case_store(other, path, overwrite=True)


def test_status_and_attrs_update(tmp_path, small_case):
    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    update_case_store(path, status="approved", attrs={"uncertainty": 0.25})
    back = read_case_store(path)
    assert back.status == "approved" and back.attrs["uncertainty"] == 0.25


def test_disk_full_leaves_the_old_store(tmp_path, small_case, monkeypatch):
    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    edited = read_case_store(path)
    edited.labels["wall"][:] = 1

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    from napari_c2w.io import commit

    monkeypatch.setattr(commit, "fsync_tree", full)
    with pytest.raises(StoreError, match="disk is full; nothing was changed"):
        write_case_store(edited, path, overwrite=True)
    np.testing.assert_array_equal(read_case_store(path).labels["wall"], small_case.labels["wall"])
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["ball.ome.zarr"]


KILLED_WRITER = """
import sys, numpy as np
from napari_c2w.io import Case, Volume
from napari_c2w.io.storewrite import write_case_store
rng = np.random.default_rng(1)
image = np.load(sys.argv[2])
labels = {n: rng.random(image.shape) > 0.5 for n in ("cavity", "wall", "scar")}
write_case_store(Case(Volume(image), labels, case_id="big"), sys.argv[1], overwrite=True)
"""


def test_killed_write_leaves_the_old_store_intact(tmp_path):
    """SIGKILL a writer halfway through replacing every label: the old store survives."""
    image = np.random.default_rng(0).random((48, 256, 256)).astype(np.float32)
    np.save(tmp_path / "image.npy", image)
    old = Case(Volume(image), {"cavity": image > 0.5}, case_id="big")
    path = write_case_store(old, tmp_path / "big.ome.zarr")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), str(tmp_path / "image.npy")])
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".big.ome.zarr.tmp-*/labels")):
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert list(tmp_path.glob(".big.ome.zarr.tmp-*")), "the writer was not caught halfway; make it bigger"
    back = read_case_store(path)
    assert back.structures == ["cavity"]
    np.testing.assert_array_equal(back.labels["cavity"], old.labels["cavity"])
    np.testing.assert_array_equal(back.image.array, image)
    # the next write goes through and the half-written temporary does not get in its way
    write_case_store(Case(Volume(image), {"wall": image < 0.1}, case_id="big"), path)
    assert read_case_store(path).structures == ["cavity", "wall"]


def test_legacy_old_copy_is_reported_not_restored(tmp_path, small_case):
    """An ``.old-*`` copy without a swap journal (napari-c2w < format 2) may be stale: report it."""
    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    path.rename(tmp_path / ".ball.ome.zarr.old-deadbeef")
    with pytest.raises(InputError, match=r"does not exist; .*old-deadbeef.*rename it to ball\.ome\.zarr"):
        read_case_store(path)
    (tmp_path / ".ball.ome.zarr.old-deadbeef").rename(path)
    assert read_case_store(path).structures == ["cavity", "wall", "scar"]


def test_not_a_store(tmp_path):
    (tmp_path / "x.ome.zarr").mkdir()
    with pytest.raises(InputError, match="is not an OME-Zarr image"):
        read_case_store(tmp_path / "x.ome.zarr")


def test_damaged_store(tmp_path, small_case):
    import shutil

    path = write_case_store(small_case, tmp_path / "ball.ome.zarr")
    shutil.rmtree(path / "s0")
    (path / "s0").mkdir()
    with pytest.raises(InputError, match="could not be read as a case store"):
        read_case_store(path)


def test_store_name_must_end_in_ome_zarr(tmp_path, small_case):
    with pytest.raises(InputError, match=r"does not end in \.ome\.zarr"):
        write_case_store(small_case, tmp_path / "ball.zarr")
