"""benchmarks/_fault_checks.py: the fault campaign's readers find files a kill cut short."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from napari_c2w.io import Volume
from napari_c2w.io.volumewrite import write_volume

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def checks(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    return runpy.run_path(str(BENCH / "_fault_checks.py"))


def _complete(folder: Path) -> None:
    folder.mkdir()
    rng = np.random.default_rng(0)
    write_volume(Volume(rng.integers(0, 200, (6, 20, 24)).astype(np.uint8)), folder / "a_image.nii.gz")
    write_volume(Volume(rng.integers(0, 200, (6, 20, 24)).astype(np.uint8)), folder / "a_image.nrrd")
    (folder / "label_map.json").write_text(json.dumps({"cavity": 1, "wall": 2, "scar": 3}))
    (folder / "rep.csv").write_text("case,cavity_ml\r\na,12.5\r\nb,13.0\r\n")
    (folder / ".a_labels.nii.gz.123-x.c2w-tmp").write_bytes(b"partial")  # hidden: not a final name


@pytest.mark.parametrize("name", ["a_image.nii.gz", "a_image.nrrd", "label_map.json", "rep.csv"])
def test_a_file_cut_short_under_its_final_name_is_corrupt(checks, tmp_path, name):
    folder = tmp_path / "out"
    _complete(folder)
    assert checks["corrupt_files"](folder) == []
    reference = checks["snapshot"](folder)
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: len(data) * 9 // 10])
    found = checks["corrupt_files"](folder, reference)
    assert [f.split(": ")[0] for f in found] == [name]
    assert checks["result_problems"](folder, reference)[0].startswith(name)


def test_tracebacks_are_counted_per_stderr(checks):
    trace = 'Traceback (most recent call last):\n  File "x"\nValueError: y'
    assert checks["tracebacks"]("fine", trace, None, trace) == 2
