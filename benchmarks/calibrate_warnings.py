"""How often each quality warning fires on good and on failed runs, and a cut that fires on few good ones.

    python benchmarks/bench_robustness.py --cases 10 --semisynth 4 --phantoms 4 --phantoms-other 4 \
        --shifts none "remap" tissues --json rows.json
    python benchmarks/calibrate_warnings.py rows.json [more.json ...] [--target 0.1]

A warning nobody can act on is a warning nobody reads: one that fires on most scans is ignored.
For each warning of :mod:`napari_c2w.infer.quality` this prints, per family and shift group
(unshifted, shifted), how many *good* runs it fires on and how many *failed* ones it catches,
at today's cut and, where that fires on more than ``--target`` of a group's good runs, at the cut
that fires on at most ``--target`` of the good runs of every group.

Good and failed, per warning:

- ``scar_confidence``: runs with scar truth (phantoms, semi-synthetic copies of real cases) fail
  below scar Dice 0.4. Real scans have no scar truth: a run counts as good where its cavity is
  (Dice >= 0.85), as the team counted the 20 held-out challenge scans the warning fired on.
- ``wall_coverage``: runs with wall truth fail below wall Dice 0.5; a real scan is good where its
  cavity is.
- ``noise``, ``scar_depth``: good where the cavity is (>= 0.85).

The suggested cut of a low-is-bad feature is the ``--target`` quantile of its values on the good
runs of the group where they are lowest, so that no group's good runs are warned more often than that.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_robustness import auroc

#: warning -> (the row's truth key, Dice below which that truth counts as failed)
TRUTH = {"scar_confidence": ("scar", 0.4), "wall_coverage": ("wall", 0.5)}
#: Where a run has no truth for the warning's structure, it is good when its cavity is.
GOOD_CAVITY = 0.85
#: The warnings whose feature is bad when low (the others are bad when high).
LOW_IS_BAD = ("scar_confidence", "wall_coverage")


def outcome(row: dict, warning: str) -> bool | None:
    """True for a failed run, False for a good one, None where the run says neither."""
    key, below = TRUTH.get(warning, (None, None))
    if key is not None and row.get(key) is not None:
        return bool(row[key] < below)
    cavity = row.get("cavity")
    if cavity is None or not math.isfinite(cavity):
        return None
    return False if cavity >= GOOD_CAVITY else None


def group_of(row: dict) -> str:
    return f"{row.get('family', '?')}, {'unshifted' if row.get('shift') == 'none' else 'shifted'}"


def fires(values: np.ndarray, cut: float, warning: str) -> np.ndarray:
    return values < cut if warning in LOW_IS_BAD else values > cut


def suggested_cut(groups: dict[str, tuple[np.ndarray, np.ndarray]], warning: str, target: float) -> float:
    """The cut that fires on at most ``target`` of the good runs of every group."""
    cuts = []
    for values, failed in groups.values():
        good = values[~failed]
        if len(good):
            q = target if warning in LOW_IS_BAD else 1 - target
            cuts.append(float(np.quantile(good, q, method="lower")))
    if not cuts:
        return math.nan
    return min(cuts) if warning in LOW_IS_BAD else max(cuts)


def table(rows: list[dict], warning: str, cuts: dict[str, float], target: float) -> list[str]:
    """The warning's rates per group at each of ``cuts`` (name -> cut), and the suggested cut."""
    groups: dict[str, tuple[list, list]] = {}
    for r in rows:
        value = (r.get("features") or {}).get(warning)
        failed = outcome(r, warning)
        if value is None or failed is None or not math.isfinite(value):
            continue
        vals, fails = groups.setdefault(group_of(r), ([], []))
        vals.append(float(value))
        fails.append(failed)
    arrays = {g: (np.array(v), np.array(f, bool)) for g, (v, f) in sorted(groups.items())}
    if not arrays:
        return [f"{warning}: no run has the feature and an outcome"]
    too_often = any(
        fires(values[~failed], cut, warning).mean() > target
        for cut in cuts.values()
        for values, failed in arrays.values()
        if (~failed).any()
    )
    if too_often:  # a cut that fires on few good runs of any group, to set beside today's
        cuts = {**cuts, f"<= {target:.0%} of good runs": suggested_cut(arrays, warning, target)}
    head = "| group | good | failed | AUROC | " + " | ".join(
        f"{name} ({cut:.3f}): good warned / failed caught" for name, cut in cuts.items()
    )
    lines = [f"{warning}:", head + " |", "|" + "---|" * (4 + len(cuts))]
    for g, (values, failed) in arrays.items():
        score = -values if warning in LOW_IS_BAD else values
        cells = []
        for cut in cuts.values():
            warned = fires(values, cut, warning)
            cells.append(f"{int(warned[~failed].sum())} / {int(warned[failed].sum())}")
        lines.append(
            f"| {g} | {int((~failed).sum())} | {int(failed.sum())} | {auroc(failed, score):.3f} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def current_cuts() -> dict[str, float]:
    """Each warning's cut today: where its ramp reaches the warning level."""
    from napari_c2w.infer.quality import RAMPS, WARN_AT

    out = {}
    for name in ("scar_confidence", "wall_coverage", "noise", "scar_depth"):
        start, end = RAMPS[name]
        out[name] = start + WARN_AT * (end - start)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", type=Path, nargs="+", help="bench_robustness.py --json files")
    ap.add_argument("--target", type=float, default=0.1, help="the most good runs a warning may fire on")
    args = ap.parse_args(argv)
    rows, seen = [], set()
    for path in args.rows:
        for r in json.loads(path.read_text()):
            key = (r.get("family"), r.get("case"), r.get("shift"))
            if key not in seen:  # a run repeated in another file counts once
                seen.add(key)
                rows.append(r)
    print(f"{len(rows)} runs from {', '.join(map(str, args.rows))}")
    for warning, cut in current_cuts().items():
        print()
        print("\n".join(table(rows, warning, {"today": cut}, args.target)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
