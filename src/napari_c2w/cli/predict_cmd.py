"""``napari-c2w predict INPUT... --output DIR``: staged inference over a cohort."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import InputError
from .batch import emit, emit_json, make_output_folder, run_batch

#: ``--format``: a case store, or a label folder of :data:`napari_c2w.io.export.FORMATS`.
FORMATS = {"zarr": None, "nrrd": "nrrd-folder", "nifti": "nifti-folder"}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="segment cavity, wall and scar with the staged models",
        description="Run the staged pipeline (localise, crop the ROI, cavity -> wall -> scar, back to "
        "the input grid) on volume files, DICOM or challenge case folders and case stores. Writes one "
        "case store per case (default) or label files; records the models used in each output. "
        "Prints each case's output on stdout (one a line; progress and messages on stderr) and writes "
        "the run's summary (cases, quality scores, flags and warnings, timings, models) to "
        "DIR/predict_summary.json (DIR/predict_summary_part<K>of<N>.json with --num-parts).",
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
        help="keep every cavity and wall component, scar outside the band and scar deep in the cavity",
    )
    p.add_argument(
        "--no-crop",
        action="store_true",
        help="predict every stage on the whole ROI (default: the cavity in the localizer's atrium "
        "box + 5 mm, wall and scar in the cavity's box + 10 mm; slower, for checking a crop)",
    )
    p.add_argument(
        "--no-denoise",
        action="store_true",
        help="never smooth the input (default: a scan noisier than the training data is smoothed "
        "in-plane down to its noise level before inference)",
    )
    p.add_argument(
        "--no-wall-alternate",
        action="store_true",
        help="run the wall model alone (default: where the model set has a wall alternate, as the "
        "bundled weights do, it runs where the wall alone leaves the cavity's surface bare, and the "
        "wall covering more of it is kept)",
    )
    p.add_argument(
        "--runtime",
        choices=("auto", "torch", "openvino"),  # napari_c2w.infer.runtimes.RUNTIMES, without torch
        default="auto",
        help="who runs the networks on the CPU: auto (default) takes OpenVINO, where installed "
        "(napari-c2w[openvino]), on a CPU without native bf16, where it is faster than PyTorch's "
        "fp32; else PyTorch",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the run's summary (as written to predict_summary.json: per case its output, "
        "status, quality score, flags, warnings and timings; the models) on stdout instead of the paths",
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
    make_output_folder(args.output)
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
        scar_max_depth_mm=None if args.no_postprocess else InferenceOptions.scar_max_depth_mm,
        crop_to_atrium=not args.no_crop,
        crop_to_cavity=not args.no_crop,
        denoise=not args.no_denoise,
        wall_alternate=not args.no_wall_alternate,
        runtime=args.runtime,
    )
    run = RunSummary(args, models, options)
    models_for = _per_case_models(args.models, models)

    def work(source) -> None:
        target = _target(args.output, source.name, args.format)
        if _done(args.output, source.name, args.format):
            if not args.resume:
                raise InputError(
                    target,
                    "already exists; nothing was overwritten.",
                    "Pass --resume to skip finished cases, or choose another --output.",
                )
            run.skipped(source, target)
            return
        t0 = time.perf_counter()
        chosen, why = models_for(source.name)
        record = predict_record(source, args.output, chosen, options, args.format)
        if why:
            record["models_used"] = f"bundled: {why}"
        run.done(source, record, time.perf_counter() - t0)
        if not args.json:
            emit(record["output"])

    failures: list[tuple[str, str]] = []
    code = run_batch(
        mine,
        work,
        desc=f"predict (part {args.part_id + 1}/{args.num_parts})",
        name=lambda s: s.name,
        failures=failures,
    )
    doc = run.finish(failures)
    if args.json:
        emit_json(doc)
    return code


def _per_case_models(sources, models):
    """``case id -> (model set, why)``: ``models``, except for the cases an adapt run among
    ``sources`` keeps on the bundled model (its ``adapt.json``; why is then its reason)."""
    from ..adapt.record import bundled_cases
    from ..infer import load_model_set

    keep = bundled_cases(sources)
    if keep:
        print(
            f"predict: the adapt run keeps {len(keep)} case(s) on the bundled models: "
            + ", ".join(sorted(keep)),
            file=sys.stderr,
        )
    bundled: list = []

    def models_for(case_id: str):
        if case_id not in keep:
            return models, ""
        if not bundled:
            bundled.append(load_model_set([]))
        return bundled[0], keep[case_id]

    return models_for


class RunSummary:
    """The run's record (``predict_summary.json``): cases with their output, status, quality and
    timings, the models, the options; written atomically when the run ends (also after failures).
    With ``--resume``, a skipped case keeps the record an earlier run's summary holds of it."""

    def __init__(self, args: argparse.Namespace, models, options) -> None:
        import dataclasses

        from ..io.case import now_iso

        self.t0 = time.perf_counter()
        name = "predict_summary.json"
        if args.num_parts > 1:
            name = f"predict_summary_part{args.part_id}of{args.num_parts}.json"
        self.path = args.output / name
        self.earlier = _earlier_cases(self.path)
        self.cases: list[dict] = []
        self.doc = {
            "command": "napari-c2w predict",
            "started": now_iso(),
            "output": str(args.output),
            "format": args.format,
            "part": {"id": args.part_id, "of": args.num_parts},
            "options": dataclasses.asdict(options),
            "models": {name: model.describe() for name, model in models.items()},
        }

    def done(self, source, record: dict, seconds: float) -> None:
        record = {"case_id": source.name, "source": str(source.path), "status": "done", **record}
        record["seconds"] = round(seconds, 3)
        self.cases.append(record)

    def skipped(self, source, target: Path) -> None:
        earlier = self.earlier.get(source.name, {"source": str(source.path), "output": str(target)})
        self.cases.append({**earlier, "case_id": source.name, "status": "skipped"})

    def finish(self, failures: list[tuple[str, str]]) -> dict:
        """Say on stderr what to look at, write the summary (atomically) and return it."""
        from .. import __version__
        from .._fs import atomic_write_text
        from ..io.case import now_iso

        _summary(self.cases)
        cases = self.cases + [{"case_id": n, "status": "failed", "error": e} for n, e in failures]
        counts = {k: sum(c["status"] == k for c in cases) for k in ("done", "skipped", "failed")}
        counts["flagged"] = sum(bool(c.get("quality", {}).get("flagged")) for c in cases)
        counts["warned"] = sum(bool(c.get("quality", {}).get("warnings")) for c in cases)
        doc = {
            **self.doc,
            "finished": now_iso(),
            "seconds": round(time.perf_counter() - self.t0, 3),
            "napari_c2w_version": __version__,
            "counts": counts,
            "cases": cases,
        }
        doc = json.loads(json.dumps(doc, default=str))  # what a reader of the file gets
        atomic_write_text(self.path, json.dumps(doc, indent=1) + "\n")
        print(f"predict: summary in {self.path}", file=sys.stderr)
        return doc


def _earlier_cases(path: Path) -> dict[str, dict]:
    """The case records of an earlier run's summary, by case id (none if unreadable)."""
    try:
        doc = json.loads(path.read_text())
        return {c["case_id"]: c for c in doc["cases"] if c.get("status") in ("done", "skipped")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


def _summary(cases: list[dict]) -> None:
    """What the run leaves the user to look at, on stderr: skipped, flagged and warned cases."""
    skipped = [c["case_id"] for c in cases if c["status"] == "skipped"]
    done = [(c["case_id"], c["quality"]) for c in cases if c["status"] == "done"]
    flagged = [f"{n} ({q['reason']}, score {q['score']:.2f})" for n, q in done if q.get("flagged")]
    warned = [f"{n} ({', '.join(q['warnings'])})" for n, q in done if q.get("warnings")]
    if skipped:
        print(f"--resume: {len(skipped)} case(s) already done were skipped", file=sys.stderr)
    if flagged:
        print(
            f"quality: {len(flagged)} case(s) look implausible; review them first: " + "; ".join(flagged),
            file=sys.stderr,
        )
    if warned:
        from ..infer.quality import warning_text

        print(
            f"quality: {len(warned)} case(s) have wall, scar or noise warnings (docs/robustness.md): "
            + "; ".join(warned),
            file=sys.stderr,
        )
        for name in sorted({w for _, q in done for w in q.get("warnings", [])}):
            print(f"  {name}: {warning_text(name)}.", file=sys.stderr)


def _target(out: Path, case_id: str, fmt: str) -> Path:
    from .._fs import confined
    from ..io.case import check_case_id
    from ..io.store import STORE_SUFFIX

    return confined(out, check_case_id(case_id) + (STORE_SUFFIX if fmt == "zarr" else ""))


def _done(out: Path, case_id: str, fmt: str) -> bool:
    target = _target(out, case_id, fmt)
    if fmt == "zarr":
        from ..io.store import is_case_store, read_store_attrs

        if not is_case_store(target):
            return False
        provenance = read_store_attrs(target).get("provenance", [])
        return any(entry.get("action") == "predict" for entry in provenance)
    from ..io.labelfolder import RECORD

    return (target / RECORD).is_file()  # a folder without it comes from an older version


def predict_case(source, out: Path, models, options, fmt: str, *, quality: bool = False):
    """Segment one source and write its result; returns the output path (with ``quality``:
    the prediction's quality record, :mod:`napari_c2w.infer.quality`)."""
    record = predict_record(source, out, models, options, fmt)
    return record["quality"] if quality else Path(record["output"])


def predict_record(source, out: Path, models, options, fmt: str) -> dict:
    """Segment one source and write its result; returns what the run summary records of it:
    ``output``, ``quality``, ``uncertainty``, ``timings_s`` (the pipeline's stages), ``device``."""
    from ..infer.result import segment_case
    from ..io.importer import load_source

    case = load_source(source)
    sources = {"image": str(source.path)}
    result, prediction = segment_case(case, models, options, by="napari-c2w predict", sources=sources)
    target = _target(out, case.case_id, fmt)
    if fmt == "zarr":
        from ..io.storewrite import write_case_store

        write_case_store(result, target)
    else:
        from ..io.export import export_format

        maps = {f"{name}_probability": p for name, p in (prediction.probabilities or {}).items()}
        if prediction.uncertainty_map is not None:
            maps["uncertainty"] = prediction.uncertainty_map
        writer = export_format(FORMATS[fmt], out)
        writer.write_case(result, out, list(result.labels), overwrite=True, maps=maps)
    return {
        "output": str(target),
        "quality": prediction.quality,
        "uncertainty": prediction.uncertainty,
        "timings_s": prediction.timings,
        "device": prediction.device,
    }
