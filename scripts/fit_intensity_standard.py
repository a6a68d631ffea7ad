"""Fit the package's intensity standard (napari_c2w.standardize) on the bundled weights' training scans.

    python scripts/fit_intensity_standard.py [--la2018 ../shared/data/la2018/train] [--cases 70]
                                             [-o src/napari_c2w/weights/intensity_standard.json]

The bundled cavity, wall and scar trained on the 70 first la2018 case ids (sorted). For each, the
scan is resampled to the models' grid and the landmarks are taken over the cavity network's ROI
(44x256x256 voxels around the cavity's centre, the part inside the scan), as training and
inference take them; the standard is their mean after scaling each to [0, 1]. Prints the
standard and the spread of each landmark over the cases.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def roi_values(case_dir: Path) -> np.ndarray:
    from napari_c2w import preprocess as pre
    from napari_c2w.io import read_label_volume, read_volume

    image = read_volume(case_dir / "lgemri.nrrd")
    cavity = read_label_volume(case_dir / "laendo.nrrd", like=image)
    shape = pre.resampled_shape(image.array.shape, image.spacing, pre.DEFAULT_MODEL_SPACING)
    grid = pre.resample(image.array, shape)
    mask = pre.resample(np.asarray(cavity.array) > 0, shape, kind="mask")
    box = pre.roi_box(pre.center_of_mass(mask), pre.DEFAULT_ROI, shape)
    inside = tuple((max(0, a), min(n, b)) for (a, b), n in zip(box, shape, strict=True))
    return pre.crop(grid, inside)


def main(argv: list[str] | None = None) -> int:
    from napari_c2w.standardize import PERCENTILES, fit_standard, landmarks

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--la2018", type=Path, default=REPO.parent / "shared" / "data" / "la2018" / "train")
    ap.add_argument("--cases", type=int, default=70, help="the first N case ids (sorted)")
    default_out = REPO / "src/napari_c2w/weights/intensity_standard.json"
    ap.add_argument("-o", "--output", type=Path, default=default_out)
    args = ap.parse_args(argv)
    cases = sorted(p for p in args.la2018.iterdir() if (p / "lgemri.nrrd").exists())[: args.cases]
    samples = [roi_values(c) for c in cases]
    standard = fit_standard(samples)
    scaled = np.array([(lm - lm[0]) / (lm[-1] - lm[0]) for lm in map(landmarks, samples)])
    for p, m, lo, hi in zip(PERCENTILES, standard["landmarks"], scaled.min(0), scaled.max(0), strict=True):
        print(f"p{p:>4.0f}: {m:.3f} (cases {lo:.3f}-{hi:.3f})")
    standard["source"] = f"ROIs of the {len(cases)} first la2018 case ids (sorted), the bundled training"
    args.output.write_text(json.dumps(standard, indent=1) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
