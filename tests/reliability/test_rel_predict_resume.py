"""Defect 5: ``predict --format nrrd --resume`` finishes a case killed between its label files."""

from __future__ import annotations

import numpy as np
import pytest
from relutils import run_cli

from napari_c2w.io import Volume
from napari_c2w.io.volumewrite import write_volume

pytestmark = pytest.mark.slow  # each runs the bundled models on a phantom (~35 s)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    from napari_c2w.phantom import generate_phantom

    ph = generate_phantom(5, shape=(20, 72, 64), spacing=(2.5, 1.25, 1.5))
    folder = tmp_path_factory.mktemp("img")
    return write_volume(ph.image, folder / "p1.nrrd")


def test_resume_after_a_kill_between_label_files(image, tmp_path):
    out = tmp_path / "out"
    killed = run_cli(
        "predict", image, "-o", out, "--format", "nrrd", NAPARI_C2W_CRASH_AT="label-file-written:2"
    )
    assert killed.returncode == -9, killed.stderr[-600:]
    assert not (out / "p1").exists()  # nothing half-written in the place of the case
    done = run_cli("predict", image, "-o", out, "--format", "nrrd", "--resume")
    assert done.returncode == 0, done.stderr[-800:]
    assert sorted(p.name for p in (out / "p1").iterdir()) == [
        "cavity.nrrd", "prediction.json", "scar.nrrd", "wall.nrrd"
    ]  # fmt: skip
    left = sorted(p.name for p in out.iterdir() if not p.name.endswith(".lock"))  # the commit's lock
    assert left == ["p1", "predict_summary.json"]  # no temporaries


def test_resume_redoes_an_incomplete_folder_left_by_an_older_version(image, tmp_path):
    out = tmp_path / "out"
    write_volume(Volume(np.zeros((2, 2, 2), np.uint8)), out / "p1" / "cavity.nrrd")
    done = run_cli("predict", image, "-o", out, "--format", "nrrd", "--resume")
    assert done.returncode == 0, done.stderr[-800:]
    assert (out / "p1" / "prediction.json").is_file()
