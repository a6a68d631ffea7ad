"""Which predictions teach the adapted model, and which model a case keeps (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.adapt.compare import MARGIN, case_row, choose
from napari_c2w.adapt.select import Gate, chosen, serves


def _q(score, coverage=0.6, flagged=None, reason="contrast_agreement"):
    return {
        "score": score,
        "flagged": score >= 0.35 if flagged is None else flagged,
        "reason": reason,
        "features": {"wall_coverage": coverage},
    }


def test_only_cavities_well_below_the_flag_serve_and_walls_need_coverage():
    gate = Gate(cavity_score_below=0.2, wall_coverage_at_least=0.45)
    reasons = {
        "good": serves(_q(0.06, 0.62), gate),
        "thin-wall": serves(_q(0.10, 0.30), gate),
        "plausible-but-doubtful": serves(_q(0.28), gate),  # not flagged, still not taught
        "flagged": serves(_q(0.9), gate),
        "none": serves({}, gate),
    }
    assert chosen(reasons, "cavity") == ["good", "thin-wall"]
    assert chosen(reasons, "wall") == ["good"]
    assert "0.28" in reasons["plausible-but-doubtful"]["cavity"]
    assert "30%" in reasons["thin-wall"]["wall"]
    assert reasons["none"]["cavity"] == "no quality record"


def test_a_gate_looser_than_the_flag_is_refused():
    with pytest.raises(ValueError, match="cavity_score_below"):
        Gate(cavity_score_below=0.5)


@pytest.mark.parametrize(
    ("bundled", "adapted", "use"),
    [
        (_q(0.10), _q(0.08), "adapted"),  # alike
        (_q(0.60), _q(0.10), "adapted"),  # the failure it was meant to fix
        (_q(0.10), _q(0.10 + MARGIN + 0.05), "bundled"),  # worse by more than the margin
        (_q(0.30), _q(0.36), "bundled"),  # flagged only after adaptation
        (_q(0.50), _q(0.55), "adapted"),  # both flagged, alike
    ],
)
def test_a_case_keeps_the_bundled_model_where_adaptation_made_it_look_worse(bundled, adapted, use):
    assert choose(bundled, adapted)[0] == use


def test_the_case_row_reports_agreement_per_structure():
    a = np.zeros((4, 8, 8), np.uint8)
    a[1:3, 2:6, 2:6] = 1
    b = a.copy()
    b[1:3, 2:6, 2:4] = 0  # half of it
    row = case_row(
        "c1", {"labels": {"cavity": a}, "quality": _q(0.1)}, {"labels": {"cavity": b}, "quality": _q(0.1)}
    )
    assert row["agreement"] == {"cavity": pytest.approx(2 * 16 / 48, abs=1e-4)}
    assert row["use"] == "adapted" and row["bundled"]["score"] == 0.1
