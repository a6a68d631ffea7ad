"""Issue 31 item 8: a store the user deleted after a crashed write does not come back.

Recovery rolls a crashed commit forward only when the journal's old copy shows that the commit
itself moved the store away; a store missing because the user deleted it stays deleted, and the
crashed write's temporaries are removed.
"""

from __future__ import annotations

import shutil

import pytest
from relutils import run_child

from napari_c2w.cli import main
from napari_c2w.io.store import list_case_stores, read_case_store
from napari_c2w.io.storewrite import write_case_store

CLEANER = """
import sys
import numpy as np
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import update_case_store
case = read_case_store(sys.argv[1])
update_case_store(sys.argv[1], labels={"scar": np.zeros(case.image.shape, np.uint8)}, revision=case.revision)
"""

FIRST_WRITE = """
import sys
import numpy as np
from napari_c2w.io import Case, Volume
from napari_c2w.io.storewrite import write_case_store
image = np.arange(6 * 20 * 24, dtype=np.uint16).reshape(6, 20, 24) % 200 + 20
write_case_store(Case(Volume(image, (2.0, 1.0, 1.0)), case_id="n"), sys.argv[1])
"""


def _names(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


@pytest.mark.parametrize("point", ["tree-written", "journal-written"])
def test_deleted_store_stays_deleted_after_a_crashed_clean(tmp_path, tiny_case, capsys, point):
    kept = write_case_store(tiny_case, tmp_path / "kept.ome.zarr")
    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    assert run_child(CLEANER, path, NAPARI_C2W_CRASH_AT=point).returncode == -9
    shutil.rmtree(path)  # the user deletes the store
    assert main(["check", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert not path.exists(), "a deleted store came back from the crashed write's journal"
    assert " t.ome.zarr" not in out and "OK   kept.ome.zarr" in out
    assert _names(tmp_path) == [kept.name], "the crashed write's files were left behind"


def test_a_crash_between_the_renames_still_rolls_forward(tmp_path, tiny_case):
    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    assert run_child(CLEANER, path, NAPARI_C2W_CRASH_AT="old-renamed").returncode == -9
    assert not path.exists()
    assert list_case_stores(tmp_path) == [path]
    assert not read_case_store(path).labels["scar"].any()  # the clean, complete
    assert _names(tmp_path) == [path.name]


def test_a_crashed_first_write_is_completed(tmp_path):
    """No store was there before: the journal says so, and the complete new store is kept."""
    path = tmp_path / "n.ome.zarr"
    assert run_child(FIRST_WRITE, path, NAPARI_C2W_CRASH_AT="journal-written").returncode == -9
    assert list_case_stores(tmp_path) == [path]
    assert read_case_store(path).case_id == "n"
    assert _names(tmp_path) == [path.name]
