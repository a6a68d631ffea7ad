"""benchmarks/adapt_quality.py: Dice and quality AUROC of an adapt run's bundled and adapted models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_c2w.io.store import store_path
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.phantom import generate_phantom
from testutils import benchmark_module


def _store(folder, case, cavity):
    one = case.__class__(**{**case.__dict__, "labels": {"cavity": cavity.astype(np.uint8)}})
    write_case_store(one, store_path(folder, case.case_id))


@pytest.fixture
def run(tmp_path):
    """Four scans: the bundled model fails on the last two (three quarters of their cavity missing), the
    adapted one repairs the third; the quality scores rank the failures first."""
    truth, run = tmp_path / "truth", tmp_path / "run"
    cases = []
    for k in range(4):
        case = generate_phantom(k, shape=(16, 40, 40)).to_case()
        case.case_id = f"s{k}"
        cavity = case.labels["cavity"] > 0
        half = np.zeros_like(cavity)  # a quarter of the cavity: Dice 0.4
        idx = np.flatnonzero(cavity)
        half.flat[idx[: len(idx) // 4]] = True
        _store(truth, case, cavity)
        _store(run / "rounds/1/predictions", case, half if k >= 2 else cavity)
        if k == 2:
            _store(run / "final/predictions", case, cavity)
        cases.append(
            {
                "case": case.case_id,
                "bundled": {"score": [0.1, 0.2, 0.7, 0.8][k]},
                "adapted": {"score": [0.1, 0.2, 0.15, 0.8][k]},
                "use": "adapted" if k == 2 else "bundled",
            }
        )
    run.mkdir(exist_ok=True)
    (run / "adapt.json").write_text(json.dumps({"cases": cases}))
    return run, truth


def test_adapt_quality_counts_failures_and_ranks_them(run):
    aq = benchmark_module("adapt_quality")
    rows = aq.quality_rows(*run)
    result = aq.summary(rows)
    assert result["bundled"]["failures"] == 2 and result["bundled"]["auroc"] == 1.0
    assert result["adapted"]["failures"] == 1 and result["adapted"]["auroc"] == 1.0
    assert rows[2]["adapted"]["dice"] == 1.0 and rows[3]["adapted"]["dice"] < 0.8  # not adapted: bundled
    rows[3]["adapted"]["score"] = 0.0  # the failure ranked last: the score misses it
    assert aq.summary(rows)["adapted"]["auroc"] == 0.0


def test_adapt_quality_cli_writes_json(run, tmp_path, capsys):
    aq = benchmark_module("adapt_quality")
    out = tmp_path / "q.json"
    assert aq.main([str(run[0]), str(run[1]), "--json", str(out)]) == 0
    assert "| adapted |" in capsys.readouterr().out
    assert json.loads(out.read_text())["summary"]["bundled"]["cases"] == 4
