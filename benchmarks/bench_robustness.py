"""Protocol-shift benchmark: the bundled (or given) models on shifted copies of held-out cases.

    python benchmarks/bench_robustness.py [--cases 10] [--models DIR] [--shifts NAME ...]
                                          [--json out.json]

Cases: the 10 last la2018 case ids (sorted), which ``training/bundled.sh`` holds out, read
straight from ``../shared/data/la2018/train``. Each is shifted by every entry of
``napari_c2w.shifts.BENCHMARK`` (slice thickness 1.25/2.5/4 mm, crops of the atrium box
+5/0/-3 mm, a 60 mm wider field of view, float range, gamma 0.6/1.6, bias field, noise, RAS and
permuted axis orders) and by their combination (2.5 mm + tight crop + float 0-330, like the
external cohort of issue #11). Prints cavity Dice, HD95 and failures (Dice < 0.7) per shift, and
how well the pipeline's quality score finds the bad cases (AUROC for cavity Dice < 0.8, and
the same for the entropy score it replaces), with the time per case.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LA2018 = REPO.parent / "shared" / "data" / "la2018" / "train"


def auroc(bad: np.ndarray, score: np.ndarray) -> float:
    """Probability that a bad case scores higher than a good one (ties count half)."""
    pos, neg = score[bad], score[~bad]
    if not len(pos) or not len(neg):
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def run(cases: list[Path], shift_sets, models, options) -> list[dict]:
    from napari_c2w import shifts as sh
    from napari_c2w.infer import segment
    from napari_c2w.io.layouts import read_case_folder
    from napari_c2w.review import compare_masks

    rows = []
    for folder in cases:
        case = read_case_folder(folder)
        labels = {"cavity": np.asarray(case.labels["cavity"], np.uint8)}
        for i, shifts in enumerate(shift_sets):
            name = sh.name(shifts)
            try:
                volume, ref = sh.apply(shifts, case.image, labels, seed=i)
            except ValueError as err:
                print(f"  {case.case_id} {name}: skipped ({err})")
                continue
            t0 = time.perf_counter()
            pred = segment(volume, models, options)
            seconds = time.perf_counter() - t0
            m = compare_masks(pred.labels["cavity"], ref["cavity"] > 0, volume.spacing)
            row = {
                "case": case.case_id,
                "shift": name,
                "dice": m["dice"],
                "hd95_mm": m["hd95_mm"],
                "seconds": seconds,
                "quality": pred.quality["score"],
                "flagged": pred.quality["flagged"],
                "reason": pred.quality["reason"],
                "entropy": pred.uncertainty["score"],
                "features": pred.quality["features"],
            }
            rows.append(row)
            print(
                f"  {case.case_id} {name}: cavity Dice {row['dice']:.3f}, quality {row['quality']:.2f}"
                f" ({row['reason'] or 'ok'}), {seconds:.1f} s",
                flush=True,
            )
    return rows


def report(rows: list[dict]) -> list[str]:
    lines = [
        "| shift | n | cavity Dice mean | min | HD95 mm | failures (< 0.7) | flagged |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["shift"] for r in rows):
        sel = [r for r in rows if r["shift"] == name]
        d = np.array([r["dice"] for r in sel], float)
        h = np.array([r["hd95_mm"] for r in sel], float)
        lines.append(
            f"| {name} | {len(sel)} | {np.nanmean(d):.3f} | {np.nanmin(d):.3f} | {np.nanmean(h):.2f} "
            f"| {int((d < 0.7).sum())} | {sum(r['flagged'] for r in sel)} |"
        )
    d = np.array([r["dice"] for r in rows], float)
    bad = np.nan_to_num(d, nan=0.0) < 0.8
    q = np.array([r["quality"] for r in rows], float)
    e = np.array([r["entropy"] for r in rows], float)
    lines += [
        "",
        f"all: {len(rows)} runs, cavity Dice {np.nanmean(d):.3f}, {int(bad.sum())} with Dice < 0.8",
        f"failure detection (Dice < 0.8): AUROC quality score {auroc(bad, q):.3f}, "
        f"entropy score {auroc(bad, e):.3f}; flagged {sum(r['flagged'] for r in rows)} "
        f"(of them bad: {int(sum(r['flagged'] and b for r, b in zip(rows, bad, strict=True)))})",
    ]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10, help="how many of the 10 held-out la2018 cases")
    ap.add_argument("--la2018", type=Path, default=LA2018, help="the la2018 train folder")
    ap.add_argument("--models", type=Path, action="append", default=[], help="model folder(s) or run(s)")
    ap.add_argument("--shifts", nargs="*", help="only shifts whose name starts with these")
    ap.add_argument("--json", type=Path, help="write every row here")
    args = ap.parse_args()
    if not args.la2018.is_dir():
        print(f"{args.la2018} is missing: the benchmark needs the la2018 cases")
        return 1
    from napari_c2w import shifts as sh
    from napari_c2w.infer import InferenceOptions, load_model_set
    from napari_c2w.models import set_threads

    set_threads()
    cases = sorted(p for p in args.la2018.iterdir() if p.is_dir())[-10:][: args.cases]
    sets = [*sh.BENCHMARK, sh.COMBINED]
    if args.shifts:
        sets = [s for s in sets if any(sh.name(s).startswith(w) for w in args.shifts)]
    models = load_model_set(args.models)
    t0 = time.perf_counter()
    rows = run(cases, sets, models, InferenceOptions())
    lines = report(rows)
    print("\n" + "\n".join(lines))
    print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=lambda v: None if math.isnan(v) else v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
