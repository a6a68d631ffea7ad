"""napari-c2w's torch jobs share the cores instead of oversubscribing them (issue 33.5)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from napari_c2w.models import share


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_C2W_CACHE", str(tmp_path))
    monkeypatch.setenv(share.SHARE_ENV, "1")
    monkeypatch.setattr(share, "cores", lambda: 4)
    monkeypatch.setattr(share, "_STATE", {"wanted": 4, "registered": 0, "checked": 0.0, "threads": None})
    before = torch.get_num_threads()
    yield share.jobs_dir()
    torch.set_num_threads(before)


def _other_job(folder, pid):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{pid}.job").write_text("train 0\n")


def test_a_job_takes_its_share_while_another_runs_and_all_again_after(registry):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with share.cpu_job("predict"):
            assert (registry / f"{os.getpid()}.job").is_file()
            assert share.fair_threads() == 4 and torch.get_num_threads() == 4
            _other_job(registry, other.pid)
            share._STATE["checked"] = 0.0  # the next window
            assert share.fair_threads() == 2 and torch.get_num_threads() == 2
        assert not (registry / f"{os.getpid()}.job").exists()
    finally:
        other.kill()
        other.wait()
    share._STATE["checked"] = 0.0
    assert share.fair_threads() == 4  # the other process is gone: its entry is stale
    assert not (registry / f"{other.pid}.job").exists()


def test_a_job_asked_for_fewer_threads_never_takes_more(registry):
    assert share.fair_threads(1) == 1
    with share.cpu_job("train"):
        assert share.fair_threads(3) == 3


def test_sharing_can_be_turned_off(registry, monkeypatch):
    monkeypatch.setenv(share.SHARE_ENV, "0")
    _other_job(registry, os.getppid())
    with share.cpu_job("predict"):
        assert not (registry / f"{os.getpid()}.job").exists()
        assert share.fair_threads() == 4


def test_a_script_that_set_torchs_threads_keeps_them(registry):
    share._STATE["wanted"] = None
    torch.set_num_threads(1)
    assert share.fair_threads() == 1 and torch.get_num_threads() == 1
