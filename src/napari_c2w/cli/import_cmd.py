"""``napari-c2w import SRC... --output DATASET_DIR``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.importer import find_sources, import_case
from .batch import make_output_folder, run_batch


def add_parser(sub) -> None:
    p = sub.add_parser(
        "import",
        help="turn case folders or image+label files into case stores",
        description="Convert challenge case folders (2018 LA: lgemri.nrrd + laendo.nrrd "
        "[+ lawall.nrrd]; LAScarQS: enhanced.nii.gz + atriumSegImgMO.nii.gz [+ scarSegImgM."
        "nii.gz]), folders of such case folders, case stores, DICOM series folders and volume "
        "files into one OME-Zarr case store per case: DATASET_DIR/<case>.ome.zarr.",
    )
    p.add_argument("sources", nargs="+", type=Path, metavar="SRC")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DATASET_DIR")
    for structure in ("cavity", "wall", "scar"):
        p.add_argument(
            f"--{structure}", type=Path, metavar="FILE", help=f"{structure} label file for a single image SRC"
        )
    p.add_argument("--case-id", help="case id for a single image SRC (default: its file name)")
    p.add_argument(
        "--label-value",
        type=int,
        metavar="N",
        help="take the voxels of value N of multi-label files as the structure (label files that "
        "are not binary 0/1 or 0/255 are refused without it)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace labels that differ in existing stores (old versions are kept)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    labels = {s: getattr(args, s) for s in ("cavity", "wall", "scar") if getattr(args, s)}
    sources = list(find_sources(args.sources, labels, args.case_id, args.label_value))
    make_output_folder(args.output)
    return run_batch(
        sources,
        lambda s: import_case(s, args.output, overwrite=args.overwrite),
        desc="import",
        name=lambda s: s.name,
    )
