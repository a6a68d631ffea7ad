"""Cleaning noisy phantom annotations: the spurious scar goes, the true scar stays."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from napari_c2w.errors import InputError
from napari_c2w.io.store import read_case_store, read_store_attrs
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.quantify import BandSpec
from napari_c2w.review import clean_case, clean_store, clean_stores
from testutils import read_label_version


def cleaning_scores(ph, case):
    scar = case.labels["scar"] > 0
    noise, truth = ph.noise > 0, ph.labels["scar"] > 0
    removed = 100 * (noise & ~scar).sum() / noise.sum()
    kept = 100 * (truth & scar).sum() / truth.sum()
    return removed, kept


def test_clean_case_meets_targets(noisy_phantoms):
    for ph in noisy_phantoms:
        case = ph.to_case(noisy=True)
        before = case.labels["scar"].copy()
        new, report = clean_case(case, min_size_voxels=0, annotator="qa")
        assert np.array_equal(case.labels["scar"], before), "the input case must not change"
        removed, kept = cleaning_scores(ph, new)
        print(
            f"\nphantom {ph.seed} (with wall): noise removed {removed:.1f} %, true scar kept {kept:.1f} %, "
            f"{len(report.components)} components, {report.voxels_removed} voxels"
        )
        assert removed >= 95 and kept >= 98
        assert report.voxels_removed == int(before.sum() - new.labels["scar"].sum())
        entry = new.provenance[-1]
        assert entry == report.entry and entry["action"] == "review clean" and entry["structure"] == "scar"
        assert entry["rule"] == "outside wall band" and entry["by"] == "qa"
        assert entry["voxels_removed"] == report.voxels_removed and entry["inner_mm"] == 3.0
        assert len(new.provenance) == len(case.provenance) + 1
        assert "removed" in report.text() and "would remove" in report.text(dry_run=True)
    wider, report = clean_case(case, BandSpec(inner_mm=3.0, outer_mm=6.0))  # one BandSpec sets the band
    assert report.params["outer_mm"] == 6.0 and wider.labels["scar"].sum() >= new.labels["scar"].sum()


def test_clean_without_wall_label(noisy_phantoms):
    """Without a wall label the band alone decides; the noise still goes (true scar may be clipped)."""
    for ph in noisy_phantoms:
        case = ph.to_case(noisy=True)
        del case.labels["wall"]
        new, _ = clean_case(case)
        removed, kept = cleaning_scores(ph, new)
        print(f"\nphantom {ph.seed} (no wall): noise removed {removed:.1f} %, true scar kept {kept:.1f} %")
        assert removed >= 95 and kept >= 80  # walls up to 3.3 mm reach past the 2.5 mm band


def test_clean_case_edge_cases(noisy_phantoms):
    case = noisy_phantoms[0].to_case(noisy=False)
    new, report = clean_case(case)
    assert not report.changed and report.entry is None and new.provenance == case.provenance
    assert "nothing to remove" in report.text()
    no_scar = copy.copy(case)
    no_scar.labels = {"cavity": case.labels["cavity"]}
    assert clean_case(no_scar)[1].notes == ["no scar label"]
    no_cavity = copy.copy(case)
    no_cavity.labels = {"scar": case.labels["scar"]}
    with pytest.raises(InputError, match="cavity"):
        clean_case(no_cavity)


def test_clean_store_dry_run_and_write(noisy_phantoms, tmp_path):
    ph = noisy_phantoms[1]
    path = write_case_store(ph.to_case(noisy=True), tmp_path / "p.ome.zarr")
    before = read_case_store(path)
    report = clean_store(path, dry_run=True)
    assert report.changed and not report.written
    assert np.array_equal(read_case_store(path).labels["scar"], before.labels["scar"])
    assert "versions" not in read_store_attrs(path) or not read_store_attrs(path)["versions"]
    done = []
    reports = clean_stores(
        [path, tmp_path / "missing.ome.zarr"],
        annotator="qa",
        progress=lambda i, n, name: done.append((i, n, name)),
    )
    assert reports[0].written and isinstance(reports[1], Exception) and done[-1][:2] == (2, 2)
    after = read_case_store(path)
    assert np.array_equal(after.labels["scar"] > 0, (ph.noisy_scar > 0) & ~(ph.noise > 0))
    assert after.provenance[-1]["action"] == "review clean" and after.provenance[-1]["by"] == "qa"
    versions = read_store_attrs(path)["versions"]["scar"]
    assert np.array_equal(read_label_version(path, "scar", versions[-1]["key"]), before.labels["scar"])
    assert clean_stores([path], cancel=lambda: True) == []
