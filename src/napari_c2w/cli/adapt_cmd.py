"""``napari-c2w adapt DATASET -o RUN``: adapt the models to a site's own scans, without labels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "adapt",
        help="adapt the bundled models to a site's own unlabelled scans (self-training)",
        description="Segment every scan of DATASET with the bundled models, keep the predictions the "
        "quality checks pass as pseudo-labels, fine-tune on them (with the package's phantoms and a "
        "distillation term towards the bundled network), segment again, and compare per case. RUN "
        "becomes a model folder for `napari-c2w predict --models RUN` and `napari-c2w-train --from RUN`; "
        "RUN/adapt.json records which cases served, their quality, and which model predict uses for "
        "each case (the bundled one where the adapted prediction looks worse).",
    )
    p.add_argument("dataset", type=Path, nargs="+", metavar="DATASET", help="case stores or image files")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="RUN", help="a new run folder")
    p.add_argument(
        "--stages",
        nargs="+",
        default=["cavity"],
        choices=["cavity", "wall"],
        help="the stages to adapt (default cavity; wall learns from walls covering >= 45%% of the cavity)",
    )
    p.add_argument("--rounds", type=int, default=1, help="self-training rounds (default 1)")
    p.add_argument("--iterations", type=int, default=300, help="training iterations per stage and round")
    p.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default 1e-4)")
    p.add_argument("--distill", type=float, default=1.0, help="weight of the distillation term (0: none)")
    p.add_argument("--phantoms", type=int, default=6, help="phantoms trained on beside the scans")
    p.add_argument(
        "--max-score",
        type=float,
        default=0.2,
        help="a prediction serves as a pseudo-label below this quality score (0 best, 0.35 flags)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--seed", type=int, default=0, help="training and phantom seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..adapt import AdaptOptions, Gate, adapt

    options = AdaptOptions(
        stages=tuple(args.stages),
        rounds=args.rounds,
        iterations=args.iterations,
        lr=args.lr,
        distill=args.distill,
        phantoms=args.phantoms,
        gate=Gate(cavity_score_below=args.max_score),
        device=args.device,
        seed=args.seed,
    )

    def progress(fraction: float, message: str) -> None:
        print(f"adapt: {fraction:4.0%} {message}", file=sys.stderr, flush=True)

    record = adapt(list(args.dataset), args.output, options, progress=progress)
    for entry in record["rounds"]:
        for stage, served in entry["served"].items():
            print(
                f"round {entry['round']} {stage}: {len(served)} of {len(record['scans'])} scans served",
                file=sys.stderr,
            )
        for stage, why in entry.get("skipped", {}).items():
            print(f"round {entry['round']} {stage}: not adapted: {why}", file=sys.stderr)
    kept = [row["case"] for row in record["cases"] if row["use"] == "bundled"]
    print(
        f"adapt: {', '.join(record['adapted']) or 'nothing'} adapted in {record['minutes']} min; "
        f"{len(kept)} case(s) keep the bundled model: {', '.join(kept) or 'none'}",
        file=sys.stderr,
    )
    print(Path(args.output))
    return 0
