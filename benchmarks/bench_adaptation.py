"""Does the loop pay off at a new site? Adapt to its scans, fine-tune on 3 corrected cases, both.

    python benchmarks/bench_adaptation.py [--quick] [--variants bundled adapt corrected both]
        [--site-seed 11] [--strength 0.45] [--shift contrast|geometry] [--iterations 300]
        [--adapt-iterations 300] [--budget-min 15] [--la2018 ../shared/data/la2018/train]
        [--work /tmp/bench-adaptation] [--json out.json]

The site: the 10 held-out la2018 cases (the 10 last case ids, sorted, never trained on by
``training/bundled.sh``) as another site gives them (``benchmarks/_shifts.py``): 2.5 mm slices
(4 slices of 0.625 mm averaged, the label by majority), a tight crop (the cavity's box plus 5 mm
in plane) and, by default (``--shift contrast``), another contrast: one random intensity curve
for the whole site (``remap`` of ``--strength``, drawn with ``--site-seed``). At strength 0.45
with seed 11 the bundled cavity gives 0.71 (7 of 10 below 0.8) and with seed 13 0.68: like the
external cohort of issue 29 (0.72, 10 of 22 below 0.8); seed 12 hardly hurts it (0.88).

Three cases are "corrected" (their reference labels stand for the annotator's corrected
labels); the other 7 are evaluated. The variants, each against the same cases in one run:

- ``bundled``: the bundled models as they are;
- ``adapt``: ``napari_c2w.adapt.adapt`` on all 10 scans without labels (``napari-c2w adapt``),
  each case then predicted by the model its ``adapt.json`` chooses; the adapted cavity is also
  run on the unshifted cases (what it forgot);
- ``corrected``: the bundled cavity fine-tuned on the 3 corrected cases with the Fine-tune
  widget's own runner (``napari-c2w-train --stage cavity --from bundled`` in a child process,
  Ctrl-C at ``--budget-min`` and its best checkpoint used);
- ``both``: the same fine-tune from the adapted cavity (``--from`` the adapt run).

Reports per variant the cavity Dice on the 7 evaluated cases (mean, worst, how many below 0.8),
the minutes it took, and the share of the gap to the unshifted cases it closed ((after - before)
/ (unshifted - before)); and how long one fine-tuning iteration takes (data, forward, backward).

``--quick`` checks the script in minutes (2 evaluation cases, 10 iterations); its numbers say
nothing about adaptation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LA2018 = REPO.parent / "shared" / "data" / "la2018" / "train"
SLICE_MM, MARGIN_MM = 2.5, 5.0


#: One site's contrast: the same random intensity curve for every case of the shifted set.
SITE_SEED, STRENGTH = 11, 0.45


def site_shifts(contrast: bool, strength: float = STRENGTH) -> list:
    """The shifted site (``benchmarks/_shifts.py``): 2.5 mm slices and tight crops (the cavity's
    box plus 5 mm in plane) and, with ``contrast``, another contrast: a random intensity curve
    (``remap`` of ``strength``), the same for every case, as one site's sequence would give."""
    from _shifts import Shift

    out = [Shift("thick", {"mm": SLICE_MM}), Shift("crop", {"margin_mm": MARGIN_MM})]
    return [*out, Shift("remap", {"strength": strength})] if contrast else out


def shifted(case, contrast: bool = False, *, seed: int = SITE_SEED, strength: float = STRENGTH):
    """The case as the shifted site stores it (a new Case with the shifted cavity label)."""
    from _shifts import apply
    from napari_c2w.io.case import Case

    labels = {"cavity": np.asarray(case.labels["cavity"], np.uint8)}
    volume, out = apply(site_shifts(contrast, strength), case.image, labels, seed=seed)
    return Case(image=volume, labels=out, case_id=case.case_id)


#: The variants compared, in order.
VARIANTS = ("bundled", "adapt", "corrected", "both")


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    p, r = pred > 0, ref > 0
    return float(2 * (p & r).sum() / max(p.sum() + r.sum(), 1))


def cavity_dice(cases, sources) -> list[float]:
    from napari_c2w.infer import InferenceOptions, load_model_set, segment

    models = load_model_set(sources)
    options = InferenceOptions(device="cpu", stages=("cavity",))
    out = []
    for case in cases:
        d = dice(segment(case.image, models, options).labels["cavity"], case.labels["cavity"])
        print(f"    {case.case_id}: {d:.3f}", flush=True)
        out.append(d)
    return out


def probe_trainer(stores: list[Path], **overrides):
    """A trainer of the bundled cavity on ``stores`` for timing iterations: it never validates
    nor saves (its run folder does not exist)."""
    from napari_c2w.train.config import load_config
    from napari_c2w.train.data import prepare_all
    from napari_c2w.train.distributed import Dist
    from napari_c2w.train.init import build_model_for, resolve_init
    from napari_c2w.train.loop import Trainer
    from napari_c2w.train.rundir import RunDir

    config = load_config(stage="cavity", overrides={"init": "bundled", "device": "cpu", **overrides})
    model, _ = build_model_for(config, resolve_init("bundled", "cavity"))
    run = RunDir(Path("/nonexistent-probe"))
    return Trainer(config, model, prepare_all(stores, config), [], run, data_summary={}, dist=Dist())


def iteration_split(stores: list[Path], iterations: int) -> dict:
    """Seconds per fine-tuning iteration of the whole network, split into data, forward (+ loss)
    and backward (+ step)."""
    import torch

    trainer = probe_trainer(stores, tune={"part": "all"})
    times = {"data": [], "forward": [], "backward": []}
    for i in range(iterations + 1):  # the first iteration warms up and is left out
        t0 = time.perf_counter()
        batch = trainer.sampler.batch(i)
        x = batch["image"].contiguous(memory_format=torch.channels_last_3d)
        t1 = time.perf_counter()
        trainer.optimizer.zero_grad(set_to_none=True)
        with trainer.amp_ctx():
            out = trainer.model(x)
        loss = trainer.loss(out.float(), batch["cavity"])
        t2 = time.perf_counter()
        loss.backward()
        trainer.optimizer.step()
        t3 = time.perf_counter()
        if i:
            for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                times[key].append(dt)
    split = {k: float(np.mean(v)) for k, v in times.items()}
    return {**split, "total": sum(split.values()), "iterations": iterations}


def fine_tune(
    reviewed: Path, output: Path, init: str, iterations: int, budget_min: float
) -> tuple[Path, float, str]:
    """The Fine-tune widget's runner on the corrected cases; returns the run, minutes, state."""
    from napari_c2w.io.store import list_case_stores
    from napari_c2w.train.runner import FineTuneRequest, TrainingProcess, shell_commands

    request = FineTuneRequest(
        stages=["cavity"],
        cases=list_case_stores(reviewed),
        output=output,
        init=init,
        iterations=iterations,
        val_every=max(5, iterations // 6),
        device="cpu",
    )
    process = TrainingProcess(request)
    t0 = time.perf_counter()
    process.start()
    print("  fine-tuning: " + " ".join(shell_commands(request, process.data)), flush=True)
    state = process.wait(timeout=budget_min * 60)
    minutes = (time.perf_counter() - t0) / 60
    run = request.run_dir("cavity")
    print(f"  {state} in {minutes:.1f} min; {process.message}")
    if not (run / "best.pt").is_file():
        raise SystemExit(f"no best.pt in {run}: see {process.log_path}")
    return run, minutes, state


def run_adapt(scans: Path, output: Path, iterations: int, eval_cases) -> tuple[list[float], float, dict]:
    """``adapt`` on the site's scans; each evaluated case predicted by the model its record chooses."""
    from napari_c2w.adapt import AdaptOptions, adapt

    t0 = time.perf_counter()
    record = adapt(scans, output, AdaptOptions(iterations=iterations, device="cpu"))
    minutes = (time.perf_counter() - t0) / 60
    use = {row["case"]: row["use"] for row in record["cases"]}
    served = record["rounds"][0]["served"].get("cavity", [])
    print(
        f"  adapted in {minutes:.1f} min on {len(served)} of {len(use)} scans; bundled kept for "
        f"{sum(u == 'bundled' for u in use.values())} case(s)"
    )
    adapted = {c.case_id for c in eval_cases if use.get(c.case_id) == "adapted" and record["adapted"]}
    dice_of = {}
    for sources, group in (([output], [c for c in eval_cases if c.case_id in adapted]),
                           ([], [c for c in eval_cases if c.case_id not in adapted])):  # fmt: skip
        if group:  # each model set loaded once
            dice_of.update(zip((c.case_id for c in group), cavity_dice(group, sources), strict=True))
    return [dice_of[c.case_id] for c in eval_cases], minutes, record


def table(rows: dict, unshifted: list[float], split: dict) -> list[str]:
    """The report: one row a variant (mean, worst, below 0.8, minutes, gap closed); fills each
    row's ``mean`` and ``gap_closed``."""
    base, top = float(np.mean(rows["bundled"]["dice"])), float(np.mean(unshifted))
    lines = [
        f"unshifted, bundled: {top:.3f} (worst {min(unshifted):.3f}) on {len(unshifted)} cases",
        "",
        "| variant | cavity Dice, mean | worst | below 0.8 | minutes | gap closed |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        d = row["dice"]
        row["mean"] = float(np.mean(d))
        row["gap_closed"] = (row["mean"] - base) / (top - base) if top - base > 1e-6 else float("nan")
        lines.append(
            f"| {name} | {row['mean']:.3f} | {min(d):.3f} | {sum(x < 0.8 for x in d)} | "
            f"{row['minutes']:.1f} | {row['gap_closed']:.2f} |"
        )
    if "unshifted" in rows.get("adapt", {}):
        lines.append(
            f"\nthe adapted cavity on the same cases unshifted: {np.mean(rows['adapt']['unshifted']):.3f}"
        )
    lines.append(
        f"one fine-tuning iteration {split['total']:.2f} s = data {split['data']:.2f} + forward "
        f"{split['forward']:.2f} + backward/step {split['backward']:.2f} s"
    )
    return lines


def main() -> int:  # noqa: PLR0915 (one linear benchmark run)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 evaluation cases, 10 iterations (minutes)")
    ap.add_argument("--la2018", type=Path, default=LA2018)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-adaptation"))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--iterations", type=int, help="fine-tuning iterations (default 300; quick 10)")
    ap.add_argument("--adapt-iterations", type=int, help="adaptation iterations (default 300; quick 10)")
    ap.add_argument("--budget-min", type=float, default=15.0, help="CPU minutes for each fine-tuning")
    ap.add_argument("--site-seed", type=int, default=SITE_SEED, help="the site's contrast curve")
    ap.add_argument("--strength", type=float, default=STRENGTH, help="the curve's strength")
    ap.add_argument(
        "--shift",
        choices=("contrast", "geometry"),
        default="contrast",
        help="geometry: 2.5 mm slices and tight crops only; contrast (default): also another "
        "contrast (one random intensity curve for the whole site)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from napari_c2w.io.case import Case
    from napari_c2w.io.importer import find_sources, load_source
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.models import set_threads

    set_threads()
    if not args.la2018.is_dir():
        print(f"{args.la2018} is missing (the la2018 cases live in ../shared/data)")
        return 2
    iterations = args.iterations or (10 if args.quick else 300)
    adapt_iterations = args.adapt_iterations or (10 if args.quick else 300)
    held_out = sorted(p for p in args.la2018.iterdir() if p.is_dir())[-10:]
    tune_ids, eval_ids = held_out[:3], held_out[3:5] if args.quick else held_out[3:]
    work = args.work / time.strftime("%Y%m%d-%H%M%S")
    reviewed, scans = work / "reviewed", work / "scans"
    reviewed.mkdir(parents=True)
    originals = {p.name: load_source(next(iter(find_sources([p])))) for p in held_out}
    contrast = args.shift == "contrast"
    shift = {
        n: shifted(c, contrast, seed=args.site_seed, strength=args.strength) for n, c in originals.items()
    }
    for name, case in shift.items():  # the site's scans, without labels
        write_case_store(Case(image=case.image, labels={}, case_id=name), store_path(scans, name))
    for p in tune_ids:
        case = shift[p.name]
        case.status = "approved"
        write_case_store(case, store_path(reviewed, case.case_id))
    what = f", another contrast (curve seed {args.site_seed}, strength {args.strength})" if contrast else ""
    print(f"site: {len(held_out)} held-out la2018 cases, {SLICE_MM} mm slices, tight crops{what}")
    print(f"  corrected: {', '.join(p.name for p in tune_ids)}; evaluated: {len(eval_ids)} cases")
    eval_shifted = [shift[p.name] for p in eval_ids]
    print("cavity Dice, unshifted, bundled:")
    unshifted = cavity_dice([originals[p.name] for p in eval_ids], [])
    rows = {}
    print("bundled, on the site:")
    rows["bundled"] = {"dice": cavity_dice(eval_shifted, []), "minutes": 0.0}
    adapt_run = work / "adapt"
    if "adapt" in args.variants or "both" in args.variants:
        print("adapt (no labels):")
        dice_adapt, minutes, record = run_adapt(scans, adapt_run, adapt_iterations, eval_shifted)
        rows["adapt"] = {"dice": dice_adapt, "minutes": minutes}
        if record["adapted"]:
            print("  the adapted cavity on the unshifted cases:")
            rows["adapt"]["unshifted"] = cavity_dice([originals[p.name] for p in eval_ids], [adapt_run])
    if "corrected" in args.variants:
        print("fine-tuned from bundled on 3 corrected cases:")
        run, minutes, state = fine_tune(
            reviewed, work / "runs-bundled", "bundled", iterations, args.budget_min
        )
        rows["corrected"] = {"dice": cavity_dice(eval_shifted, [run]), "minutes": minutes, "state": state}
    if "both" in args.variants and (adapt_run / "cavity.pt").is_file():
        print("fine-tuned from the adapted cavity on 3 corrected cases:")
        run, minutes, state = fine_tune(
            reviewed, work / "runs-adapted", str(adapt_run), iterations, args.budget_min
        )
        rows["both"] = {
            "dice": cavity_dice(eval_shifted, [run]),
            "minutes": minutes + rows["adapt"]["minutes"],
            "state": state,
        }
    split = iteration_split(list(reviewed.glob("*.ome.zarr")), 2 if args.quick else 10)

    lines = table(rows, unshifted, split)
    print("\n" + "\n".join(lines))
    if args.quick:
        print("(--quick: a check of the script, not a measurement of adaptation)")
    if args.json:
        record = {
            "eval_cases": [p.name for p in eval_ids],
            "tune_cases": [p.name for p in tune_ids],
            "site": {"seed": args.site_seed, "strength": args.strength, "shift": args.shift},
            "unshifted": unshifted,
            "variants": rows,
            "iterations": {"fine_tune": iterations, "adapt": adapt_iterations},
            "iteration_seconds": split,
            "quick": args.quick,
        }
        args.json.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
