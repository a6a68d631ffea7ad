"""``napari-c2w import SRC... -o DATASET_DIR [--labels FILE --label-map 1=cavity,2=wall,3=scar]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.importer import find_sources, import_case
from ..io.labelmap import parse_label_map
from .batch import emit, make_output_folder, run_batch


def add_parser(sub) -> None:
    p = sub.add_parser(
        "import",
        help="turn case folders or image+label files into case stores",
        description="Convert challenge case folders (2018 LA: lgemri.nrrd + laendo.nrrd "
        "[+ lawall.nrrd]; LAScarQS: enhanced.nii.gz + atriumSegImgMO.nii.gz [+ scarSegImgM."
        "nii.gz]), folders of such case folders, nnU-Net raw datasets (dataset.json, imagesTr, "
        "labelsTr; the _0000 channel suffix is not part of the case id), case stores, any tool's 3D "
        "OME-Zarr images (NGFF 0.4 or 0.5: the image with its scale and translation, label images "
        "named cavity, wall, scar as those structures), DICOM series folders and volume files into "
        "one OME-Zarr case store per case: DATASET_DIR/<case>.ome.zarr. Prints each case's store on "
        "stdout (one a line; also a store that already held the case), everything else on stderr.",
    )
    p.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="SRC",
        help="case folders or folders of them, nnU-Net raw datasets, case stores, OME-Zarr images, "
        "DICOM folders, volumes",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="DATASET_DIR",
        help="dataset folder to write <case>.ome.zarr stores into",
    )
    for structure in ("cavity", "wall", "scar"):
        p.add_argument(
            f"--{structure}", type=Path, metavar="FILE", help=f"{structure} label file for a single image SRC"
        )
    p.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="multi-label file for a single image SRC, split by --label-map",
    )
    p.add_argument(
        "--label-map",
        type=_label_map,
        metavar="MAP",
        help="VALUE=NAME pairs for --labels or an nnU-Net dataset, NAME a structure or 'ignore' "
        "(default for --labels: 1=cavity,2=wall,3=scar; nnU-Net: its dataset.json); values the "
        "map does not name are refused",
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


def _label_map(text: str) -> dict[int, str]:
    try:
        return parse_label_map(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    labels = {s: getattr(args, s) for s in ("cavity", "wall", "scar") if getattr(args, s)}
    sources = list(
        find_sources(
            args.sources, labels, args.case_id, args.labels, args.label_map, label_value=args.label_value
        )
    )
    make_output_folder(args.output)
    return run_batch(
        sources,
        lambda s: emit(import_case(s, args.output, overwrite=args.overwrite)),
        desc="import",
        name=lambda s: s.name,
    )
