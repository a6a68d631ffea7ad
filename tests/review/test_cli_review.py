"""``napari-c2w review`` and ``napari-c2w report`` on small phantom stores."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.io.store import read_case_store, read_store_attrs, store_path
from napari_c2w.io.storewrite import write_case_store
from testutils import read_label_version


@pytest.fixture
def dataset(noisy_phantoms, tmp_path):
    """A dataset of the two noisy phantoms, and a reference dataset of their true labels."""
    data, ref = tmp_path / "data", tmp_path / "ref"
    for ph in noisy_phantoms:
        write_case_store(ph.to_case(noisy=True), store_path(data, f"phantom_{ph.seed:04d}"))
        write_case_store(ph.to_case(noisy=False), store_path(ref, f"phantom_{ph.seed:04d}"))
    return data, ref


def snapshot(folder):
    return sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_review_lists_and_dry_run_writes_nothing(dataset, capsys):
    data, _ = dataset
    before = snapshot(data)
    assert main(["review", str(data)]) == 0
    out = capsys.readouterr().out
    assert "phantom_0000: 10 implausible component(s)" in out and "deep in cavity" in out
    assert main(["review", str(data), "--clean", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove 2435 of" in out and "mm³" in out
    assert snapshot(data) == before
    assert main(["review", str(data), "--dry-run"]) == 2  # --dry-run needs --clean


def test_review_clean_writes_and_keeps_old_version(dataset, noisy_phantoms, capsys):
    data, _ = dataset
    path = store_path(data, "phantom_0001")
    old = read_case_store(path).labels["scar"]
    assert main(["review", str(path), "--clean", "--dry-run", "--min-size", "3"]) == 0
    assert "small one(s)" in capsys.readouterr().out  # the true scar has a few 1-2 voxel specks
    assert main(["review", str(path), "--clean", "--annotator", "qa"]) == 0
    assert "removed 1005 of" in capsys.readouterr().out
    case = read_case_store(path)
    ph = noisy_phantoms[1]
    assert np.array_equal(case.labels["scar"] > 0, (ph.noisy_scar > 0) & ~(ph.noise > 0))
    entry = case.provenance[-1]
    assert entry["action"] == "review clean" and entry["by"] == "qa" and entry["min_size_voxels"] == 0
    key = read_store_attrs(path)["versions"]["scar"][-1]["key"]
    assert np.array_equal(read_label_version(path, "scar", key), old)
    assert main(["review", str(path), "--clean"]) == 0  # a second run finds nothing
    assert "nothing to remove" in capsys.readouterr().out


def test_review_goes_on_past_bad_cases(dataset, capsys):
    data, _ = dataset
    bad = store_path(data, "phantom_0000") / "s0" / "zarr.json"
    bad.write_text("{ not json")
    assert main(["review", str(data), "--clean", "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert "phantom_0001" in captured.out and "FAILED" in captured.err
    assert main(["review", str(data / "nothing-here")]) == 2


def read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_csv_with_reference_and_overwrite(dataset, tmp_path, capsys):
    data, ref = dataset
    out = tmp_path / "report.csv"
    assert main(["report", str(data), "--reference", str(ref), "--csv", str(out)]) == 0
    rows = read_rows(out)
    assert [r["case_id"] for r in rows] == ["phantom_0000", "phantom_0001"]
    row = rows[0]
    for col in (
        "cavity_ml",
        "wall_ml",
        "thickness_mean_mm",
        "thickness_p95_mm",
        "scar_ml",
        "scar_burden_pct",
    ):
        assert float(row[col]) > 0
    assert int(row["implausible_scar_voxels"]) == 2435
    assert float(row["cavity_dice"]) == 1.0 and float(row["wall_hd95_mm"]) == 0.0
    assert 0 < float(row["scar_dice"]) < 1 and float(row["scar_surface_dice_1mm"]) < 1
    assert 1.0 < float(row["thickness_mean_mm"]) < 3.0
    # never overwrite without --overwrite
    stamp = out.stat().st_mtime_ns
    assert main(["report", str(data), "--csv", str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.stat().st_mtime_ns == stamp
    assert main(["report", str(data), "--csv", str(out), "--overwrite"]) == 0
    rows = read_rows(out)
    assert "scar_dice" not in rows[0] and len(rows) == 2
    assert not list(tmp_path.glob(".report.csv.*")), "no temporary file is left behind"


def test_report_single_case_without_matching_reference(dataset, tmp_path):
    data, ref = dataset
    out = tmp_path / "one.csv"
    other = tmp_path / "other"
    other.mkdir()
    (ref / "phantom_0001.ome.zarr").rename(other / "phantom_0001.ome.zarr")
    assert main(["report", str(data), "--reference", str(ref), "--csv", str(out)]) == 0
    rows = read_rows(out)
    assert rows[1]["cavity_dice"] == "" and "no reference case" in rows[1]["notes"]
    assert float(rows[0]["cavity_dice"]) == 1.0
