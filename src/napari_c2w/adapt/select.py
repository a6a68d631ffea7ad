"""Which of a site's own predictions may teach the model: the quality record decides (pure).

Self-training learns whatever its pseudo-labels say, errors included, so only predictions that
pass the pipeline's checks serve (:mod:`napari_c2w.infer.quality`): a cavity whose case score is
well below the flag (the checks ranked failed cavities first at AUROC 0.95 on a real external
cohort), and a wall only where it also covers enough of that cavity's surface.
"""

from __future__ import annotations

import dataclasses

from ..infer.quality import FLAG_AT


@dataclasses.dataclass(frozen=True)
class Gate:
    """How good a prediction must look to serve as a pseudo-label.

    Attributes:
        cavity_score_below: the case's quality score (0 best; :data:`FLAG_AT` flags) must be
            below this for its cavity to serve; stricter than the flag, since a pseudo-label that
            is merely not implausible still teaches its errors.
        wall_coverage_at_least: a wall serves where its cavity serves and it covers at least
            this share of the cavity's surface (the quality record's ``wall_coverage``).
    """

    cavity_score_below: float = 0.2
    wall_coverage_at_least: float = 0.45

    def __post_init__(self) -> None:
        if not 0 < self.cavity_score_below <= FLAG_AT:
            raise ValueError(f"cavity_score_below must be in (0, {FLAG_AT}], not {self.cavity_score_below}")
        if not 0 <= self.wall_coverage_at_least <= 1:
            raise ValueError(f"wall_coverage_at_least must be in [0, 1], not {self.wall_coverage_at_least}")


def serves(quality: dict, gate: Gate) -> dict[str, str]:
    """Per structure, why a case's prediction serves as a pseudo-label or not.

    Args:
        quality: the case's quality record (:func:`napari_c2w.infer.quality.assess`).
        gate: the thresholds.

    Returns:
        ``{"cavity": reason, "wall": reason}``; a reason starting with ``"serves"`` means it does.
    """
    score = quality.get("score")
    if score is None:
        return {"cavity": "no quality record", "wall": "no quality record"}
    if score >= gate.cavity_score_below:
        why = f"quality score {score:.2f} >= {gate.cavity_score_below} ({quality.get('reason') or 'checks'})"
        return {"cavity": why, "wall": "its cavity does not serve"}
    out = {"cavity": f"serves (quality score {score:.2f})"}
    coverage = (quality.get("features") or {}).get("wall_coverage")
    if coverage is None:
        out["wall"] = "no wall predicted"
    elif coverage < gate.wall_coverage_at_least:
        out["wall"] = f"covers {coverage:.0%} of the cavity's surface (< {gate.wall_coverage_at_least:.0%})"
    else:
        out["wall"] = f"serves (covers {coverage:.0%} of the cavity's surface)"
    return out


def chosen(reasons: dict[str, dict[str, str]], structure: str) -> list[str]:
    """The case ids whose ``structure`` serves, sorted."""
    return sorted(case for case, why in reasons.items() if why.get(structure, "").startswith("serves"))
