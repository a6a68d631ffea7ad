"""The ablation studies (benchmarks/ablation_*.py) run end to end in their --quick form."""

from __future__ import annotations

import json
import math
import runpy
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "kind", "variants"),
    [
        ("ablation_wall.py", "wall", "a-scratch,b-c2w-tune,c-rand-prog"),
        ("ablation_scar.py", "scar", "III,I+II+III"),
    ],
)
def test_quick_study_trains_evaluates_and_reports(tmp_path, monkeypatch, script, kind, variants):
    out = tmp_path / "study"
    argv = [script, "--quick", "--out", str(out), "--la2018", str(tmp_path / "none"), "--variants", variants]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.syspath_prepend(str(BENCH))
    runpy.run_path(str(BENCH / script), run_name="__main__")

    summary = json.loads((out / "summary.json").read_text())
    rows = summary[kind]
    assert {r["variant"] for r in rows} == set(variants.split(","))
    assert all(0.0 <= r["dice"] <= 1.0 for r in rows if not math.isnan(r["dice"]))
    assert summary["pretrain"], "the cavity prior was trained and tested"
    assert (out / f"ablation_{kind}.png").stat().st_size > 0
    assert "Paired tests" in (out / "summary.md").read_text()

    # --report re-tabulates the saved results into the same tables
    before = (out / "summary.md").read_text()
    monkeypatch.setattr(sys, "argv", [script, "--report", str(out)])
    runpy.run_path(str(BENCH / script), run_name="__main__")
    assert (out / "summary.md").read_text() == before
