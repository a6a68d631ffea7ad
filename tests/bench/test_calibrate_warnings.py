"""benchmarks/calibrate_warnings.py: outcomes per warning, groups, and the cut it suggests."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def cal(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    return runpy.run_path(str(BENCH / "calibrate_warnings.py"))


def row(family, shift, conf, *, cavity=0.9, scar=None, case="c"):
    r = {
        "family": family,
        "case": case,
        "shift": shift,
        "cavity": cavity,
        "features": {"scar_confidence": conf},
    }
    if scar is not None:
        r["scar"] = scar
    return r


def test_outcome_uses_truth_where_there_is_some_and_the_cavity_elsewhere(cal):
    outcome = cal["outcome"]
    assert outcome(row("phantom", "none", 0.7, scar=0.3), "scar_confidence") is True
    assert outcome(row("phantom", "none", 0.7, scar=0.5), "scar_confidence") is False
    assert outcome(row("la2018", "none", 0.7, cavity=0.9), "scar_confidence") is False
    assert outcome(row("la2018", "none", 0.7, cavity=0.6), "scar_confidence") is None  # says nothing


def test_suggested_cut_fires_on_at_most_the_target_share_of_every_groups_good_runs(cal):
    good = np.array([0.45, 0.5, 0.55, 0.6, 0.62, 0.64, 0.66, 0.7, 0.72, 0.8])
    other = np.array([0.7, 0.75, 0.8, 0.85, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    groups = {"real": (good, np.zeros(10, bool)), "phantom": (other, np.zeros(10, bool))}
    cut = cal["suggested_cut"](groups, "scar_confidence", 0.1)
    for values, _ in groups.values():
        assert (values < cut).mean() <= 0.1
    assert cut == 0.45


def test_the_table_warns_of_a_cut_that_fires_on_most_good_runs_and_counts_each_run_once(
    cal, tmp_path, capsys
):
    rows = [row("la2018", "none", c, case=f"r{i}") for i, c in enumerate((0.5, 0.55, 0.6, 0.65))]
    rows += [
        row("phantom", "none", c, scar=s, case=f"p{i}") for i, (c, s) in enumerate(((0.3, 0.1), (0.8, 0.7)))
    ]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows + rows[:2]))  # a second file repeating runs adds nothing
    assert cal["main"]([str(path), "--target", "0.25"]) == 0
    assert "6 runs" in capsys.readouterr().out
    lines = cal["table"](rows, "scar_confidence", {"old": 0.68}, 0.25)
    line = next(ln for ln in lines if ln.startswith("| la2018, unshifted"))
    # the old cut (0.68) warns all 4 good real runs; the suggested one (0.5) none of them
    assert line == "| la2018, unshifted | 4 | 0 | nan | 4 / 0 | 0 / 0 |"
    assert "(0.500)" in lines[1]
