"""``napari-c2w export DATASET_OR_CASE --format FORMAT -o OUT``: case stores as other tools' files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.case import REVIEW_STATUSES
from ..io.export import FORMATS, PRECEDENCE
from .batch import run_batch
from .review_cmd import find_stores


def parse_structures(text: str) -> tuple[str, ...]:
    """``"cavity,scar"`` -> ``("cavity", "scar")`` (an argparse type)."""
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in names if s not in PRECEDENCE]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give structures from {', '.join(PRECEDENCE)}, separated by commas"
        )
    return names


def add_parser(sub) -> None:
    formats = "\n".join(f"  {name}: {FORMATS.help(name)}" for name in FORMATS)
    p = sub.add_parser(
        "export",
        help="write case stores as NIfTI/NRRD label maps, 3D Slicer segmentations or an nnU-Net dataset",
        description="Export every case store of a dataset (or one store) for other tools. Multi-label "
        "maps hold 0 background, 1 cavity, 2 wall, 3 scar; where structures overlap the later one "
        "wins (cavity < wall < scar) and OUT/label_map.json counts the voxels each overlap took. "
        "3D Slicer segmentations keep overlaps exactly.\n\nformats:\n" + formats,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", type=Path, metavar="DATASET_OR_CASE", help="a dataset folder or one case store")
    p.add_argument("--format", required=True, choices=list(FORMATS), help="what to write (see above)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="folder to write into")
    p.add_argument(
        "--structures",
        type=parse_structures,
        default=PRECEDENCE,
        metavar="LIST",
        help="structures to export, comma-separated (default: cavity,wall,scar)",
    )
    p.add_argument(
        "--status",
        choices=REVIEW_STATUSES,
        action="append",
        help="export only cases with this review status (repeatable; default: all cases)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files that exist in OUT (run an interrupted export again with it to finish it)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io.export import check_unique_ids, export_format
    from ..io.store import read_case_store

    writer = export_format(args.format, args.output, args.structures)
    stores = find_stores(args.target)
    _refuse_duplicate_ids(stores, args.status)
    exported, skipped = [], []
    sources: dict[str, str] = {}

    def work(path: Path) -> None:
        case = read_case_store(path)
        if args.status and case.status not in args.status:
            skipped.append(case.case_id)
            return
        check_unique_ids(sources, case.case_id, str(path))
        exported.append(writer.write_case(case, args.output, args.structures, args.overwrite))

    code = run_batch(stores, work, desc="export", name=lambda p: p.name)
    if skipped:
        print(f"export: {len(skipped)} case(s) left out by --status: {', '.join(skipped)}", file=sys.stderr)
    if exported:
        for path in [f for e in exported for f in e.files] + writer.finish(
            args.output, exported, args.structures
        ):
            print(path)  # data on stdout, status on stderr
    return code


def _refuse_duplicate_ids(stores: list[Path], statuses: list[str] | None) -> None:
    """Refuse, before anything is written, two stores exported under one case id (read from
    their attributes; a store that cannot be read fails later, in the batch, by name)."""
    from ..io.export import check_unique_ids
    from ..io.store import STORE_SUFFIX, read_store_attrs

    seen: dict[str, str] = {}
    for path in stores:
        try:
            attrs = read_store_attrs(path)
        except Exception:  # a damaged store: the batch reports it by name
            continue
        if statuses and attrs.get("status", "unreviewed") not in statuses:
            continue
        check_unique_ids(seen, str(attrs.get("case_id", path.name.removesuffix(STORE_SUFFIX))), str(path))
