"""``napari-c2w report --scar-method ... --regions --surface-dir``: burden per method, agreement, files."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.io import Case, Volume
from napari_c2w.io.store import store_path
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.surface.report import method_row


@pytest.fixture(scope="module")
def case(atrium):
    return Case(
        Volume(atrium.image, atrium.spacing, atrium.origin),
        {"cavity": atrium.cavity, "wall": atrium.wall, "scar": atrium.scar},
        case_id="atrium1",
    )


def test_method_row_gives_burden_per_method_and_agreement(case, atrium):
    row, masks = method_row(case, ["network", "iir", "sd"], params={"iir": 1.2, "sd_k": 3})
    wall = atrium.wall & ~atrium.cavity
    truth = 100 * atrium.scar.sum() / wall.sum()
    assert row["scar_region"] == "wall"
    assert row["blood_pool_mean"] == pytest.approx(100.0)
    # the patch (IIR 1.5) is exactly the scar label: every method agrees with the network
    for m in ("network", "iir"):
        assert row[f"scar_burden_{m}_pct"] == pytest.approx(truth)
    assert row["dice_network_iir"] == pytest.approx(1.0)
    assert row["burden_diff_network_iir_pp"] == pytest.approx(0.0)
    # SD is 0 in this noise-free volume: mean + 3 SD = 100 flags the patch too
    assert row["dice_iir_sd"] == pytest.approx(1.0)
    assert set(masks) == {"network", "iir", "sd"}


def test_method_row_notes_what_is_missing(case):
    bare = Case(case.image, {"wall": case.labels["wall"]}, case_id="bare")
    row, _ = method_row(bare, ["network", "iir"])
    assert "cavity" in row["notes"] and "scar label" in row["notes"]
    assert math.isnan(row["scar_burden_iir_pct"])
    with pytest.raises(ValueError, match="unknown scar method"):
        method_row(case, ["otsu"])


def test_report_cli_writes_methods_regions_and_surfaces(case, tmp_path):
    write_case_store(case, store_path(tmp_path / "ds", case.case_id))
    out = tmp_path / "report.csv"
    code = main(
        [
            "report",
            str(tmp_path / "ds"),
            "--csv",
            str(out),
            "--scar-method",
            "network",
            "iir",
            "sd",
            "--iir",
            "1.32",
            "--regions",
            "--surface-dir",
            str(tmp_path / "surf"),
            "--surface-format",
            "vtk",
            "csv",
        ]
    )
    assert code == 0
    with open(out) as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        cols = reader.fieldnames
    assert cols[-1] == "notes"
    for c in ("scar_burden_network_pct", "scar_burden_iir_pct", "dice_network_sd", "posterior_iir_pct"):
        assert c in cols
    assert float(rows[0]["dice_network_iir"]) == pytest.approx(1.0)
    assert float(rows[0]["surface_iir_burden_pct"]) > 0
    assert sorted(p.name for p in (tmp_path / "surf").iterdir()) == ["atrium1.vtk", "atrium1_regions.csv"]
    assert np.isfinite(float(rows[0]["roof_thickness_mm"]))


def test_report_cli_rejects_an_unknown_method(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path), "--csv", str(tmp_path / "r.csv"), "--scar-method", "otsu"])
    assert "invalid choice" in capsys.readouterr().err
