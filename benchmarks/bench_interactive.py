"""Prompt correction benchmark: a simulated annotator corrects the bundled (or given) prediction.

    python benchmarks/bench_interactive.py --data DATASET --structure cavity [--models RUN]
        [--method network random-walker probability] [--below 0.8] [--clicks 10] [--pad 576]
        [--json OUT]

DATASET is a folder of case stores whose ``cavity`` (or ``wall``) label is the reference
(``benchmarks/interactive_cases.py`` builds shifted held-out la2018 cases, other-protocol phantoms
and semi-synthetic real-image walls). Every case is predicted with the models, then corrected
by :class:`napari_c2w.correct.session.CorrectionSession` with one click at a time at the centre of
the largest error region (positive where the label misses, negative where it spills; the CVPR
2025 interactive challenge's rule, ``benchmarks/_clicks.py``); other structures' predictions are
the negatives the product uses. Prints, per method, the mean Dice after 0, 1, 3, 5 and 10
interactions on the cases that start below ``--below``, how many reach 0.90 within 5, seconds
per update (median, max) and the brush baseline: voxels an annotator would paint to reach the
Dice the prompts reached after 5. ``--structure wall`` adds the wall proposed from the reference
cavity (:func:`napari_c2w.correct.propose_wall`) against the reference wall. ``--pad N`` places
each case in an N x N in-plane volume (a full 2018-challenge scan is 88 x 576 x 576) to time
updates at full size. OUT holds ``{"cases": [{"case", "dice": {"0", "1", "3", "5", "10"},
"seconds_per_update"}, ...]}`` for the first method and the same under ``methods`` for each.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clicks import brush_voxels, next_click

STEPS = (0, 1, 3, 5, 10)


def pad_case(image, labels: dict, size: int):
    """The case placed in the middle of a ``size`` x ``size`` in-plane volume (background: the
    image's 1st percentile), so that updates are timed at a full scan's size."""
    from napari_c2w.io.volume import Volume

    a = np.asarray(image.array)
    pads = [(0, 0)] + [
        ((size - n) // 2, size - n - (size - n) // 2) if n < size else (0, 0) for n in a.shape[1:]
    ]
    fill = float(np.percentile(a[:: max(1, a.shape[0] // 8)], 1))
    out = Volume(np.pad(a, pads, constant_values=fill), image.spacing, image.origin, image.direction)
    return out, {k: np.pad(v, pads) for k, v in labels.items()}


def simulate(  # noqa: PLR0917
    session, structure: str, label: np.ndarray, reference: np.ndarray, others: dict, prob, clicks: int
):
    """Dice after every interaction and the seconds of each update."""
    from napari_c2w.metrics import dice

    label = (np.asarray(label) != 0).astype(np.uint8)
    dices, seconds = [dice(label, reference)], []
    for _ in range(clicks):
        prompt = next_click(label, reference, session.spacing)
        if prompt is None:
            dices.append(dices[-1])
            continue
        t0 = time.perf_counter()
        edit = session.prompt(structure, label, prompt, others=others, probability=prob)
        if edit is not None:
            edit.apply(label)
        seconds.append(time.perf_counter() - t0)
        dices.append(dice(label, reference))
    return dices, seconds


def run(args) -> dict:
    from napari_c2w.correct import RefineOptions
    from napari_c2w.correct.session import CorrectionSession
    from napari_c2w.correct.wall import propose_wall
    from napari_c2w.infer import InferenceOptions, load_model_set, segment
    from napari_c2w.io.store import list_case_stores, read_case_store
    from napari_c2w.metrics import dice

    models = load_model_set(args.models or ())
    results: dict = {m: [] for m in args.method}
    proposals = []
    for store in list_case_stores(args.data):
        case = read_case_store(store)
        if args.structure not in case.labels:
            print(f"  {case.case_id}: no {args.structure} label, skipped")
            continue
        image, labels = case.image, dict(case.labels)
        if args.pad:
            image, labels = pad_case(image, labels, args.pad)
        ref = labels[args.structure]
        pred = segment(image, models, InferenceOptions(probabilities=True))
        start = pred.labels[args.structure]
        d0 = dice(start, ref)
        if args.structure == "wall" and "cavity" in labels:
            proposed = propose_wall(image.array, labels["cavity"], image.spacing)
            proposals.append({"case": case.case_id, "proposed_wall_dice": round(dice(proposed, ref), 4)})
        if d0 >= args.below:
            print(f"  {case.case_id}: starts at {d0:.3f} (>= {args.below}), not corrected")
            continue
        others = {s: m for s, m in pred.labels.items() if s not in {args.structure, "scar"}}
        prob = (pred.probabilities or {}).get(args.structure)
        for method in args.method:
            options = RefineOptions(method=method, network_weights=args.prompt_weights)
            session = CorrectionSession(image.array, image.spacing, options=options)
            dices, secs = simulate(session, args.structure, start, ref, others, prob, args.clicks)
            row = {
                "case": case.case_id,
                "dice": {str(k): round(dices[k], 4) for k in STEPS if k < len(dices)},
                "seconds_per_update": round(float(np.mean(secs)), 3) if secs else None,
                "seconds_max": round(float(np.max(secs)), 3) if secs else None,
                "brush_voxels_for_dice_at_5": brush_voxels(start, ref, dices[min(5, len(dices) - 1)]),
                "method_used": sorted({e.get("method") for e in session.provenance if e.get("method")}),
            }
            results[method].append(row)
            print(
                f"  [{method}] {case.case_id}: "
                + " ".join(f"{d:.3f}" for d in dices)
                + f"; {row['seconds_per_update']} s/update",
                flush=True,
            )
    return {"results": results, "proposals": proposals}


def table(results: dict) -> list[str]:
    lines = [
        "| method | cases | Dice at 0 | 1 | 3 | 5 | 10 | >= 0.90 within 5 | s/update median (max) "
        "| brush voxels for Dice at 5 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, rows in results.items():
        if not rows:
            continue
        d = {k: [r["dice"][str(k)] for r in rows if str(k) in r["dice"]] for k in STEPS}
        within5 = sum(any(r["dice"].get(str(k), 0) >= 0.9 for k in (0, 1, 3, 5)) for r in rows)
        secs = [r["seconds_per_update"] for r in rows if r["seconds_per_update"] is not None]
        smax = max((r["seconds_max"] for r in rows if r["seconds_max"] is not None), default=float("nan"))
        brush = np.median([r["brush_voxels_for_dice_at_5"] or 0 for r in rows])
        lines.append(
            f"| {method} | {len(rows)} | "
            + " | ".join(f"{np.mean(d[k]):.3f}" if d[k] else "-" for k in STEPS)
            + f" | {within5} of {len(rows)} | {np.median(secs):.2f} ({smax:.2f}) | {brush:.0f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="a folder of case stores (the reference labels)")
    p.add_argument("--structure", choices=("cavity", "wall"), default="cavity")
    p.add_argument("--models", nargs="*", default=None, help="model folders or files (default: bundled)")
    p.add_argument(
        "--method",
        nargs="+",
        default=["random-walker"],
        choices=("network", "random-walker", "probability"),
    )
    p.add_argument("--prompt-weights", default=None, help="a prompt network (training/prompt_cavity.py)")
    p.add_argument("--below", type=float, default=0.8, help="correct only cases that start below this Dice")
    p.add_argument("--clicks", type=int, default=10)
    p.add_argument("--pad", type=int, default=0, help="place each case in an N x N in-plane volume")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if not args.data.is_dir():
        p.error(f"{args.data} is not a folder of case stores")
    from napari_c2w.models import cpu_features

    t0 = time.perf_counter()
    out = run(args)
    print(
        f"\nCPU: {platform.processor() or platform.machine()}; {cpu_features()}; "
        f"{time.perf_counter() - t0:.0f} s in all"
    )
    print(f"{args.structure}, cases starting below {args.below}:")
    print("\n".join(table(out["results"])))
    if out["proposals"]:
        d = [r["proposed_wall_dice"] for r in out["proposals"]]
        print(
            f"wall proposed from the reference cavity: Dice mean {np.mean(d):.3f} "
            f"(min {np.min(d):.3f}, n {len(d)})"
        )
    if args.json:
        first = out["results"][args.method[0]]
        doc = {"cases": first, "methods": {m: {"cases": r} for m, r in out["results"].items()}}
        if out["proposals"]:
            doc["wall_proposals"] = out["proposals"]
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
