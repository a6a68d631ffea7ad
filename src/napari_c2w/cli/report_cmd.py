"""``napari-c2w report DATASET_OR_CASE [--reference REF_DATASET_OR_CASE] -o OUT.csv|- [--overwrite]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import band_options, scar_options
from .batch import make_output_folder, run_batch
from .review_cmd import find_stores


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="per-case volumes, wall thickness, scar burden (and agreement) as CSV",
        description="Write one CSV row per case: cavity and wall volume (mL), wall thickness "
        "mean/median/p5/p95 (mm), scar volume (mL), scar burden (percent of the wall outside the "
        "cavity, or, without a wall label, of the non-cavity voxels within --outer-mm of the cavity) "
        "and implausible scar voxels (outside the band). With --reference, also Dice, surface Dice "
        "(at --tolerance-mm, named in its column), HD95 and ASSD (mm) per structure against the "
        "reference case with the same case id. Empty cells are undefined values (see notes).",
    )
    p.add_argument(
        "target", type=Path, metavar="DATASET_OR_CASE", help="a case store or a dataset folder of them"
    )
    p.add_argument(
        "--reference",
        type=Path,
        metavar="REF_DATASET_OR_CASE",
        help="reference case store or dataset folder, matched by case id",
    )
    p.add_argument(
        "-o",
        "--output",
        "--csv",
        dest="output",
        type=Path,
        required=True,
        metavar="OUT",
        help="the CSV file to write ('-': stdout)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    band_options.add_arguments(p)
    p.add_argument("--tolerance-mm", type=float, default=1.0, help="surface Dice tolerance (default 1.0 mm)")
    scar_options.add_arguments(p)
    p.set_defaults(func=run)


def _case_id(path: Path) -> str:
    from ..io.store import STORE_SUFFIX, read_store_attrs

    return str(read_store_attrs(path).get("case_id") or path.name.removesuffix(STORE_SUFFIX))


def run(args: argparse.Namespace) -> int:
    from ..io.store import is_case_store, read_case_store
    from ..review.report import case_row, columns, write_csv

    to_stdout = str(args.output) == "-"
    if not to_stdout and args.output.exists() and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; pass --overwrite to replace it")
    if args.surface_dir is not None:
        from ..surface.export import require_vtk

        require_vtk(args.surface_format)  # before any case is read
    if not to_stdout:
        make_output_folder(args.output.parent)
    stores = find_stores(args.target)
    refs: dict[str, Path] = {}
    single_pair = False
    if args.reference is not None:
        ref_stores = find_stores(args.reference)
        single_pair = is_case_store(args.target) and is_case_store(args.reference)
        refs = {_case_id(p): p for p in ref_stores}
    rows: list[dict] = []

    def work(path: Path) -> None:
        case = read_case_store(path)
        ref_path = next(iter(refs.values())) if single_pair else refs.get(case.case_id)
        reference = read_case_store(ref_path) if ref_path is not None else None
        row = case_row(
            case,
            reference,
            with_reference=args.reference is not None,
            band_spec=band_options.band_spec(args),
            tolerance_mm=args.tolerance_mm,
        )
        extra, notes = scar_options.extra_row(case, args)
        row.update(extra)
        row["notes"] = "; ".join(n for n in [row["notes"], *notes] if n)
        rows.append(row)

    code = run_batch(stores, work, desc="report", name=lambda p: p.name)
    cols = columns(args.reference is not None, tolerance_mm=args.tolerance_mm)
    cols = [*cols[:-1], *scar_options.columns(args), cols[-1]]  # notes stay last
    if to_stdout:
        from ..review.report import write_rows

        write_rows(rows, sys.stdout, cols)
        sys.stdout.flush()
        print(f"report: wrote {len(rows)} row(s) to stdout", file=sys.stderr)
        return code
    try:
        write_csv(rows, args.output, cols, overwrite=args.overwrite)
    except OSError as err:  # the folder became read-only or full meanwhile: keep the computed report
        import tempfile

        fallback = Path(tempfile.mkdtemp(prefix="napari-c2w-report-")) / args.output.name
        write_csv(rows, fallback, cols)
        print(
            f"report: error: could not write {args.output} ({err.strerror or err}); the {len(rows)} "
            f"row(s) were saved to {fallback} instead.",
            file=sys.stderr,
        )
        return 2
    print(f"report: wrote {len(rows)} row(s) to {args.output}", file=sys.stderr)
    return code
