"""The localizer alone: does the component that places the ROI lie on the atrium?

    python benchmarks/bench_localizer.py [--models LOCALIZER ...] [--la2018 DIR]

For each localizer given (checkpoints or run folders; default: the bundled one), on the 10
held-out la2018 cases (``training/bundled.sh`` holds out the last 10 ids), SynthSeg-style copies
and padded / contrast-remapped / SynthSeg-tissue copies of the first 5 (``benchmarks/_shifts.py``,
seeded per case as ``bench_robustness.py`` does), phantoms on a whole-thorax field of view
(88 x 576 x 576 at 0.625 mm, seeds 2024-2029: the grid ``bench_inference.py`` times) and phantoms
with 2 mm slices (seeds 2000-2003): whether the largest component at p >= 0.5 (the one the
pipeline centres the ROI on and picks the cavity component with) overlaps the true cavity, and
how far its centre lies from the cavity's centre (mm). All localizers run on the same cases in
one process; prints the seconds per case of each.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LA2018 = REPO.parent / "shared" / "data" / "la2018" / "train"
SHIFTED = ("pad", "remap", "tissues")


def cases(la2018: Path):
    """(family, case id, volume, cavity mask) of every test case."""
    import _shifts as sh
    from napari_c2w.io.layouts import read_case_folder
    from napari_c2w.phantom import generate_phantom
    from napari_c2w.phantom.semisynth import SemiSynthOptions, semi_synthetic_case

    real = [read_case_folder(f) for f in sorted(p for p in la2018.iterdir() if p.is_dir())[-10:]]
    for c in real:
        yield "la2018", c.case_id, c.image, c.labels["cavity"]
    for c in real[:5]:
        s = semi_synthetic_case(c, 7, SemiSynthOptions(synthseg=True))
        yield "SynthSeg copy", s.case_id, s.image, s.labels["cavity"]
        labels = {"cavity": np.asarray(c.labels["cavity"], np.uint8)}
        for shift in sh.BENCHMARK:
            name = sh.name(shift)
            if name.startswith(SHIFTED):
                v, lab = sh.apply(shift, c.image, labels, seed=sh.seed_for(c.case_id, shift))
                yield f"la2018 {name.split('(')[0]}", c.case_id, v, lab["cavity"]
    for seed in range(2024, 2030):
        p = generate_phantom(seed, shape=(88, 576, 576), spacing=(0.625, 0.625, 0.625)).to_case()
        yield "phantom, 360 mm view", seed, p.image, p.labels["cavity"]
    for seed in range(2000, 2004):
        p = generate_phantom(seed, spacing=(2.0, 0.75, 0.75)).to_case()
        yield "phantom, 2 mm slices", seed, p.image, p.labels["cavity"]


def locate(localizer, volume) -> tuple[np.ndarray, tuple, float]:
    """The pipeline's own localisation step (``infer.pipeline``): the largest component at
    p >= 0.5 on the localizer's grid, its centre in mm from the first voxel, and seconds."""
    import torch

    from napari_c2w.infer.pipeline import InferenceOptions, _Cancel, _Run

    t0 = time.perf_counter()
    quiet = lambda fraction, message: None  # noqa: E731
    models = {"localizer": localizer}
    run = _Run(volume, models, InferenceOptions(), torch.device("cpu"), quiet, _Cancel(None))
    centre, _ = run._localise(np.asarray(volume.array, np.float32))
    return run.atrium, centre, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, action="append", help="localizer checkpoint(s) or run(s)")
    ap.add_argument("--la2018", type=Path, default=LA2018, help="the la2018 train folder")
    args = ap.parse_args()
    if not args.la2018.is_dir():
        print(f"{args.la2018} is missing: the benchmark needs the la2018 cases")
        return 1
    from scipy import ndimage

    from napari_c2w import preprocess as pre
    from napari_c2w.infer import load_model_set
    from napari_c2w.models import set_threads

    set_threads()
    paths = args.models or [None]
    localizers = {str(p or "bundled"): load_model_set([p] if p else [])["localizer"] for p in paths}
    rows: dict[tuple[str, str], list] = {}
    for family, case_id, volume, cavity in cases(args.la2018):
        truth = np.asarray(cavity) != 0
        centre = np.multiply(ndimage.center_of_mass(truth), volume.spacing)
        line = []
        for name, loc in localizers.items():
            mask, com, seconds = locate(loc, volume)
            if mask is not None and mask.any():
                coarse_truth = pre.resample(truth.astype(np.float32), mask.shape, kind="mask") != 0
                hit = bool((mask & coarse_truth).any())
                dist = float(np.linalg.norm(np.subtract(com, centre)))
            else:
                hit, dist = False, float("nan")
            rows.setdefault((family, name), []).append((hit, dist, seconds))
            line.append(f"{'on' if hit else 'OFF'} {dist:5.1f} mm")
        print(f"  [{family}] {case_id}: " + " | ".join(line), flush=True)
    print("\n| family | localizer | on the atrium | centre error median (max), mm | s per case |")
    print("|---|---|---|---|---|")
    for (family, name), r in rows.items():
        hits, dist, secs = zip(*r, strict=True)
        error = f"{np.nanmedian(dist):.1f} ({np.nanmax(dist):.1f})"
        print(f"| {family} | {name} | {sum(hits)}/{len(hits)} | {error} | {np.mean(secs):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
