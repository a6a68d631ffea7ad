"""Bundled against adapted, per case, and which of them ``predict`` uses (pure).

Adaptation must never make a site worse silently. Without labels the evidence is the quality
record of each model's prediction and how far the two agree: the adapted model is used for a
case unless its prediction looks worse than the bundled one's (flagged where the bundled one is
not, or a quality score worse by more than :data:`MARGIN`).
"""

from __future__ import annotations

import numpy as np

from ..metrics import dice

#: How much worse (higher) the adapted prediction's quality score may be before the case keeps
#: the bundled model. Scores of good cavities move by a few hundredths between runs of the
#: contrast check; a larger step is a change the checks see.
MARGIN = 0.1


def choose(bundled: dict, adapted: dict, margin: float = MARGIN) -> tuple[str, str]:
    """``("adapted" | "bundled", why)`` from the two quality records."""
    b, a = bundled.get("score"), adapted.get("score")
    if a is None:
        return "bundled", "the adapted prediction has no quality record"
    if b is None:
        return "adapted", "the bundled prediction has no quality record"
    if adapted.get("flagged") and not bundled.get("flagged"):
        return "bundled", f"the adapted cavity is flagged ({adapted.get('reason')}), the bundled one is not"
    if a > b + margin:
        return "bundled", f"the adapted cavity's quality score is worse ({a:.2f} against {b:.2f})"
    if a < b - margin:
        return "adapted", f"the adapted cavity's quality score is better ({a:.2f} against {b:.2f})"
    return "adapted", f"the quality scores are alike ({a:.2f} against {b:.2f})"


def quality_summary(record: dict) -> dict:
    """What ``adapt.json`` keeps of a quality record: score, flag, reason and wall coverage."""
    feats = record.get("features") or {}
    return {
        "score": record.get("score"),
        "flagged": record.get("flagged"),
        "reason": record.get("reason"),
        "wall_coverage": feats.get("wall_coverage"),
    }


def case_row(case_id: str, bundled: dict, adapted: dict, structures=("cavity", "wall", "scar")) -> dict:
    """One case's comparison.

    Args:
        case_id: the case.
        bundled, adapted: ``{"labels": {structure: mask}, "quality": record}`` of each prediction.
        structures: the structures whose agreement is reported.

    Returns:
        The row ``adapt.json`` records: both quality scores and flags, both wall coverages, the
        Dice agreement per structure, the model used and why.
    """
    use, why = choose(bundled["quality"], adapted["quality"])
    agreement = {}
    for s in structures:
        x, y = bundled["labels"].get(s), adapted["labels"].get(s)
        if x is not None and y is not None:
            agreement[s] = round(float(dice(np.asarray(x) > 0, np.asarray(y) > 0)), 4)

    return {
        "case": case_id,
        "bundled": quality_summary(bundled["quality"]),
        "adapted": quality_summary(adapted["quality"]),
        "agreement": agreement,
        "use": use,
        "why": why,
    }
