"""The main job: the bundled models on the bundled sample data, end to end.

    .venv/bin/python scripts/main_job.py [--output DIR] [--device auto|cpu|cuda]

1. import the sample case folders (sample_data/) into case stores (the reference labels);
2. ``napari-c2w predict``: localise, crop, cavity -> wall -> scar with the bundled weights;
3. ``napari-c2w review --clean``: remove the noisy sample annotation's scar outside the wall band;
4. ``napari-c2w report``: volumes, wall thickness, scar burden, and agreement of the predictions
   with the phantoms' labels, printed and written to CSV.

Everything goes to a new folder (default ``out/main-job-<time>``); nothing is overwritten.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"


def step(title: str, argv: list[str]) -> None:
    from napari_c2w.cli import main as cli

    print(f"\n== {title}\n$ napari-c2w {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    code = cli(argv)
    print(f"({time.perf_counter() - t0:.1f} s)", flush=True)
    if code != 0:
        raise SystemExit(f"main job: step '{title}' failed (exit {code})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=REPO / "out" / time.strftime("main-job-%Y%m%d-%H%M%S"))
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    out: Path = args.output
    if out.exists():
        raise SystemExit(f"main job: {out} exists; choose another --output (nothing was overwritten)")
    cases = sorted(p for layout in ("utah", "lascarqs") for p in (SAMPLES / layout).iterdir() if p.is_dir())
    t0 = time.perf_counter()
    step("import the sample cases", ["import", *map(str, cases), "--output", str(out / "cases")])
    step(
        "staged inference with the bundled weights",
        ["predict", *map(str, cases), "--output", str(out / "predictions"), "--device", args.device],
    )
    step(
        "clean the noisy scar annotation",
        ["review", str(out / "cases"), "--clean", "--annotator", "main-job"],
    )
    report = out / "report.csv"
    step(
        "quantify and compare with the phantoms' labels",
        ["report", str(out / "predictions"), "--reference", str(out / "cases"), "-o", str(report)],
    )
    with open(report, newline="") as fh:
        rows = list(csv.DictReader(fh))
    keys = [k for k in rows[0] if k == "case" or ("dice" in k and "surface" not in k) or "burden" in k]
    print("\n" + "  ".join(f"{k:>16}" for k in keys))
    for row in rows:
        print("  ".join(f"{row[k][:16]:>16}" for k in keys))
    print(f"\nmain job done in {time.perf_counter() - t0:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
