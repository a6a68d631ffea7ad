"""Does the annotation loop pay off? Fine-tune the bundled cavity on 3 corrected shifted cases.

    python benchmarks/bench_adaptation.py [--quick] [--la2018 ../shared/data/la2018/train]
                                          [--work /tmp/bench-adaptation] [--json out.json]

The shifted set: the 10 held-out la2018 cases (the 10 last case ids, sorted, never trained on
by ``training/bundled.sh``) as another site might give them (``benchmarks/_shifts.py``): 2.5 mm
slices (4 slices of 0.625 mm averaged, the label by majority), a tight crop (the cavity's box
plus 5 mm in plane) and, by default (``--shift contrast``), another contrast: one random
intensity curve for the whole site. The geometry alone (``--shift geometry``) costs the
bundled cavity only about 0.01 Dice (0.905 -> 0.893 and 0.935 -> 0.927 on two cases), too
small a gap to close; the contrast curve costs it 0.1-0.5 (bench_robustness, remap 0.6).

Three of them are "corrected" (their reference labels stand for the annotator's corrected
labels), approved, and the bundled cavity is fine-tuned on them with the Fine-tune widget's
own runner (``napari-c2w-train --stage cavity --from bundled`` in a child process) within a
CPU budget (default 15 minutes: the run is sent Ctrl-C at the budget and its best checkpoint
is used). Reports the cavity Dice on the other shifted cases before and after, on the same
cases unshifted, the fraction of the gap closed ((after - before) / (unshifted - before);
target >= 0.5), and how long one fine-tuning iteration takes with its split into data,
forward and backward (+ optimizer step).

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
SITE_SEED = 11


def site_shifts(contrast: bool) -> list:
    """The shifted site (``benchmarks/_shifts.py``): 2.5 mm slices and tight crops (the cavity's
    box plus 5 mm in plane) and, with ``contrast``, another contrast: a random intensity curve
    (``remap``, strength 0.6), the same for every case, as one site's sequence would give."""
    from _shifts import Shift

    out = [Shift("thick", {"mm": SLICE_MM}), Shift("crop", {"margin_mm": MARGIN_MM})]
    return [*out, Shift("remap", {"strength": 0.6})] if contrast else out


def shifted(case, contrast: bool = False):
    """The case as the shifted site stores it (a new Case with the shifted cavity label)."""
    from _shifts import apply
    from napari_c2w.io.case import Case

    labels = {"cavity": np.asarray(case.labels["cavity"], np.uint8)}
    volume, out = apply(site_shifts(contrast), case.image, labels, seed=SITE_SEED)
    return Case(image=volume, labels=out, case_id=case.case_id)


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


def iteration_split(stores: list[Path], iterations: int) -> dict:
    """Seconds per fine-tuning iteration split into data, forward (+ loss) and backward (+ step)."""
    import torch

    from napari_c2w.train.config import load_config
    from napari_c2w.train.data import prepare_all
    from napari_c2w.train.distributed import Dist
    from napari_c2w.train.init import build_model_for, resolve_init
    from napari_c2w.train.loop import Trainer
    from napari_c2w.train.rundir import RunDir

    config = load_config(stage="cavity", overrides={"init": "bundled", "device": "cpu"})
    model, _ = build_model_for(config, resolve_init("bundled", "cavity"))
    run = RunDir(Path("/nonexistent-probe"))  # never written: the probe neither validates nor saves
    trainer = Trainer(config, model, prepare_all(stores, config), [], run, data_summary={}, dist=Dist())
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


def main() -> int:  # noqa: PLR0915 (one linear benchmark run)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 evaluation cases, 10 iterations (minutes)")
    ap.add_argument("--la2018", type=Path, default=LA2018)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-adaptation"))
    ap.add_argument("--iterations", type=int, help="fine-tuning iterations (default 300; quick 10)")
    ap.add_argument("--budget-min", type=float, default=15.0, help="CPU minutes for the fine-tuning")
    ap.add_argument(
        "--shift",
        choices=("contrast", "geometry"),
        default="contrast",
        help="geometry: 2.5 mm slices and tight crops only; contrast (default): also another "
        "contrast (one random intensity curve for the whole site)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from napari_c2w.io.importer import find_sources, load_source
    from napari_c2w.io.store import list_case_stores, store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.models import set_threads
    from napari_c2w.train.runner import FineTuneRequest, TrainingProcess, shell_commands

    set_threads()
    if not args.la2018.is_dir():
        print(f"{args.la2018} is missing (the la2018 cases live in ../shared/data)")
        return 2
    iterations = args.iterations or (10 if args.quick else 300)
    held_out = sorted(p for p in args.la2018.iterdir() if p.is_dir())[-10:]
    tune_ids, eval_ids = held_out[:3], held_out[3:5] if args.quick else held_out[3:]
    work = args.work / time.strftime("%Y%m%d-%H%M%S")
    reviewed = work / "reviewed"
    reviewed.mkdir(parents=True)
    originals = {p.name: load_source(next(iter(find_sources([p])))) for p in [*tune_ids, *eval_ids]}
    shift = {name: shifted(case, contrast=args.shift == "contrast") for name, case in originals.items()}
    for p in tune_ids:
        case = shift[p.name]
        case.status = "approved"
        write_case_store(case, store_path(reviewed, case.case_id))
    what = ", another contrast (one intensity curve for the site)" if args.shift == "contrast" else ""
    print(f"shifted set: {len(held_out)} held-out la2018 cases, {SLICE_MM} mm slices, tight crops{what}")
    print(f"  corrected (fine-tune): {', '.join(p.name for p in tune_ids)}")
    print(f"  evaluated: {len(eval_ids)} cases")
    eval_shifted = [shift[p.name] for p in eval_ids]
    print("cavity Dice, unshifted, bundled:")
    unshifted = cavity_dice([originals[p.name] for p in eval_ids], [])
    print("cavity Dice, shifted, bundled (before):")
    before = cavity_dice(eval_shifted, [])

    request = FineTuneRequest(
        stages=["cavity"],
        cases=list_case_stores(reviewed),
        output=work / "runs",
        init="bundled",
        iterations=iterations,
        val_every=max(5, iterations // 6),
        device="cpu",
    )
    process = TrainingProcess(request)
    t0 = time.perf_counter()
    process.start()
    print("fine-tuning: " + " ".join(shell_commands(request, process.data)), flush=True)
    state = process.wait(timeout=args.budget_min * 60)
    minutes = (time.perf_counter() - t0) / 60
    run = request.run_dir("cavity")
    print(f"  {state} in {minutes:.1f} min; {process.message}")
    if not (run / "best.pt").is_file():
        print(f"no best.pt in {run}: see {process.log_path}")
        return 1
    print("cavity Dice, shifted, fine-tuned (after):")
    after = cavity_dice(eval_shifted, [run])
    print("time per fine-tuning iteration:")
    split = iteration_split(request.cases, 2 if args.quick else 10)

    m = {k: float(np.mean(v)) for k, v in (("unshifted", unshifted), ("before", before), ("after", after))}
    gap = m["unshifted"] - m["before"]
    closed = (m["after"] - m["before"]) / gap if gap > 1e-6 else float("nan")
    lines = [
        "| cases | unshifted | shifted, bundled | shifted, fine-tuned | gap closed |",
        "|---|---|---|---|---|",
        f"| {len(eval_ids)} | {m['unshifted']:.3f} | {m['before']:.3f} (worst {min(before):.3f}) | "
        f"{m['after']:.3f} (worst {min(after):.3f}) | {closed:.2f} |",
        "",
        f"fine-tuning: {iterations} iterations from bundled on 3 corrected cases, {minutes:.1f} min "
        f"wall clock ({state}); one iteration {split['total']:.2f} s = data {split['data']:.2f} + "
        f"forward {split['forward']:.2f} + backward/step {split['backward']:.2f} s",
    ]
    print("\n" + "\n".join(lines))
    if args.quick:
        print("(--quick: a check of the script, not a measurement of adaptation)")
    if args.json:
        record = {
            "eval_cases": [p.name for p in eval_ids],
            "tune_cases": [p.name for p in tune_ids],
            "dice": {"unshifted": unshifted, "before": before, "after": after},
            "mean": m,
            "gap_closed": closed,
            "shift": args.shift,
            "fine_tune": {"iterations": iterations, "minutes": minutes, "state": state, "run": str(run)},
            "iteration_seconds": split,
            "quick": args.quick,
        }
        args.json.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
