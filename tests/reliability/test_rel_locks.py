"""Issue 31 item 9: one frozen writer never stalls or aborts a dataset command.

A writer stopped (SIGSTOP) in the middle of a commit holds its store's lock. Reads never wait
for that lock (commits are rename-based, so a store on disk is always complete); a case whose
store is missing because the frozen writer is swapping it is listed as failed, naming the holder,
and the other cases are done. ``NAPARI_C2W_LOCK_TIMEOUT`` is parsed safely.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

import pytest
from relutils import child_env, run_child, run_cli

#: A writer of the store argv[1] that stops itself (SIGSTOP) at the commit step argv[2].
FROZEN_WRITER = """
import os, signal, sys
import numpy as np
from napari_c2w.io import commit
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store

def stop_at(name):
    if name == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGSTOP)

commit.crash_point = stop_at
case = read_case_store(sys.argv[1])
case.set_label("wall", np.ones(case.image.shape, np.uint8))
write_case_store(case, sys.argv[1])
"""

TIMEOUT_S = 10  # the lock timeout the commands get; none of them may wait that long


@pytest.fixture
def frozen(dataset):
    """``frozen(point)``: a writer of b.ome.zarr stopped at ``point``, holding the lock; killed after."""
    procs = []

    def start(point: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", FROZEN_WRITER, str(dataset / "b.ome.zarr"), point], env=child_env()
        )
        procs.append(proc)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)  # until it stops itself
        assert os.WIFSTOPPED(status), f"the writer did not reach {point}"
        return proc

    yield start
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()  # SIGKILL ends a stopped process too
        proc.wait()


def _timed(*args):
    start = time.monotonic()
    result = run_cli(*args, timeout=120, NAPARI_C2W_LOCK_TIMEOUT=str(TIMEOUT_S))
    return result, time.monotonic() - start


def test_reads_do_not_wait_for_a_frozen_writer(dataset, frozen, tmp_path):
    """Frozen after its journal: the committed store is still there and is read as it is."""
    frozen("journal-written")
    commands = {
        "check": ["check", dataset],
        "review": ["review", dataset],
        "export": ["export", dataset, "--format", "nifti", "-o", tmp_path / "out"],
        "report": ["report", dataset, "-o", tmp_path / "report.csv"],
    }
    for name, args in commands.items():
        result, took = _timed(*args)
        assert took < TIMEOUT_S, f"{name} waited {took:.1f} s for the frozen writer"
        assert result.returncode == 0, f"{name}: {result.stderr[-800:]}"
        if name == "check":
            assert result.stdout.count("OK ") == 3, result.stdout
        else:
            assert "3 case(s) done, 0 failed" in result.stderr, f"{name}: {result.stderr[-800:]}"
    assert (dataset / "b.ome.zarr").is_dir()


def test_case_being_swapped_is_a_failure_naming_the_holder(dataset, frozen, tmp_path):
    """Frozen between its renames (the store is missing for a moment): that case fails, the rest is done."""
    proc = frozen("old-renamed")
    assert not (dataset / "b.ome.zarr").exists()
    for args in (["review", dataset], ["export", dataset, "--format", "nifti", "-o", tmp_path / "out"]):
        result, took = _timed(*args)
        assert took < TIMEOUT_S, f"{args[0]} waited {took:.1f} s for the frozen writer"
        assert result.returncode == 1, result.stderr[-800:]
        assert "2 case(s) done, 1 failed" in result.stderr, result.stderr[-800:]
        assert "FAILED b.ome.zarr" in result.stderr and f"pid {proc.pid}" in result.stderr, result.stderr
    result, took = _timed("check", dataset)
    assert took < TIMEOUT_S and result.returncode == 1
    assert "OK   a.ome.zarr" in result.stdout and "OK   c.ome.zarr" in result.stdout
    assert "FAIL b.ome.zarr" in result.stdout and f"pid {proc.pid}" in result.stdout, result.stdout


PRINT_TIMEOUT = "from napari_c2w.io import commit; print(commit.LOCK_TIMEOUT_S)"


@pytest.mark.parametrize(
    ("value", "expected"), [("abc", 30.0), ("-1", 0.0), ("nan", 30.0), ("2.5", 2.5), ("", 30.0)]
)
def test_lock_timeout_env_is_parsed_safely(value, expected):
    result = run_child(PRINT_TIMEOUT, NAPARI_C2W_LOCK_TIMEOUT=value)
    assert result.returncode == 0, result.stderr[-800:]
    assert float(result.stdout.strip()) == expected
    if value not in ("2.5", ""):
        assert "NAPARI_C2W_LOCK_TIMEOUT" in result.stderr and "Traceback" not in result.stderr
