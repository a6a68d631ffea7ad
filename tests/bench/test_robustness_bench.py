"""benchmarks/bench_robustness.py: its AUROC, its per-family table and a one-shift run end to end."""

from __future__ import annotations

import json
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from testutils import LA2018, needs_la2018

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    return runpy.run_path(str(BENCH / "bench_robustness.py"))


def test_auroc_counts_pairs_and_ties(bench):
    auroc = bench["auroc"]
    bad = np.array([True, True, False, False])
    assert auroc(bad, np.array([0.9, 0.8, 0.1, 0.2])) == 1.0
    assert auroc(bad, np.array([0.1, 0.2, 0.9, 0.8])) == 0.0
    assert auroc(bad, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    # one bad case below one good case: 3 of 4 pairs ordered
    assert auroc(bad, np.array([0.9, 0.3, 0.4, 0.1])) == 0.75
    assert math.isnan(auroc(np.array([False, False]), np.array([0.1, 0.2])))


def test_family_table_reports_unshifted_rows_per_family(bench):
    rows = [
        {"family": "la2018", "shift": "none", "cavity": 0.9, "wall_coverage": 0.7, "scar_depth": 0.0},
        {"family": "la2018", "shift": "none", "cavity": 0.8, "wall_coverage": 0.5, "scar_depth": 0.02},
        {"family": "la2018", "shift": "thick 4 mm", "cavity": 0.1, "wall_coverage": 0.0, "scar_depth": 0.9},
        {"family": "phantom", "shift": "none", "cavity": 0.95, "wall": 0.8, "scar": 0.6},
    ]
    lines = bench["family_table"](rows)
    la = next(line for line in lines if line.startswith("| la2018 "))
    # the shifted row does not count: mean 0.85, coverage 60 % (min 50 %), worst depth 2.0 %
    assert "| 2 | 0.850 | - | - | 60% (50%) | 2.0% |" in la
    ph = next(line for line in lines if line.startswith("| phantom "))
    assert "| 1 | 0.950 | 0.800 | 0.600 | - | - |" in ph


def test_scar_signal_scores_the_scar_confidence_on_runs_with_scar_truth(bench):
    def row(scar, confidence, warned):
        return {"scar": scar, "features": {"scar_confidence": confidence}, "warnings": warned}

    rows = [
        row(0.2, 0.55, ["scar_confidence"]),
        row(0.3, 0.70, []),
        row(0.6, 0.65, ["scar_confidence"]),
        row(0.7, 0.80, []),
        {"cavity": 0.9, "features": {"scar_confidence": 0.5}},  # no scar truth: left out
        row(0.5, None, []),  # no candidate scar: left out
    ]
    (line,) = bench["scar_signal"](rows)
    assert "2 of 4 runs with scar truth" in line
    assert "AUROC of low scar confidence 0.750" in line  # 3 of the 4 bad-good pairs ordered
    assert "warned 1 of them and 1 of the other 2" in line
    assert bench["scar_signal"]([{"cavity": 0.9}]) == []


def test_compare_puts_baseline_and_models_side_by_side(bench):
    def row(family, shift, dice, **extra):
        return {"family": family, "shift": shift, "dice": dice, **extra}

    before = [
        row("la2018", "none", 0.9),
        row("la2018", "none", 0.6),
        row("semi", "none", 0.8, wall=0.3, scar=0.2),
    ]
    after = [
        row("la2018", "none", 0.92),
        row("la2018", "none", 0.85),
        row("semi", "none", 0.9, wall=0.7, scar=0.5),
    ]
    lines = bench["compare"](before, after)
    assert "| la2018 | none | 2 | 0.750 (0.600) -> 0.885 (0.850) | 1 -> 0 | - | - |" in lines
    assert (
        "| semi | none | 1 | 0.800 (0.800) -> 0.900 (0.900) | 0 -> 0 | 0.300 -> 0.700 | 0.200 -> 0.500 |"
        in lines
    )


def _run_main(args: list[str], tmp_path, monkeypatch):
    """bench_robustness.py as a command with ``args`` (and --la2018, --json); its rows."""
    out = tmp_path / "rows.json"
    argv = ["bench_robustness.py", *args, "--la2018", str(LA2018), "--json", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.syspath_prepend(str(BENCH))
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(BENCH / "bench_robustness.py"), run_name="__main__")
    assert done.value.code == 0
    return json.loads(out.read_text())


@pytest.mark.slow
@needs_la2018()
def test_one_shift_runs_on_every_family(tmp_path, monkeypatch, capsys):
    args = ["--cases", "1", "--semisynth", "0", "--synthseg", "1", "--phantoms", "0"]
    rows = _run_main([*args, "--phantoms-other", "1", "--shifts", "none"], tmp_path, monkeypatch)
    assert [r["family"] for r in rows] == ["la2018", "semi-synthetic SynthSeg", "phantom 2 mm"]
    assert all(r["shift"] == "none" and 0.0 <= r["dice"] <= 1.0 for r in rows)
    assert all("wall" in r and "scar" in r for r in rows[1:]), "wall and scar are scored where labelled"
    assert all(r["wall_coverage"] is not None for r in rows)
    text = capsys.readouterr().out
    assert "| family (unshifted) |" in text and "failure detection" in text


@pytest.mark.slow
@needs_la2018()
def test_the_noise_smoothing_compares_against_the_same_models_without_it(tmp_path, monkeypatch, capsys):
    args = ["--cases", "0", "--semisynth", "0", "--synthseg", "0", "--phantoms", "0", "--phantoms-other", "1"]
    args += ["--shifts", "intensity(noise=0.2", "--baseline-no-denoise"]
    rows = _run_main(args, tmp_path, monkeypatch)
    (off,), (on,) = rows["baseline"], rows["models"]
    assert off["noise"] == on["noise"] > 0.05
    assert off["denoise_sigma_mm"] == 0 < on["denoise_sigma_mm"]
    assert "| phantom 2 mm | intensity(noise=0.2) | 1 |" in capsys.readouterr().out


def test_a_shift_draws_the_same_copy_whichever_shifts_run_beside_it(bench, monkeypatch):
    """A random shift (a contrast curve) is drawn per case and shift name: selecting it alone
    with --shifts gives the same copy as in the full run, and two cases get different curves.
    Before, the seed was the shift's index in the selected list, so `--shifts remap` drew another
    curve than the full run, and every case of a run shared one curve."""
    import dataclasses
    from types import SimpleNamespace

    import _shifts as sh
    from napari_c2w import infer
    from napari_c2w.phantom import generate_phantom

    seen = []

    def fake_segment(volume, models, options):
        data = np.asarray(volume.array, np.float32)
        seen.append(float(data.sum()))
        quality = {"score": 1.0, "flagged": False, "reason": "", "warnings": [], "features": {}}
        return SimpleNamespace(
            labels={"cavity": data > data.mean()}, quality=quality, uncertainty={"score": 0.0}, roi={}
        )

    monkeypatch.setattr(infer, "segment", fake_segment)
    a = generate_phantom(7, spacing=(2.5, 1.25, 1.25), shape=(24, 48, 48)).to_case()
    b = dataclasses.replace(a, case_id="other")  # the same image: only the case differs
    curve = sh.Shift("remap", {"strength": 0.6})
    bench["run"]([("phantom", a)], [sh.Shift("none", {}), curve], None, None)
    full = seen[-1]
    bench["run"]([("phantom", a)], [curve], None, None)
    assert seen[-1] == full, "the same case and shift must give the same copy"
    bench["run"]([("phantom", b)], [curve], None, None)
    assert seen[-1] != full, "another case must get its own curve"


def test_baseline_options_set_any_pipeline_field_and_name_bad_ones(bench):
    import argparse

    ap = argparse.ArgumentParser()
    got = bench["baseline_options"](ap, ["wall_alternate=false", "noise_target=0.04", "threshold=0.4"])
    assert got.wall_alternate is False and got.noise_target == 0.04 and got.threshold == 0.4
    assert got.denoise is True
    for bad in ("wall_alternate=maybe", "no_such_field=1", "denoise"):
        with pytest.raises(SystemExit):
            bench["baseline_options"](ap, [bad])
