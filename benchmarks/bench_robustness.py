"""Protocol-shift benchmark: the bundled (or given) models on shifted copies of held-out cases.

    python benchmarks/bench_robustness.py [--cases 10] [--semisynth 3] [--synthseg 3] [--phantoms 2]
        [--phantoms-other 2] [--phantoms-protocol 0] [--models DIR] [--baseline DIR | --baseline-no-denoise |
        --baseline-option NAME=VALUE ...] [--shifts NAME ...] [--json out.json]

Cases: the 10 last la2018 case ids (sorted), which ``training/bundled.sh`` holds out, read
straight from ``../shared/data/la2018/train``; semi-synthetic copies of the first of them
(``napari_c2w.phantom.semisynth``: real image and cavity, synthetic wall and scar; case ids no
model trained on), rendered into the real image and SynthSeg-style (a rendering the wall and scar
models never trained on); held-out phantoms (seeds 1000+, a configuration trained on) and phantoms
of a configuration no model trained on (2 mm slices, 0.75 mm in-plane), and the same anatomies
under the phantom's ``other-protocol`` contrast (``--phantoms-protocol``: myocardium nulled less
well, scar less enhanced, blurrier and noisier; ``napari_c2w.phantom.render``). Each is shifted by every
entry of ``_shifts.BENCHMARK`` (slice thickness 1.25/2.5/4 mm, crops of the atrium box
+5/0/-3 mm, a 60 mm wider field of view, float range, gamma 0.6/1.6, bias field, noise, RAS and
permuted axis orders) and by their combination (2.5 mm + tight crop + float 0-330, like the
external cohort of issue #11), once as it is and once followed by the mild contrast curve
(``_shifts.BENCHMARK_SETS``). Prints, per family, the unshifted Dice of every stage, the
predicted wall's coverage of the endocardium and scar deep inside the cavity; then cavity Dice,
HD95 and failures (Dice < 0.7) per shift, and how well the pipeline's quality score finds the
bad cases (AUROC for cavity Dice < 0.8, and the same for the entropy score it replaces), with
the time per case. ``--baseline DIR`` runs a second model set on the same cases and prints
the two side by side; ``--baseline-no-denoise`` compares the models with and without the
pipeline's in-plane smoothing of noisy scans (:mod:`napari_c2w.noise`), and
``--baseline-option NAME=VALUE`` (any ``InferenceOptions`` field, e.g. ``wall_alternate=false``)
the models with and without any other pipeline setting.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LA2018 = REPO.parent / "shared" / "data" / "la2018" / "train"


def auroc(bad: np.ndarray, score: np.ndarray) -> float:
    """Probability that a bad case scores higher than a good one (ties count half)."""
    pos, neg = score[bad], score[~bad]
    if not len(pos) or not len(neg):
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def load_cases(args) -> list:
    """The benchmark's cases: held-out la2018 (cavity), semi-synthetic copies of them (cavity,
    wall, scar: a family no bundled model trained on) and held-out phantoms (seeds 1000+)."""
    from napari_c2w.io.layouts import read_case_folder
    from napari_c2w.phantom import generate_phantom
    from napari_c2w.phantom.semisynth import SemiSynthOptions, semi_synthetic_case

    folders = sorted(p for p in args.la2018.iterdir() if p.is_dir())[-10:][: args.cases]
    real = [read_case_folder(f) for f in folders]
    out = [("la2018", c) for c in real]
    out += [("semi-synthetic", semi_synthetic_case(c, 7)) for c in real[: args.semisynth]]
    synth = SemiSynthOptions(synthseg=True)
    out += [("semi-synthetic SynthSeg", semi_synthetic_case(c, 7, synth)) for c in real[: args.synthseg]]
    for seed in range(1000, 1000 + args.phantoms):
        out.append(("phantom", generate_phantom(seed, spacing=(1.25, 0.625, 0.625)).to_case()))
    # A phantom configuration no bundled model trained on: 2 mm slices, 0.75 mm in-plane.
    for seed in range(2000, 2000 + args.phantoms_other):
        out.append(("phantom 2 mm", generate_phantom(seed, spacing=(2.0, 0.75, 0.75)).to_case()))
    # The same anatomies in another LGE protocol's contrast, which no model trained on.
    for seed in range(2000, 2000 + args.phantoms_protocol):
        ph = generate_phantom(seed, spacing=(2.0, 0.75, 0.75), contrast="other-protocol")
        out.append(("phantom 2 mm, other protocol", ph.to_case()))
    return out


def run(cases: list, shift_sets, models, options) -> list[dict]:
    import _shifts as sh
    from napari_c2w.infer import segment
    from napari_c2w.metrics import compare_masks

    rows = []
    for family, case in cases:
        labels = {k: np.asarray(v, np.uint8) for k, v in case.labels.items()}
        for shifts in shift_sets:
            name = sh.name(shifts)
            try:
                volume, ref = sh.apply(shifts, case.image, labels, seed=sh.seed_for(case.case_id, shifts))
            except ValueError as err:
                print(f"  {case.case_id} {name}: skipped ({err})")
                continue
            t0 = time.perf_counter()
            pred = segment(volume, models, options)
            seconds = time.perf_counter() - t0
            row = {"family": family, "case": case.case_id, "shift": name, "seconds": seconds}
            for s in ("cavity", "wall", "scar"):
                if s in ref and s in pred.labels:
                    m = compare_masks(pred.labels[s], ref[s] > 0, volume.spacing)
                    row[s] = m["dice"]
                    row[f"{s}_hd95_mm"] = m["hd95_mm"]
            row["dice"], row["hd95_mm"] = row["cavity"], row["cavity_hd95_mm"]
            row.update(
                alternates=pred.roi.get("alternates"),
                noise=pred.roi.get("noise"),
                denoise_sigma_mm=pred.roi.get("denoise_sigma_mm"),
                quality=pred.quality["score"],
                flagged=pred.quality["flagged"],
                reason=pred.quality["reason"],
                warnings=pred.quality["warnings"],
                entropy=pred.uncertainty["score"],
                features=pred.quality["features"],
                wall_coverage=pred.quality["features"].get("wall_coverage"),
                scar_depth=pred.quality["features"].get("scar_depth"),
            )
            rows.append(row)
            scores = ", ".join(f"{s} {row[s]:.3f}" for s in ("cavity", "wall", "scar") if s in row)
            print(
                f"  [{family}] {case.case_id} {name}: {scores}; quality {row['quality']:.2f}"
                f" ({row['reason'] or 'ok'}), {seconds:.1f} s",
                flush=True,
            )
    return rows


def shift_table(rows: list[dict]) -> list[str]:
    lines = [
        "| shift | n | cavity Dice mean | min | HD95 mm | failures (< 0.7) | flagged | wall | scar |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["shift"] for r in rows):
        sel = [r for r in rows if r["shift"] == name]
        d = np.array([r["dice"] for r in sel], float)
        h = np.array([r["hd95_mm"] for r in sel], float)
        extra = []
        for s in ("wall", "scar"):
            v = np.array([r[s] for r in sel if s in r], float)
            extra.append(f"{np.nanmean(v):.3f}" if v.size else "-")
        lines.append(
            f"| {name} | {len(sel)} | {np.nanmean(d):.3f} | {np.nanmin(d):.3f} | {np.nanmean(h):.2f} "
            f"| {int((d < 0.7).sum())} | {sum(r['flagged'] for r in sel)} | {extra[0]} | {extra[1]} |"
        )
    return lines


def family_table(rows: list[dict]) -> list[str]:
    """Unshifted cases per family: Dice of every stage, the predicted wall's coverage of the
    predicted endocardium, and the share of scar deeper than 1.5 mm inside the cavity (worst)."""
    lines = [
        "| family (unshifted) | n | cavity | wall | scar | wall coverage mean (min) "
        "| scar > 1.5 mm inside, max |",
        "|---|---|---|---|---|---|---|",
    ]

    def mean(sel, key):
        v = np.array([r[key] for r in sel if r.get(key) is not None], float)
        return f"{np.nanmean(v):.3f}" if v.size else "-"

    for family in dict.fromkeys(r["family"] for r in rows):
        sel = [r for r in rows if r["family"] == family and r["shift"] == "none"]
        if not sel:
            continue
        cov = np.array([r["wall_coverage"] for r in sel if r.get("wall_coverage") is not None], float)
        depth = np.array([r["scar_depth"] for r in sel if r.get("scar_depth") is not None], float)
        lines.append(
            f"| {family} | {len(sel)} | {mean(sel, 'cavity')} | {mean(sel, 'wall')} | {mean(sel, 'scar')} "
            f"| {f'{np.mean(cov):.0%} ({np.min(cov):.0%})' if cov.size else '-'} "
            f"| {f'{np.max(depth):.1%}' if depth.size else '-'} |"
        )
    return lines


def report(rows: list[dict]) -> list[str]:
    lines = [*family_table(rows), ""]
    for family in dict.fromkeys(r["family"] for r in rows):
        lines += [f"{family}:", *shift_table([r for r in rows if r["family"] == family]), ""]
    d = np.array([r["dice"] for r in rows], float)
    bad = np.nan_to_num(d, nan=0.0) < 0.8
    q = np.array([r["quality"] for r in rows], float)
    e = np.array([r["entropy"] for r in rows], float)
    lines += [
        f"all: {len(rows)} runs, cavity Dice {np.nanmean(d):.3f}, {int(bad.sum())} with Dice < 0.8",
        f"failure detection (Dice < 0.8): AUROC quality score {auroc(bad, q):.3f}, "
        f"entropy score {auroc(bad, e):.3f}; flagged {sum(r['flagged'] for r in rows)} "
        f"(of them bad: {int(sum(r['flagged'] and b for r, b in zip(rows, bad, strict=True)))})",
        *scar_signal(rows),
    ]
    return lines


def scar_signal(rows: list[dict], below: float = 0.4) -> list[str]:
    """How well the quality record's scar confidence finds runs whose scar failed (Dice < ``below``):
    AUROC of low confidence, and the share of those runs and of the others it warned about."""
    sel = [
        r
        for r in rows
        if r.get("scar") is not None and (r.get("features") or {}).get("scar_confidence") is not None
    ]
    if not sel:
        return []
    bad = np.array([r["scar"] < below for r in sel])
    conf = np.array([r["features"]["scar_confidence"] for r in sel], float)
    warned = np.array(["scar_confidence" in r.get("warnings", []) for r in sel])
    return [
        f"scar failures (Dice < {below}): {int(bad.sum())} of {len(sel)} runs with scar truth; AUROC "
        f"of low scar confidence {auroc(bad, -conf):.3f}; warned {int(warned[bad].sum())} of them "
        f"and {int(warned[~bad].sum())} of the other {int((~bad).sum())}"
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10, help="how many of the 10 held-out la2018 cases")
    ap.add_argument("--semisynth", type=int, default=3, help="semi-synthetic copies of the first N of them")
    ap.add_argument("--synthseg", type=int, default=3, help="SynthSeg-style copies of the first N")
    ap.add_argument("--phantoms", type=int, default=2, help="held-out phantoms (seeds 1000+)")
    ap.add_argument(
        "--phantoms-other", type=int, default=2, help="phantoms of an untrained configuration (2 mm slices)"
    )
    ap.add_argument(
        "--phantoms-protocol",
        type=int,
        default=0,
        help="2 mm phantoms in another protocol's contrast (the 'other-protocol' profile)",
    )
    ap.add_argument("--la2018", type=Path, default=LA2018, help="the la2018 train folder")
    ap.add_argument("--models", type=Path, action="append", default=[], help="model folder(s) or run(s)")
    ap.add_argument(
        "--baseline", type=Path, action="append", help="also run these model(s) and compare (same cases)"
    )
    ap.add_argument(
        "--baseline-no-denoise",
        action="store_true",
        help="the baseline is the same models without the pipeline's noise smoothing (napari_c2w.noise)",
    )
    ap.add_argument(
        "--baseline-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="the baseline is the same models with this InferenceOptions setting (e.g. wall_alternate=false)",
    )
    ap.add_argument("--shifts", nargs="*", help="only shifts whose name starts with these")
    ap.add_argument("--json", type=Path, help="write every row here")
    args = ap.parse_args()
    if not args.la2018.is_dir():
        print(f"{args.la2018} is missing: the benchmark needs the la2018 cases")
        return 1
    import _shifts as sh
    from napari_c2w.infer import InferenceOptions, load_model_set
    from napari_c2w.models import set_threads

    set_threads()
    cases = load_cases(args)
    sets = list(sh.BENCHMARK_SETS)
    if args.shifts:
        sets = [s for s in sets if any(sh.name(s).startswith(w) for w in args.shifts)]
    if args.baseline_no_denoise:
        args.baseline_option.append("denoise=false")
    if args.baseline and args.baseline_option:
        ap.error("--baseline and --baseline-no-denoise/--baseline-option: choose one")
    models = load_model_set(args.models)
    runs = {"models": (models, InferenceOptions())}
    if args.baseline:
        runs = {"baseline": (load_model_set(args.baseline), InferenceOptions()), **runs}
    elif args.baseline_option:
        runs = {"baseline": (models, baseline_options(ap, args.baseline_option)), **runs}
    results = {}
    for label, (models, options) in runs.items():
        t0 = time.perf_counter()
        print(f"{label}: {', '.join(f'{s} {m.path}' for s, m in models.items())}", flush=True)
        print(f"  noise smoothing {'on' if options.denoise else 'off'}", flush=True)
        print(f"  wall alternate {'on' if options.wall_alternate else 'off'}", flush=True)
        rows = run(cases, sets, models, options)
        print(f"\n{label}:\n" + "\n".join(report(rows)))
        print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f} s\n")
        results[label] = rows
    if "baseline" in results:
        print("\n".join(compare(results["baseline"], results["models"])))
    if args.json:
        out = results if "baseline" in results else results["models"]
        args.json.write_text(json.dumps(out, indent=1, default=lambda v: None if math.isnan(v) else v))
    return 0


def baseline_options(ap, items: list[str]):
    """``InferenceOptions`` with ``NAME=VALUE`` settings (bool, int, float or text by the field)."""
    import dataclasses

    from napari_c2w.infer import InferenceOptions

    fields = {f.name: f for f in dataclasses.fields(InferenceOptions)}
    values = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in fields or not text:
            ap.error(f"--baseline-option {item!r}: give NAME=VALUE with NAME one of {', '.join(fields)}")
        default = getattr(InferenceOptions(), name)
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                ap.error(f"--baseline-option {item!r}: {name} takes true or false")
            values[name] = text.lower() in ("true", "1", "yes")
        elif isinstance(default, int | float) or default is None:
            values[name] = float(text) if default is None else type(default)(text)
        else:
            values[name] = text
    return InferenceOptions(**values)


def compare(before: list[dict], after: list[dict]) -> list[str]:
    """Per family and shift: baseline and models side by side (the same cases, one run)."""
    lines = [
        "| family | shift | n | cavity before -> after (min) | failures (< 0.7) | wall | scar |",
        "|---|---|---|---|---|---|---|",
    ]

    def stat(rows, key):
        v = np.array([r[key] for r in rows if r.get(key) is not None], float)
        return (np.nanmean(v), np.nanmin(v)) if v.size else (math.nan, math.nan)

    for family in dict.fromkeys(r["family"] for r in after):
        for name in dict.fromkeys(r["shift"] for r in after if r["family"] == family):
            a = [r for r in after if r["family"] == family and r["shift"] == name]
            b = [r for r in before if r["family"] == family and r["shift"] == name]
            (bm, bn), (am, an) = stat(b, "dice"), stat(a, "dice")
            fails = f"{sum(r['dice'] < 0.7 for r in b)} -> {sum(r['dice'] < 0.7 for r in a)}"
            cells = [
                f"{stat(b, k)[0]:.3f} -> {stat(a, k)[0]:.3f}" if "wall" in a[0] else "-"
                for k in ("wall", "scar")
            ]
            lines.append(
                f"| {family} | {name} | {len(a)} | {bm:.3f} ({bn:.3f}) -> {am:.3f} ({an:.3f}) | {fails} "
                f"| {cells[0]} | {cells[1]} |"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
