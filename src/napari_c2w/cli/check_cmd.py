"""``napari-c2w check DATASET_OR_CASE``: verify every case store fully; exit 1 on any problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "check",
        help="verify every case store of a dataset (chunks, label grids, attributes)",
        description="Read every <case>.ome.zarr of DATASET fully and list what is wrong: unreadable "
        "or invalid zarr.json, missing chunk files, labels off the image grid or with values other "
        "than 0/1, invalid review status or attributes, and stores an interrupted write left missing. "
        "Exit status 0 when every store is sound, 1 otherwise.",
    )
    p.add_argument(
        "target",
        type=Path,
        metavar="DATASET_OR_CASE",
        help="a dataset folder of <case>.ome.zarr, or one store",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"stores": [{"path", "ok", "problems", "notes"}, ...]} on stdout instead of the list',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..io.verify import verify_dataset

    if not args.target.exists():
        raise InputError(args.target, "does not exist.", "Give a dataset folder or a <case>.ome.zarr store.")
    checks = verify_dataset(args.target)
    bad = [c for c in checks if not c.ok]
    if args.json:
        from .batch import emit_json

        stores = [{"path": str(c.path), "ok": c.ok, "problems": c.problems, "notes": c.notes} for c in checks]
        emit_json({"stores": stores})
    else:
        for c in checks:
            print(f"{'OK  ' if c.ok else 'FAIL'} {c.path.name}")
            for text in c.problems:
                print(f"     problem: {text}")
            for text in c.notes:
                print(f"     note: {text}")
    print(f"check: {len(checks)} store(s), {len(bad)} with problems", file=sys.stderr)
    if not checks:
        print(f"check: {args.target} holds no case stores", file=sys.stderr)
        return 1
    return 1 if bad else 0
