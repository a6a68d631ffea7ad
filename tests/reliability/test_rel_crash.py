"""Defect 3: a kill at any step of a commit leaves the old or the new store, found by listings."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from relutils import run_child

from napari_c2w.io.store import list_case_stores, read_case_store
from napari_c2w.io.storewrite import write_case_store

POINTS = ["tree-written", "text-written", "journal-written", "old-renamed", "new-renamed", "old-trashed",
          "journal-removed"]  # fmt: skip

WRITER = """
import sys
import numpy as np
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store
case = read_case_store(sys.argv[1])
case.set_label("wall", np.ones(case.image.shape, np.uint8))
write_case_store(case, sys.argv[1])
"""


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_commit_step_leaves_old_or_new(tmp_path, tiny_case, point):
    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    result = run_child(WRITER, path, NAPARI_C2W_CRASH_AT=point)
    assert result.returncode == -9, f"the crash hook {point} was not reached: {result.stderr[-500:]}"
    assert list_case_stores(tmp_path) == [path]  # the listing finds (and repairs) the case
    back = read_case_store(path)
    assert back.structures in (["cavity", "scar"], ["cavity", "wall", "scar"])
    np.testing.assert_array_equal(back.labels["scar"], tiny_case.labels["scar"])
    assert _leftovers(tmp_path) == [], "the next command left the crashed write's files behind"


def test_listing_finds_a_store_killed_between_the_renames(tmp_path, tiny_case):
    """Killed after the old store moved away: dataset commands must not lose the case."""
    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    assert run_child(WRITER, path, NAPARI_C2W_CRASH_AT="old-renamed").returncode == -9
    assert not path.exists()
    assert list_case_stores(tmp_path) == [path]
    assert read_case_store(path).structures == ["cavity", "wall", "scar"]  # rolled forward


def test_no_resurrection_after_the_user_deletes_and_reimports(tmp_path, tiny_case):
    """A half-deleted old copy (killed while it was being removed) is never restored."""
    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    older = read_case_store(path)
    older.set_label("wall", np.ones(older.image.shape, np.uint8))
    write_case_store(older, path)
    stale = tmp_path / ".t.ome.zarr.old-ffffffff"
    shutil.copytree(path, stale)
    shutil.rmtree(stale / "labels" / "scar")  # half deleted
    shutil.rmtree(path)  # the user deletes the store ...
    fresh = tiny_case
    fresh.labels = {"cavity": tiny_case.labels["cavity"]}
    write_case_store(fresh, path)  # ... and imports it again
    back = read_case_store(path)
    assert back.structures == ["cavity"]
    assert len(back.provenance) == len(fresh.provenance)


def test_stale_temporaries_are_removed_by_the_next_write(tmp_path, tiny_case):
    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    (tmp_path / ".t.ome.zarr.tmp-deadbeef").mkdir()
    (tmp_path / ".t.ome.zarr.tmp-deadbeef" / "zarr.json").write_text("{}")
    write_case_store(read_case_store(path), path)
    assert _leftovers(tmp_path) == []


def test_a_forged_journal_cannot_delete_outside_the_dataset(tmp_path, tiny_case):
    ds = tmp_path / "ds"
    path = write_case_store(tiny_case, ds / "t.ome.zarr")
    victim = tmp_path / "precious"
    victim.mkdir()
    (ds / ".t.ome.zarr.swap").write_text('{"tmp": "../precious", "old": "../precious"}')
    assert list_case_stores(ds) == [path]
    assert victim.is_dir() and read_case_store(path).structures == ["cavity", "scar"]
    assert _leftovers(ds) == []
