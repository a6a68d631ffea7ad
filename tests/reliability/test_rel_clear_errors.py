"""Clear errors instead of tracebacks or silence: labels, images, output folders, case ids."""

from __future__ import annotations

import numpy as np
import pytest
from relutils import run_cli

from napari_c2w.cli import main
from napari_c2w.io import Volume
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.io.volumewrite import write_volume

SPACING = (2.0, 1.0, 1.0)


@pytest.fixture
def image_file(tmp_path):
    rng = np.random.default_rng(0)
    return write_volume(
        Volume(rng.integers(0, 200, (6, 20, 24)).astype(np.uint8), SPACING), tmp_path / "img.nrrd"
    )


def _label(tmp_path, values, name="lab.nrrd", **geometry):
    array = np.zeros((6, 20, 24), np.int16)
    for i, v in enumerate(values):
        array[1 + i, 5:10, 5:10] = v
    return write_volume(Volume(array, geometry.pop("spacing", SPACING), **geometry), tmp_path / name)


def test_label_with_another_direction_is_refused(image_file, tmp_path, capsys):
    flipped = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    lab = _label(tmp_path, [1], direction=flipped)
    assert main(["import", str(image_file), "--cavity", str(lab), "-o", str(tmp_path / "out")]) == 1
    assert "lab.nrrd: has direction (-1, 0, 0" in capsys.readouterr().err


@pytest.mark.parametrize("values", [[1, 2, 3], [-1, 1]])
def test_multi_label_or_negative_map_needs_label_value(image_file, tmp_path, capsys, values):
    lab = _label(tmp_path, values)
    out = tmp_path / "out"
    assert main(["import", str(image_file), "--cavity", str(lab), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "lab.nrrd: holds" in err and "--label-value N" in err
    assert main(["import", str(image_file), "--cavity", str(lab), "-o", str(out), "--label-value", "1"]) == 0
    cavity = read_case_store(out / "img.ome.zarr").labels["cavity"]
    assert cavity.sum() == 25 and cavity[1 + values.index(1)].sum() == 25


def test_binary_0_255_still_imports(image_file, tmp_path):
    lab = _label(tmp_path, [255, 255])
    assert main(["import", str(image_file), "--cavity", str(lab), "-o", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize("value", [0, 7])
def test_constant_image_is_refused(tmp_path, capsys, value):
    img = write_volume(Volume(np.full((6, 20, 24), value, np.uint8)), tmp_path / "flat.nrrd")
    assert main(["import", str(img), "-o", str(tmp_path / "out")]) == 1
    assert f"flat.nrrd: is constant (every voxel is {value})" in capsys.readouterr().err


def test_oblique_and_thick_slices_are_warned_about(tmp_path):
    c, s = np.cos(0.3), np.sin(0.3)
    rng = np.random.default_rng(0)
    vol = Volume(
        rng.integers(0, 200, (6, 20, 24)).astype(np.uint8),
        (5.0, 1.0, 1.0),
        direction=(c, -s, 0, s, c, 0, 0, 0, 1),
    )
    img = write_volume(vol, tmp_path / "obl.nrrd")
    result = run_cli("import", img, "-o", tmp_path / "out")
    assert result.returncode == 0
    assert "obl.nrrd: warning: oblique axes" in result.stderr
    assert "obl.nrrd: warning: slices 5.0 mm thick" in result.stderr


@pytest.mark.parametrize("case_id", ["../../escaped", "/tmp/abs-case-id", ".hidden", "a/b"])
def test_case_id_cannot_leave_the_output_folder(image_file, tmp_path, capsys, case_id):
    out = tmp_path / "deep" / "out"
    code = main(["import", str(image_file), "-o", str(out), "--case-id", case_id])
    assert code in (1, 2)
    assert "is not a plain name" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.ome.zarr"))


def test_read_only_output_folder_is_a_clear_error(image_file, mounted, capsys):
    out = mounted("ro", "ro,size=64k")
    assert main(["import", str(image_file), "-o", str(out)]) == 2
    assert f"{out}: cannot be written to (Read-only file system)" in capsys.readouterr().err


def test_full_disk_import_fails_cleanly(image_file, mounted, capsys, tmp_path):
    out = mounted("full", "size=12k")
    assert main(["import", str(image_file), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "the disk is full; nothing was changed" in err
    assert [p.name for p in out.iterdir() if not p.name.endswith(".lock")] == []


def test_report_is_kept_when_the_csv_folder_turns_full(tmp_path, tiny_case, monkeypatch, capsys):
    import errno

    from napari_c2w.review import report

    write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    target = tmp_path / "r.csv"
    real = report.write_csv

    def full(rows, path, cols, overwrite=False):
        if path == target:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(rows, path, cols, overwrite=overwrite)

    monkeypatch.setattr(report, "write_csv", full)
    assert main(["report", str(tmp_path / "t.ome.zarr"), "--csv", str(target)]) == 2
    err = capsys.readouterr().err
    assert "could not write" in err and "No space left" in err
    saved = err.split("were saved to ")[1].split(" instead")[0]
    assert open(saved).read().count("\n") == 2  # header + the case


def test_bad_review_status_names_the_store(tmp_path, tiny_case, capsys):
    import zarr

    path = write_case_store(tiny_case, tmp_path / "t.ome.zarr")
    root = zarr.open_group(str(path), mode="r+")
    attrs = root.attrs["napari_c2w"]
    attrs["status"] = "done-ish"
    root.attrs["napari_c2w"] = attrs
    assert main(["review", str(path)]) == 1
    err = capsys.readouterr().err
    assert "t.ome.zarr: has review status 'done-ish'" in err
