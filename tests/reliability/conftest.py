"""Fixtures of the reliability tests: a tiny case, tmpfs mounts (read-only, full)."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from napari_c2w.io import Case, Volume


@pytest.fixture
def tiny_case():
    """A 6 x 20 x 24 case with a cavity cube and a scar patch (fast to write)."""
    rng = np.random.default_rng(3)
    image = rng.integers(20, 200, size=(6, 20, 24)).astype(np.uint8)
    cavity = np.zeros(image.shape, np.uint8)
    cavity[1:5, 5:15, 6:18] = 1
    scar = np.zeros(image.shape, np.uint8)
    scar[2:4, 4:6, 8:12] = 1
    return Case(Volume(image, (2.0, 1.0, 1.0)), {"cavity": cavity, "scar": scar}, case_id="t")


def _mount(folder, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=False)
    return done.returncode == 0


@pytest.fixture
def dataset(tmp_path, tiny_case):
    """Three stores of the tiny case (a, b, c) in tmp_path/ds."""
    from napari_c2w.io.storewrite import write_case_store

    ds = tmp_path / "ds"
    for name in ("a", "b", "c"):
        tiny_case.case_id = name
        write_case_store(tiny_case, ds / f"{name}.ome.zarr")
    return ds


@pytest.fixture
def mounted(tmp_path):
    """``mounted(name, options)``: a tmpfs (e.g. ``size=64k`` or ``ro``) at tmp_path/name; skips
    unless running as root where mount works (read-only folders do not stop root otherwise)."""
    mounts = []

    def make(name: str, options: str):
        folder = tmp_path / name
        if not _mount(folder, options):
            pytest.skip("needs root and tmpfs mounts to make a read-only or full folder")
        mounts.append(folder)
        return folder

    yield make
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], check=False)
