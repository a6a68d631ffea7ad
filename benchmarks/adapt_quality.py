"""How well the quality score ranks failures before and after ``napari-c2w adapt``.

    python benchmarks/adapt_quality.py RUN TRUTH [--below 0.8] [--json OUT]

RUN is the output folder of ``napari-c2w adapt`` (its ``adapt.json``, the bundled models'
predictions in ``rounds/1/predictions`` and the adapted ones in ``final/predictions``); TRUTH is a
folder of case stores whose ``cavity`` label is the reference, one per scan the run saw (e.g. a
shifted site made by ``bench_adaptation.py``, or a site's corrected cases). Per model: the cavity
Dice of every case, how many fall below ``--below``, and the AUROC of the run's quality score for
those failures (the issue's target: >= 0.9 after adaptation). Reads stores only; runs no network.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_robustness import auroc  # the benchmarks' one AUROC

MODELS = {"bundled": "rounds/1/predictions", "adapted": "final/predictions"}


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    p, r = pred > 0, ref > 0
    return float(2 * (p & r).sum() / max(p.sum() + r.sum(), 1))


def quality_rows(run: Path, truth: Path) -> list[dict]:
    """One row a case: per model, its cavity Dice against the truth and its quality score."""
    from napari_c2w.io.store import read_case_store, store_path

    record = json.loads((run / "adapt.json").read_text())
    rows = []
    for case in record["cases"]:
        ref = read_case_store(store_path(truth, case["case"])).labels["cavity"]
        row = {"case": case["case"], "use": case.get("use")}
        for model, folder in MODELS.items():
            stored = store_path(run / folder, case["case"])
            if not stored.exists():  # not adapted: the bundled prediction is the one predict uses
                stored = store_path(run / MODELS["bundled"], case["case"])
            quality = case.get(model) if isinstance(case.get(model), dict) else case["bundled"]
            row[model] = {
                "dice": dice(read_case_store(stored).labels["cavity"], ref),
                "score": float(quality["score"]),
            }
        rows.append(row)
    return rows


def summary(rows: list[dict], below: float = 0.8) -> dict:
    """Per model: mean Dice, failures (Dice < ``below``) and the quality score's AUROC for them."""
    out = {}
    for model in MODELS:
        d = np.array([r[model]["dice"] for r in rows])
        s = np.array([r[model]["score"] for r in rows])
        out[model] = {
            "mean_dice": float(d.mean()),
            "failures": int((d < below).sum()),
            "cases": len(d),
            "auroc": auroc(d < below, s),
        }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("truth", type=Path)
    ap.add_argument("--below", type=float, default=0.8, help="a cavity Dice below this is a failure")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows = quality_rows(args.run, args.truth)
    result = summary(rows, args.below)
    print(f"| model | cavity Dice, mean | below {args.below} | quality AUROC |")
    print("|---|---|---|---|")
    for model, r in result.items():
        print(f"| {model} | {r['mean_dice']:.3f} | {r['failures']} of {r['cases']} | {r['auroc']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
