"""Accuracy of a model set (default: the bundled weights) on held-out cases, through the whole
pipeline (localise, ROI, cavity -> wall -> scar, back to the input grid).

    python benchmarks/bench_accuracy.py [--models DIR] [--la2018 data/la2018-test]
                                        [--phantoms data/phantoms-test] [--json out.json]

The held-out sets are the ones ``training/bundled.sh`` builds and never trains on: the 10 last
la2018 case ids (sorted) and the phantoms of seeds 1000-1009. Prints Dice, surface Dice at
1 mm, HD95 and ASSD (mm) as mean ± sd per structure, and the pipeline time per case.

Targets (issue #4): cavity Dice >= 0.90 on held-out la2018 cases; on held-out phantoms
cavity >= 0.90, wall >= 0.75, scar >= 0.55.
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
METRICS = ("dice", "surface_dice", "hd95_mm", "assd_mm")


def evaluate(stores: list[Path], models, options) -> list[dict]:
    from napari_c2w.infer import segment
    from napari_c2w.io.store import read_case_store
    from napari_c2w.metrics import compare_masks

    rows = []
    for store in stores:
        case = read_case_store(store)
        t0 = time.perf_counter()
        pred = segment(case.image, models, options)
        seconds = time.perf_counter() - t0
        for structure, reference in case.labels.items():
            if structure in pred.labels:
                scores = compare_masks(pred.labels[structure], reference, case.image.spacing)
                rows.append(
                    {
                        "case": case.case_id,
                        "structure": structure,
                        "seconds": seconds,
                        **{k: scores[k] for k in METRICS},
                    }
                )
        cropped = ", ".join(pred.roi["stage_boxes_in_roi"]) or "none"
        print(
            f"  {case.case_id}: "
            + ", ".join(f"{r['structure']} {r['dice']:.3f}" for r in rows if r["case"] == case.case_id)
            + f" (stages run on a crop of the ROI: {cropped})",
            flush=True,
        )
    return rows


def table(name: str, rows: list[dict]) -> list[str]:
    lines = [
        f"{name}:",
        "| structure | n | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for structure in ("cavity", "wall", "scar"):
        sel = [r for r in rows if r["structure"] == structure]
        if not sel:
            continue
        cells = []
        for key in METRICS:
            values = np.array([r[key] for r in sel], float)
            values = values[~np.isnan(values)]
            cells.append(f"{values.mean():.3f} ± {values.std():.3f}" if values.size else "n/a")
        lines.append(f"| {structure} | {len(sel)} | " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, action="append", default=[])
    ap.add_argument("--la2018", type=Path, default=REPO / "data" / "la2018-test")
    ap.add_argument("--phantoms", type=Path, default=REPO / "data" / "phantoms-test")
    ap.add_argument("--fp32", action="store_true", help="no mixed precision")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from napari_c2w.infer import InferenceOptions, load_model_set
    from napari_c2w.io.store import list_case_stores
    from napari_c2w.models import set_threads

    set_threads()
    models = load_model_set(args.models)
    options = InferenceOptions(device="auto", amp=not args.fp32)
    print("models: " + ", ".join(f"{s}: {m.describe()['file']}" for s, m in models.items()))
    results, lines = {}, []
    for name, folder in (("la2018 held-out", args.la2018), ("phantoms held-out", args.phantoms)):
        if not folder.is_dir():
            print(f"{folder} is missing: run training/bundled.sh (it builds the held-out sets); skipped")
            continue
        print(f"{name} ({folder}):")
        rows = evaluate(list_case_stores(folder), models, options)
        results[name] = rows
        lines += [*table(name, rows), ""]
    seconds = [r["seconds"] for rows in results.values() for r in rows]
    print("\n" + "\n".join(lines))
    if seconds:
        print(f"pipeline: {np.mean(seconds):.1f} s per case on average")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=lambda v: None if math.isnan(v) else v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
