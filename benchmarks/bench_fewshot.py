"""The few-shot recipe: which part of the cavity network to fine-tune on 1, 3 or 5 corrected
cases of a new site, at the same CPU minutes, with and without the site's pseudo-labels.

    python benchmarks/bench_fewshot.py [--tunes all first norm lora] [--cases 1 3 5]
        [--pseudo off on] [--minutes 3] [--site-seed 11] [--strength 0.45]
        [--la2018 ../shared/data/la2018/train] [--work /tmp/bench-fewshot] [--json out.json]

The site is ``bench_adaptation.py``'s: the 10 held-out la2018 cases (never trained on by
``training/bundled.sh``) with 2.5 mm slices, tight crops and one random contrast curve for the
whole site. The first 5 are the pool of corrected cases (their reference labels stand in for an
annotator's corrections; ``--cases 3`` takes the first 3); the last 5 are evaluated in every
row, so the rows compare on the same cases.

Each recipe is ``napari-c2w-train --stage cavity --from bundled --tune PART`` (``train()``, the
function the CLI and the Fine-tune widget run), for the same CPU minutes: its iterations are
``--minutes`` divided by its own seconds per iteration, measured in this run. As in the product,
one of several cases is held back for validation and the best checkpoint is used; a single case
trains alone and its last weights are used. ``--pseudo on`` adds the site's scans that
``napari-c2w adapt``'s quality gate passes, with the bundled model's labels, beside the
corrections: of every scan of the site but the corrected ones, as ``napari-c2w adapt`` would use
them (the evaluated cases' scans among them, never their labels).

Prints one row per recipe: cavity Dice on the 5 evaluated cases (mean, worst, below 0.8),
iterations, minutes, and the share of the gap to the unshifted cases it closed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench_adaptation import LA2018, cavity_dice, probe_trainer, shifted

POOL, EVALUATED = 5, 5


def seconds_per_iteration(stores: list[Path], tune: str, iterations: int = 6) -> float:
    """Median seconds of a fine-tuning iteration of ``tune`` on ``stores`` (after 2 warm-ups)."""
    from napari_c2w.train.schedule import apply_freeze

    trainer = probe_trainer(stores, tune={"part": tune})
    apply_freeze(trainer.model, "all", 0, trainer.tune)
    times = []
    for i in range(iterations + 2):
        t0 = time.perf_counter()
        trainer._step(trainer.sampler.batch(i))
        times.append(time.perf_counter() - t0)
    return float(np.median(times[2:]))


def pseudo_labels(scans: Path, folder: Path) -> dict[str, tuple[str, Path]]:
    """The bundled predictions of the site's scans (case stores without labels in ``scans``),
    made and judged as ``napari-c2w adapt`` makes and judges them; returns per case the verdict
    of its quality gate ("serves ..." where the cavity serves) and the prediction's store."""
    from napari_c2w.adapt.run import AdaptOptions, _segment_all
    from napari_c2w.adapt.select import serves
    from napari_c2w.io.importer import find_sources

    options = AdaptOptions(device="cpu")
    sources = sorted(find_sources([scans]), key=lambda s: s.name)
    preds = _segment_all(sources, [], folder, options, None)
    return {c: (serves(p["quality"], options.gate)["cavity"], Path(p["store"])) for c, p in preds.items()}


def pseudo_folder(folder: Path, verdicts: dict, corrected: list[str]) -> Path | None:
    """A dataset folder linking the serving predictions of the scans not corrected; None if none."""
    folder.mkdir(exist_ok=True)
    for name, (verdict, store) in verdicts.items():
        link = folder / store.name
        if verdict.startswith("serves") and name not in corrected and not link.exists():
            link.symlink_to(store.resolve(), target_is_directory=True)
    return folder if any(folder.iterdir()) else None


def recipe(data: list[Path], tune: str, iterations: int, out: Path) -> Path:
    from napari_c2w.train import load_config, train

    config = load_config(
        stage="cavity",
        overrides={
            "init": "bundled",
            "iterations": iterations,
            "val_every": max(1, iterations // 3),
            "device": "cpu",
            "tune": {"part": tune},
        },
    )
    result = train(config, data, out)
    if not result.best_checkpoint:
        raise SystemExit(f"{out}: the run kept no checkpoint ({result.status})")
    return out


def main() -> int:  # noqa: PLR0915 (one linear benchmark run)
    from napari_c2w.train.config import TUNES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tunes", nargs="+", default=list(TUNES), choices=TUNES)
    ap.add_argument("--cases", nargs="+", type=int, default=[1, 3, 5], choices=range(1, POOL + 1))
    ap.add_argument("--pseudo", nargs="+", default=["off", "on"], choices=("off", "on"))
    ap.add_argument("--minutes", type=float, default=3.0, help="CPU minutes of training per recipe")
    ap.add_argument("--site-seed", type=int, default=11)
    ap.add_argument("--strength", type=float, default=0.45)
    ap.add_argument("--la2018", type=Path, default=LA2018)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-fewshot"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from napari_c2w.io.case import Case
    from napari_c2w.io.importer import find_sources, load_source
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.models import cpu_features, set_threads

    print(f"CPU: {cpu_features()}; {set_threads()} threads")
    if not args.la2018.is_dir():
        print(f"{args.la2018} is missing (the la2018 cases live in ../shared/data)")
        return 2
    held_out = sorted(p for p in args.la2018.iterdir() if p.is_dir())[-(POOL + EVALUATED) :]
    pool, evaluated = [p.name for p in held_out[:POOL]], [p.name for p in held_out[POOL:]]
    work = args.work / time.strftime("%Y%m%d-%H%M%S")
    originals = {p.name: load_source(next(iter(find_sources([p])))) for p in held_out}
    site = {n: shifted(c, True, seed=args.site_seed, strength=args.strength) for n, c in originals.items()}
    for n in pool:
        case = site[n]
        case.status = "approved"
        write_case_store(case, store_path(work / "corrected" / n, n))
    print(f"site: curve seed {args.site_seed}, strength {args.strength}; pool {pool}; evaluated {evaluated}")
    unshifted = cavity_dice([originals[n] for n in evaluated], [])
    record: dict = {"pool": pool, "evaluated": evaluated, "minutes": args.minutes, "unshifted": unshifted}
    print("bundled, on the site:")
    record["bundled"] = cavity_dice([site[n] for n in evaluated], [])
    base, top = float(np.mean(record["bundled"])), float(np.mean(unshifted))

    verdicts: dict = {}
    if "on" in args.pseudo:
        for n, c in site.items():  # the site's scans, without labels
            write_case_store(Case(image=c.image, labels={}, case_id=n), store_path(work / "scans", n))
        verdicts = pseudo_labels(work / "scans", work / "pseudo-all")
        passed = sum(v.startswith("serves") for v, _ in verdicts.values())
        print(f"pseudo-labels: {passed} of {len(verdicts)} scans pass the gate")
    record["pseudo_gate"] = {c: v for c, (v, _) in verdicts.items()}

    probe = [store_path(work / "corrected" / n, n) for n in pool[:3]]
    speed = {t: seconds_per_iteration(probe, t) for t in args.tunes}
    print("seconds per iteration: " + ", ".join(f"{t} {s:.2f}" for t, s in speed.items()))
    record["seconds_per_iteration"], rows = speed, []
    lines = ["| cases | pseudo | tune | mean | worst | below 0.8 | iterations | minutes | gap closed |"]
    lines.append("|---|---|---|---|---|---|---|---|---|")
    order = sorted(
        ((n, p, t) for n in args.cases for p in args.pseudo for t in args.tunes),
        key=lambda r: (r[0] != 3, r[1] == "on", r[0]),  # the 3-case rows first: the point
    )
    for n, pseudo, tune in order:
        corrected = pool[:n]
        data = [work / "corrected" / c for c in corrected]
        if pseudo == "on":
            extra = pseudo_folder(work / f"pseudo-{n}", verdicts, corrected)
            if extra is None:
                print(f"\n{n} corrected, pseudo-labels on: no other scan passes the gate; skipped")
                continue
            data.append(extra)
        iterations = max(10, round(args.minutes * 60 / speed[tune]))
        print(f"\n{n} corrected, pseudo-labels {pseudo}, tune {tune}: {iterations} iterations", flush=True)
        t0 = time.perf_counter()
        run = recipe(data, tune, iterations, work / "runs" / f"{n}-{pseudo}-{tune}")
        minutes = (time.perf_counter() - t0) / 60
        dice = cavity_dice([site[c] for c in evaluated], [run])
        row = {"cases": n, "pseudo": pseudo, "tune": tune, "dice": dice, "iterations": iterations}
        row.update(minutes=round(minutes, 2), mean=float(np.mean(dice)))
        row["gap_closed"] = (row["mean"] - base) / (top - base) if top - base > 1e-6 else float("nan")
        rows.append(row)
        lines.append(
            f"| {n} | {pseudo} | {tune} | {row['mean']:.3f} | {min(dice):.3f} | "
            f"{sum(d < 0.8 for d in dice)} | {iterations} | {minutes:.1f} | {row['gap_closed']:.2f} |"
        )
        print("\n".join(lines), flush=True)
        if args.json:
            args.json.write_text(json.dumps({**record, "rows": rows}, indent=1))
    worst = min(record["bundled"])
    print(f"\nunshifted, bundled: {top:.3f}; bundled on the site: {base:.3f} (worst {worst:.3f})")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
