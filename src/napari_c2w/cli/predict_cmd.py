"""``napari-c2w predict INPUT... --output DIR``: staged inference over a cohort."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from .batch import run_batch

FORMATS = {"zarr": None, "nrrd": ".nrrd", "nifti": ".nii.gz"}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="segment cavity, wall and scar with the staged models",
        description="Run the staged pipeline (localise, crop the ROI, cavity -> wall -> scar, back to "
        "the input grid) on volume files, DICOM or challenge case folders and case stores. Writes one "
        "case store per case (default) or label files; records the models used in each output.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="volume files, DICOM folders, case folders or case stores (or folders of them)",
    )
    p.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DIR", help="folder to write the results into"
    )
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--models",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="model folder (<stage>.pt), training run (best.pt) or checkpoint overriding the bundled "
        "weights for its stage(s); repeatable",
    )
    p.add_argument(
        "--format",
        choices=list(FORMATS),
        default="zarr",
        help="zarr: a case store per case (default); nrrd or nifti: label files",
    )
    p.add_argument("--resume", action="store_true", help="skip cases whose output is already complete")
    p.add_argument("--num-parts", type=int, default=1, help="split the cohort into N parts (like nnU-Net)")
    p.add_argument("--part-id", type=int, default=0, help="which part this process runs (0..N-1)")
    p.add_argument("--probabilities", action="store_true", help="also write probability maps (nrrd/nifti)")
    p.add_argument("--uncertainty-map", action="store_true", help="also write a voxel uncertainty map")
    p.add_argument(
        "--flip-tta",
        action="store_true",
        help="average with a mirrored pass (2x slower; feeds the uncertainty score; the bundled "
        "models never saw mirrored atria and lose about 0.01 cavity Dice with it)",
    )
    p.add_argument(
        "--window",
        type=int,
        nargs=3,
        metavar=("Z", "Y", "X"),
        help="sliding-window size on the model grid (default: each model's training patch)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="foreground threshold for cavity, wall and scar (default: each model's calibrated one)",
    )
    p.add_argument(
        "--no-postprocess",
        action="store_true",
        help="keep every cavity and wall component and scar outside the band",
    )
    p.add_argument(
        "--no-crop",
        action="store_true",
        help="predict every stage on the whole ROI (default: the cavity in the localizer's atrium "
        "box + 5 mm, wall and scar in the cavity's box + 10 mm; slower, for checking a crop)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..infer import InferenceOptions, load_model_set
    from ..io.importer import find_sources

    if args.num_parts < 1 or not 0 <= args.part_id < args.num_parts:
        raise InputError(None, f"--part-id {args.part_id} is not in 0..{args.num_parts - 1}.")
    if args.window is not None and min(args.window) < 1:
        raise InputError(None, f"--window {' '.join(map(str, args.window))}: every size must be at least 1.")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise InputError(None, f"--threshold {args.threshold} is not between 0 and 1.")
    sources = sorted(find_sources(args.inputs), key=lambda s: str(getattr(s, "path", s)))
    mine = sources[args.part_id :: args.num_parts]
    models = load_model_set(args.models)
    options = InferenceOptions(
        device=args.device,
        probabilities=args.probabilities,
        uncertainty_map=args.uncertainty_map,
        flip_tta=args.flip_tta,
        window=tuple(args.window) if args.window else None,
        threshold=args.threshold,
        largest_cavity=not args.no_postprocess,
        wall_near_cavity=not args.no_postprocess,
        scar_in_band=not args.no_postprocess,
        crop_to_atrium=not args.no_crop,
        crop_to_cavity=not args.no_crop,
    )
    args.output.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []

    def work(source) -> None:
        if _done(args.output, source.name, args.format):
            if args.resume:
                skipped.append(source.name)
                return
            raise InputError(
                _target(args.output, source.name, args.format),
                "already exists; nothing was overwritten.",
                "Pass --resume to skip finished cases, or choose another --output.",
            )
        predict_case(source, args.output, models, options, args.format)

    code = run_batch(
        mine, work, desc=f"predict (part {args.part_id + 1}/{args.num_parts})", name=lambda s: s.name
    )
    if skipped:
        print(f"--resume: {len(skipped)} case(s) already done were skipped", file=sys.stderr)
    return code


def _target(out: Path, case_id: str, fmt: str) -> Path:
    from ..io.store import store_path

    return store_path(out, case_id) if fmt == "zarr" else out / case_id


def _done(out: Path, case_id: str, fmt: str) -> bool:
    target = _target(out, case_id, fmt)
    if fmt == "zarr":
        from ..io.store import is_case_store, read_store_attrs

        if not is_case_store(target):
            return False
        provenance = read_store_attrs(target).get("provenance", [])
        return any(entry.get("action") == "predict" for entry in provenance)
    return (target / "prediction.json").is_file()


def predict_case(source, out: Path, models, options, fmt: str) -> Path:
    """Segment one source and write its result; returns the output path."""
    from ..infer import segment
    from ..io.case import Case, provenance_entry
    from ..io.importer import load_source

    case = load_source(source)
    prediction = segment(case.image, models, options)
    summary = {
        "case_id": case.case_id,
        "models": prediction.models,
        "uncertainty": prediction.uncertainty,
        "roi": prediction.roi,
        "timings_s": prediction.timings,
        "device": prediction.device,
    }
    entries = [
        provenance_entry(
            "predict",
            name,
            by="napari-c2w predict",
            models={s: prediction.models[s] for s in ("localizer", name) if s in prediction.models},
            voxels=int(mask.sum()),
        )
        for name, mask in prediction.labels.items()
    ]
    target = _target(out, case.case_id, fmt)
    if fmt == "zarr":
        from ..io.store import write_case_store

        result = Case(
            image=case.image,
            labels=prediction.labels,
            case_id=case.case_id,
            sources={"image": str(source.path)},
            provenance=entries,
            attrs={"uncertainty": prediction.uncertainty, "prediction": summary},
        )
        write_case_store(result, target)
        return target
    _write_files(target, case, prediction, FORMATS[fmt], {**summary, "provenance": entries})
    return target


def _write_files(folder: Path, case, prediction, suffix: str, summary: dict) -> None:
    from .._fs import atomic_write_text
    from ..io.volume import Volume, write_volume

    folder.mkdir(parents=True, exist_ok=True)
    image = case.image

    def like(array: np.ndarray) -> Volume:
        return Volume(array, image.spacing, image.origin, image.direction)

    for name, mask in prediction.labels.items():
        write_volume(like(mask.astype(np.uint8)), folder / f"{name}{suffix}")
    for name, prob in (prediction.probabilities or {}).items():
        write_volume(like(prob.astype(np.float32)), folder / f"{name}_probability{suffix}")
    if prediction.uncertainty_map is not None:
        write_volume(like(prediction.uncertainty_map.astype(np.float32)), folder / f"uncertainty{suffix}")
    atomic_write_text(folder / "prediction.json", json.dumps(summary, indent=1, default=str))
