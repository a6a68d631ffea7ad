"""``napari-c2w review CASE|DATASET [--clean [--dry-run]] [--inner-mm MM] [--outer-mm MM] [--min-size N]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from . import band_options
from .batch import run_batch


def find_stores(target: Path) -> list[Path]:
    """The case stores named by ``target``: one case store, or the stores in a dataset folder."""
    from ..io.store import is_case_store, list_case_stores

    if is_case_store(target):
        return [target]
    if not target.exists():
        raise InputError(
            target, "does not exist.", "Give a <case>.ome.zarr store or a dataset folder of them."
        )
    stores = list_case_stores(target)
    if not stores:
        raise InputError(
            target,
            "holds no case stores (<case>.ome.zarr).",
            "Import the cases first (napari-c2w import) or give the right folder.",
        )
    return stores


def add_parser(sub) -> None:
    p = sub.add_parser(
        "review",
        help="find implausible scar/wall annotation; --clean removes scar outside the band",
        description="List the connected components of implausible annotation in each case: scar "
        "outside the LA wall band (beyond the wall or deep in the cavity) and wall far from the "
        "cavity. The band holds the voxels within --inner-mm inside and --outer-mm outside the "
        "cavity boundary, plus the wall label. With --clean, remove that scar (and then scar "
        "components smaller than --min-size voxels) and write it back; the store keeps the old "
        "scar as a version and records the change in its provenance.",
    )
    p.add_argument(
        "target", type=Path, metavar="CASE|DATASET", help="a case store or a dataset folder of them"
    )
    p.add_argument("--clean", action="store_true", help="remove scar outside the wall band and write it back")
    p.add_argument(
        "--dry-run", action="store_true", help="with --clean: report what would be removed, write nothing"
    )
    band_options.add_arguments(p)
    p.add_argument(
        "--min-size",
        type=int,
        default=0,
        metavar="N",
        help="with --clean: also remove scar components smaller than N voxels",
    )
    p.add_argument(
        "--wall-max-mm",
        type=float,
        default=6.0,
        help="flag wall voxels farther than this from the cavity (default 6.0 mm)",
    )
    p.add_argument("--annotator", default=None, metavar="NAME", help="name recorded in the provenance")
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"cases": [...], "failures": [...]} on stdout instead of the text: each case\'s '
        "path, case_id and findings (with --clean: what was or would be removed)",
    )
    p.set_defaults(func=run)


def _say(text: str) -> None:
    from tqdm import tqdm

    tqdm.write(text, file=sys.stdout)


def run(args: argparse.Namespace) -> int:
    if args.dry_run and not args.clean:
        raise ValueError("--dry-run only applies with --clean")
    if args.min_size < 0:
        raise ValueError("--min-size must be >= 0")
    stores = find_stores(args.target)
    results: list[dict] = []
    failures: list[tuple[str, str]] = []
    if args.clean:
        from ..review.clean import clean_store

        def work(path: Path) -> None:
            report = clean_store(
                path, band_options.band_spec(args), args.min_size, args.annotator, dry_run=args.dry_run
            )
            if args.json:
                results.append({**report.as_dict(), "path": str(path), "dry_run": args.dry_run})
                return
            _say(
                report.text(dry_run=args.dry_run)
                + (
                    ""
                    if args.dry_run or not report.written
                    else "\n  written; the previous scar is kept as a version"
                )
            )

        desc = "review --clean" + (" --dry-run" if args.dry_run else "")
    else:

        def work(path: Path) -> None:
            case_id, found = _findings(path, args)
            if args.json:
                findings = [f.as_dict() for f in found]
                results.append({"path": str(path), "case_id": case_id, "findings": findings})
            else:
                _say(_findings_text(case_id, found))

        desc = "review"
    code = run_batch(stores, work, desc=desc, name=lambda p: p.name, failures=failures)
    if args.json:
        from .batch import emit_json

        emit_json({"cases": results, "failures": [{"case": n, "error": e} for n, e in failures]})
    return code


def _findings(path: Path, args: argparse.Namespace):
    """(case id, the implausible components) of one store."""
    from ..io.store import read_case_store
    from ..review.plausibility import find_implausible

    case = read_case_store(path)
    if "cavity" not in case.labels:
        raise InputError(path, "has no cavity label, so the wall band is unknown.", "Add the cavity first.")
    labels = case.labels
    found = find_implausible(
        labels["cavity"],
        case.image.spacing,
        scar=labels.get("scar"),
        wall=labels.get("wall"),
        band_spec=band_options.band_spec(args),
        wall_max_distance_mm=args.wall_max_mm,
        origin=case.image.origin,
    )
    return case.case_id, list(found)


def _findings_text(case_id: str, found: list) -> str:
    if not found:
        return f"{case_id}: nothing implausible"
    lines = [f"{case_id}: {len(found)} implausible component(s)"]
    for f in found:
        z, y, x = f.centroid_mm
        lines.append(
            f"  #{f.id:<3} {f.structure:<4} {f.kind:<20} {f.voxels:>7} vox {f.volume_mm3:9.1f} mm³  "
            f"slice z={f.z}  at ({z:.1f}, {y:.1f}, {x:.1f}) mm  "
            f"{f.min_distance_mm:.1f}-{f.max_distance_mm:.1f} mm beyond the band"
        )
    return "\n".join(lines)
