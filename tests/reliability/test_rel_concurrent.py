"""Defect 1: two writers of one store never silently lose an edit (two real processes)."""

from __future__ import annotations

import time

import numpy as np
from relutils import child_env

from napari_c2w.io.store import read_case_store, read_store_attrs
from napari_c2w.io.storewrite import write_case_store
from testutils import read_label_version

#: Reads the store, waits for the go file, adds one scar voxel block and writes the case back.
EDITOR = """
import os, sys, time
from pathlib import Path
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store
store, go, z = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
case = read_case_store(store)
Path(sys.argv[4]).write_text("read")
while not go.exists():
    time.sleep(0.005)
scar = case.labels["scar"].copy()
scar[z, 15:18, 15:18] = 1
case.set_label("scar", scar)
try:
    write_case_store(case, store, overwrite=True)
except Exception as err:
    print(type(err).__name__, err, file=sys.stderr)
    sys.exit(3)
"""


def _edit_survives(path, z: int) -> bool:
    """The edit of writer ``z`` is in the stored scar or in one of its kept versions."""
    if read_case_store(path).labels["scar"][z, 15:18, 15:18].all():
        return True
    for rec in read_store_attrs(path).get("versions", {}).get("scar", []):
        if read_label_version(path, "scar", rec["key"])[z, 15:18, 15:18].all():
            return True
    return False


def test_two_processes_editing_one_store_lose_nothing(tmp_path, tiny_case):
    import subprocess
    import sys

    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    go = tmp_path / "go"
    procs = []
    for z in (1, 4):
        ready = tmp_path / f"ready{z}"
        procs.append(
            (
                z,
                subprocess.Popen(
                    [sys.executable, "-c", EDITOR, str(path), str(go), str(z), str(ready)],
                    env=child_env(),
                    stderr=subprocess.PIPE,
                    encoding="utf-8",
                    errors="replace",
                ),
                ready,
            )
        )
    deadline = time.time() + 120
    while time.time() < deadline and not all(r.exists() for _, _, r in procs):
        time.sleep(0.01)
    go.write_text("go")
    results = {z: (p.wait(timeout=120), p.stderr.read()) for z, p, _ in procs}
    for z, (rc, err) in results.items():
        if rc == 0:
            assert _edit_survives(path, z), f"writer {z} succeeded but its edit is gone"
        else:
            assert rc == 3 and "t.ome.zarr" in err and "changed by another writer" in err, err
            assert not _edit_survives(path, z)
    assert sum(rc == 0 for rc, _ in results.values()) >= 1


def test_stale_case_written_back_is_refused_and_names_the_store(tmp_path, tiny_case):
    from napari_c2w.io.storewrite import StoreConflict

    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    mine, theirs = read_case_store(path), read_case_store(path)
    theirs.labels["scar"][1, 0, 0] = 1
    write_case_store(theirs, path, overwrite=True)
    mine.labels["scar"][4, 0, 0] = 1
    try:
        write_case_store(mine, path, overwrite=True)
    except StoreConflict as err:
        assert str(path) in str(err)
    else:
        raise AssertionError("a stale write went through")
    assert read_case_store(path).labels["scar"][1, 0, 0] == 1


def test_second_writer_waits_for_the_lock_then_names_the_holder(tmp_path, tiny_case):
    """A process holding the lock (e.g. a slow save) makes another writer wait, then refuse."""
    import subprocess
    import sys

    from napari_c2w.errors import StoreError

    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom napari_c2w.io.commit import store_lock\n"
            "with store_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(30)\n",
            str(path),
        ],
        env=child_env(),
        stdout=subprocess.PIPE,
        encoding="utf-8",
        errors="replace",
    )
    assert holder.stdout.readline().strip() == "locked"
    from napari_c2w.io import commit

    try:
        old = commit.LOCK_TIMEOUT_S
        commit.LOCK_TIMEOUT_S = 0.5
        case = read_case_store(path)
        case.labels["scar"][0, 0, 0] = 1
        try:
            write_case_store(case, path, overwrite=True)
        except StoreError as err:
            assert str(path) in str(err) and f"pid {holder.pid}" in str(err)
        else:
            raise AssertionError("wrote while another process held the lock")
    finally:
        commit.LOCK_TIMEOUT_S = old
        holder.kill()
        holder.wait()
    # the kernel drops a dead holder's lock: no stale lock
    case = read_case_store(path)
    case.labels["scar"][0, 0, 0] = 1
    write_case_store(case, path, overwrite=True)
    assert np.asarray(read_case_store(path).labels["scar"])[0, 0, 0] == 1


def test_review_queue_save_refuses_to_replace_another_writers_change(tmp_path, tiny_case):
    """The napari queue saves a case built from layers; it is checked against the version it opened."""
    import dataclasses

    from napari_c2w.io.storewrite import StoreConflict
    from napari_c2w.review.queue import save_reviewed

    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    before = read_case_store(path)  # opened in napari
    other = read_case_store(path)  # meanwhile: a clean in another process
    other.labels["scar"][:] = 0
    write_case_store(other, path, overwrite=True)
    edited = dataclasses.replace(before, labels=dict(before.labels), store=None, revision=None)  # from layers
    edited.status = "approved"
    try:
        save_reviewed(edited, path, "me", before=before)
    except StoreConflict as err:
        assert str(path) in str(err)
    else:
        raise AssertionError("the queue save replaced another writer's change")
    assert read_case_store(path).status == "unreviewed" and not read_case_store(path).labels["scar"].any()
    # without a concurrent change the next save goes through, and a second save after it too
    fresh = read_case_store(path)
    edited = dataclasses.replace(
        fresh, labels=dict(fresh.labels), store=None, revision=None, status="approved"
    )
    assert save_reviewed(edited, path, "me", before=fresh)
    again = dataclasses.replace(edited, status="flagged", labels=dict(edited.labels))
    assert save_reviewed(again, path, "me", before=edited)
    assert read_case_store(path).status == "flagged"
