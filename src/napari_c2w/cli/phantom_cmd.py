"""``napari-c2w phantom -o OUT --cases N [--layout utah|lascarqs|zarr] [--spacing Z Y X] [--seed S]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.layouts import LAYOUTS, write_case_folder
from ..io.store import store_path
from ..io.storewrite import write_case_store
from ..phantom.render import BENCHMARK_PROFILES, CONTRAST_PROFILES
from .batch import run_batch


def add_parser(sub) -> None:
    p = sub.add_parser(
        "phantom",
        help="generate synthetic LGE phantoms with cavity, wall and scar labels",
        description="Write N deterministic LA LGE phantoms (seeds S, S+1, ...) as challenge "
        "case folders (utah: lgemri/laendo/lawall .nrrd; lascarqs: enhanced/atriumSegImgMO/"
        "scarSegImgM .nii.gz) or case stores (zarr: OUT/phantom_<seed>.ome.zarr).",
    )
    p.add_argument(
        "old_output", nargs="?", type=Path, metavar="OUT", help="folder to write into (old form of -o OUT)"
    )
    p.add_argument("-o", "--output", type=Path, metavar="OUT", help="folder to write the phantoms into")
    p.add_argument("--cases", type=int, default=1, metavar="N", help="how many phantoms (default 1)")
    p.add_argument(
        "--layout",
        choices=[*LAYOUTS, "zarr"],
        default="zarr",
        help="utah or lascarqs case folders, or zarr case stores (default)",
    )
    p.add_argument(
        "--spacing",
        type=float,
        nargs=3,
        default=(0.625, 0.625, 0.625),
        metavar=("Z", "Y", "X"),
        help="voxel spacing in mm (default 0.625 0.625 0.625)",
    )
    p.add_argument(
        "--shape",
        type=int,
        nargs=3,
        default=None,
        metavar=("Z", "Y", "X"),
        help="grid size (default: about 110 x 150 x 150 mm at the given spacing)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the first phantom (default 0)")
    p.add_argument(
        "--noisy-scar",
        action="store_true",
        help="write the LAScarQS-style noisy scar annotation instead of the true scar",
    )
    p.add_argument(
        "--contrast",
        choices=[p for p in CONTRAST_PROFILES if p not in BENCHMARK_PROFILES],
        default="default",
        help="tissue-contrast profile: default (the bundled models' training) or wide (less well "
        "nulled myocardium, scar 1.1-1.6 x blood)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing phantom files")
    p.add_argument(
        "--from",
        dest="real",
        type=Path,
        default=None,
        metavar="DATASET",
        help="semi-synthetic cases instead: for every case store in DATASET with a cavity label, "
        "--cases variants with a synthetic wall and scar rendered into the real image",
    )
    p.add_argument(
        "--synthseg",
        action="store_true",
        help="with --from: redraw every tissue with random intensities (SynthSeg-style) instead "
        "of rendering into the real image",
    )
    p.add_argument(
        "--real-wall",
        action="store_true",
        help="with --from: render only the scar and leave the healthy wall as the real image shows "
        "it (the shell label lies on the real wall outside the real endocardium)",
    )
    p.add_argument(
        "--keep-labels",
        action="store_true",
        help="with --from: keep each case's own wall and scar labels (phantoms, corrected cases) "
        "and only redraw the image; with --synthseg, the same anatomy in random tissue contrasts",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..phantom import generate_phantom

    if args.cases < 1:
        raise ValueError("--cases must be at least 1")
    if (args.output is None) == (args.old_output is None):
        raise ValueError("give the output folder once: -o OUT")
    args.output = args.output or args.old_output
    args.output.mkdir(parents=True, exist_ok=True)
    if args.real is not None:
        return _semi_synthetic(args)

    def make(seed: int) -> None:
        ph = generate_phantom(
            seed,
            shape=tuple(args.shape) if args.shape else None,
            spacing=tuple(args.spacing),
            contrast=args.contrast,
        )
        case = ph.to_case(noisy=args.noisy_scar)
        if args.layout == "zarr":
            write_case_store(case, store_path(args.output, case.case_id), overwrite=args.overwrite)
        else:
            write_case_folder(case, args.output / case.case_id, args.layout, overwrite=args.overwrite)

    seeds = range(args.seed, args.seed + args.cases)
    return run_batch(seeds, make, desc="phantom", name=lambda s: f"phantom_{s:04d}")


def _semi_synthetic(args: argparse.Namespace) -> int:
    from ..io.store import list_case_stores, read_case_store
    from ..phantom.semisynth import SemiSynthOptions, semi_synthetic_case

    if args.layout != "zarr":
        raise ValueError("--from writes case stores only (--layout zarr)")
    stores = list_case_stores(args.real)
    if not stores:
        raise ValueError(f"{args.real} holds no case stores; build one with `napari-c2w import`")
    if args.synthseg and args.real_wall:
        raise ValueError("--synthseg redraws every tissue; it cannot keep the real wall (--real-wall)")
    if args.keep_labels and args.real_wall:
        raise ValueError("--keep-labels keeps each case's wall label; --real-wall draws a new one")
    opts = SemiSynthOptions(synthseg=args.synthseg, real_wall=args.real_wall, keep_labels=args.keep_labels)
    jobs = [(store, seed) for store in stores for seed in range(args.seed, args.seed + args.cases)]

    def make(job) -> None:
        store, seed = job
        case = semi_synthetic_case(read_case_store(store), seed, opts)
        write_case_store(case, store_path(args.output, case.case_id), overwrite=args.overwrite)

    return run_batch(jobs, make, desc="semi-synthetic", name=lambda j: f"{j[0].name} seed {j[1]}")
