"""Speed, memory and bf16 accuracy of the staged inference pipeline on this machine.

    python benchmarks/bench_inference.py                      # bundled weights
    python benchmarks/bench_inference.py --models runs/x      # other weights
    python benchmarks/bench_inference.py --untrained-preset lite   # no weights needed

Prints, for an 88 x 576 x 576 LGE phantom at 0.625 mm isotropic (the real scanner grid):

* the whole pipeline's wall time and peak resident memory (measured in a fresh child process);
* the naive approach in the same run: MONAI sliding-window inference of the same wall network
  over the whole volume as it comes (no localisation, no resampling: 44 x 256 x 256 windows,
  overlap 0.25) in plain fp32 with the default memory layout; ``--naive-limit`` times only that
  many windows and extrapolates to all of them (said in the output);
* achieved GFLOP/s of the networks (FLOPs from ``torch.utils.flop_counter``, times the windows
  actually run) against a single channels-last 3x3x3 convolution measured in the same run (bf16
  where the CPU has native bf16, AVX-512 BF16 or AMX, else fp32, as the pipeline does);
* Dice of bf16 against fp32 predictions on the same cases, and of each against the truth. On a
  CPU without native bf16 (the pipeline runs fp32 there; emulated bf16 kernels take ~200x
  longer) bf16 is simulated instead: every layer's inputs, weights and outputs rounded to bf16,
  the arithmetic in fp32 (said in the output).

Targets (issue #4): <= 30 s and <= 4 GB on the 2-core CPU; >= 20x over the naive run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

SHAPE = (88, 576, 576)
SPACING = (0.625, 0.625, 0.625)


def _phantom(seed: int = 2024):
    from napari_c2w.phantom import generate_phantom

    return generate_phantom(seed, shape=SHAPE, spacing=SPACING)


def _model_set(args, folder: Path) -> list[Path]:
    """Sources for load_model_set: given folders, or untrained checkpoints of a preset."""
    if args.untrained_preset is None:
        return list(args.models)
    from napari_c2w.models import build_model, save_checkpoint
    from napari_c2w.stages import PIPELINE_STAGES

    folder.mkdir(parents=True, exist_ok=True)
    for stage in PIPELINE_STAGES:
        preset = "localizer" if stage == "localizer" else args.untrained_preset
        path = folder / f"{stage}.pt"
        if not path.exists():
            save_checkpoint(path, build_model(preset, 1, 1), {"stage": stage, "preset": preset})
    return [folder]


def child_pipeline(sources: list[str], amp: bool, options: dict | None = None) -> dict:
    """One pipeline run in this (fresh) process: time, peak memory, stage timings."""
    from napari_c2w.infer import InferenceOptions, load_model_set, segment
    from napari_c2w.models import set_threads

    set_threads()
    volume = _phantom().image
    models = load_model_set(sources)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    options = dict(options or {})
    profile = options.pop("profile", False)
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as profiler

        with profiler(activities=[ProfilerActivity.CPU]) as prof:
            pred = segment(volume, models, InferenceOptions(device="cpu", amp=amp, **options))
    else:
        pred = segment(volume, models, InferenceOptions(device="cpu", amp=amp, **options))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "peak_gib": peak / 2**20,
        "before_gib": base / 2**20,
        "timings": pred.timings,
        "stage_boxes": pred.roi["stage_boxes_in_roi"],
        "alternates": pred.roi.get("alternates"),
        "threads": torch.get_num_threads(),
        "profile": prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18)
        if profile
        else None,
    }


def run_child(sources: list[Path], amp: bool, options: dict | None = None) -> dict:
    here, files = str(Path(__file__).parent), [str(s) for s in sources]
    code = (
        f"import json,sys; sys.path.insert(0, {here!r}); import bench_inference as b; "
        f"print('RESULT', json.dumps(b.child_pipeline({files!r}, {amp!r}, {options!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", check=True
    ).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT"))[7:])


def naive(models, limit: int | None) -> dict:
    """fp32, default layout, MONAI sliding windows of the wall network over the whole volume."""
    from monai.inferers import SlidingWindowSplitter

    from napari_c2w.preprocess import normalize_intensity

    wall = models["wall"]
    volume = _phantom().image
    x = torch.from_numpy(normalize_intensity(np.asarray(volume.array, np.float32)))[None, None]
    roi = tuple(wall.meta["roi"])
    windows = list(SlidingWindowSplitter(roi, overlap=0.25)(x))
    n = len(windows)
    todo = windows[: limit or n]
    model = wall.model.float().to(memory_format=torch.contiguous_format).eval()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for patch, _ in todo:
            model(patch.contiguous())
    seconds = time.perf_counter() - t0
    return {
        "windows": n,
        "timed": len(todo),
        "seconds": seconds * n / len(todo),
        "extrapolated": len(todo) < n,
    }


def conv_reference(repeats: int = 5) -> tuple[float, str]:
    """GFLOP/s of one channels-last 3x3x3 conv 32->32 on 2x32x32x96x96 (forward), in the
    precision the pipeline computes in on this CPU (bf16 where it is native, else fp32)."""
    from napari_c2w.models import amp_dtype

    dtype = amp_dtype(torch.device("cpu"))
    conv = torch.nn.Conv3d(32, 32, 3, padding=1).to(memory_format=torch.channels_last_3d)
    x = torch.randn(2, 32, 32, 96, 96).contiguous(memory_format=torch.channels_last_3d)
    flops = 2 * 32 * 32 * 27 * 2 * 32 * 96 * 96
    cast = torch.autocast("cpu", dtype=dtype) if dtype is not None else contextlib.nullcontext()
    with torch.inference_mode(), cast:
        conv(x)
        t0 = time.perf_counter()
        for _ in range(repeats):
            conv(x)
    return flops * repeats / (time.perf_counter() - t0) / 1e9, "bf16" if dtype is not None else "fp32"


def n_windows(size, window, overlap: float = 0.25) -> int:
    """How many windows MONAI's sliding_window_inference runs (its dense_patch_slices)."""
    total = 1
    for n, wanted in zip(size, window, strict=True):
        w = min(wanted, n)
        step = max(1, int(w * (1 - overlap)))
        total *= next(d for d in range(n + 1) if d * step + w >= n) + 1
    return total


def network_gflops(models, timings: dict, stage_boxes: dict) -> float:
    from napari_c2w.models import count_flops
    from napari_c2w.preprocess import resampled_shape
    from napari_c2w.stages import PIPELINE_STAGES

    flops, seconds = 0, 0.0
    for stage in PIPELINE_STAGES[1:]:  # on the ROI; the localizer is counted below
        meta = models[stage].meta
        window = meta.get("patch") or meta["roi"]  # the pipeline's default windows
        box = stage_boxes.get(stage)  # wall and scar may run on a crop of the ROI
        region = [hi - lo for lo, hi in box] if box else meta["roi"]
        flops += n_windows(region, window) * count_flops(models[stage].model, (1, 1, *window))
        seconds += timings[stage]
    loc = models["localizer"]
    shape = resampled_shape(SHAPE, SPACING, loc.meta["spacing"])
    padded = [max(r, -(-n // 16) * 16) for n, r in zip(shape, loc.meta["roi"], strict=True)]
    flops += count_flops(loc.model, (1, 1, *padded))
    seconds += timings["localizer"]
    return flops / seconds / 1e9


@contextlib.contextmanager
def simulated_bf16(models):
    """Round every leaf layer's inputs, weights and outputs to bf16 (arithmetic stays fp32):
    the precision autocast would give, without bf16 kernels."""

    def rnd(t):
        return t.to(torch.bfloat16).float() if isinstance(t, torch.Tensor) and t.is_floating_point() else t

    handles, saved = [], []
    for stage in models.values():
        for module in stage.model.modules():
            if next(module.children(), None) is not None:
                continue
            handles.append(module.register_forward_pre_hook(lambda m, args: tuple(rnd(a) for a in args)))
            handles.append(module.register_forward_hook(lambda m, args, out: rnd(out)))
            for param in module.parameters(recurse=False):
                saved.append((param, param.detach().clone()))
                param.data.copy_(rnd(param.data))
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        for param, value in saved:
            param.data.copy_(value)


def accuracy(models, cases: int, simulate: bool) -> list[dict]:
    from napari_c2w.infer import InferenceOptions, segment
    from napari_c2w.metrics import compare_masks
    from napari_c2w.phantom import generate_phantom

    rows = []
    for seed in range(5000, 5000 + cases):
        ph = generate_phantom(seed, spacing=(1.25, 0.625, 0.625))
        out = {False: segment(ph.image, models, InferenceOptions(device="cpu", amp=False))}
        with simulated_bf16(models) if simulate else contextlib.nullcontext():
            out[True] = segment(ph.image, models, InferenceOptions(device="cpu", amp=True))
        for s in ("cavity", "wall", "scar"):
            rows.append(
                {
                    "case": seed,
                    "structure": s,
                    "bf16_vs_fp32": compare_masks(
                        out[True].labels[s], out[False].labels[s], ph.image.spacing
                    )["dice"],
                    "fp32_vs_truth": compare_masks(out[False].labels[s], ph.labels[s], ph.image.spacing)[
                        "dice"
                    ],
                    "bf16_vs_truth": compare_masks(out[True].labels[s], ph.labels[s], ph.image.spacing)[
                        "dice"
                    ],
                }
            )
    return rows


def print_profile(sources, models) -> None:
    """Pipeline runs under torch's profiler, in fresh processes, as the pipeline runs on this CPU
    and forced to fp32 PyTorch (what a CPU without native bf16 and without OpenVINO runs):
    threads, each stage's windows (count, size, overlap) and the operators taking the most CPU
    time (layout conversions show as copy_ / _to_copy)."""
    from napari_c2w.infer.forward import window_count

    for amp, what in ((True, "as the pipeline runs here"), (False, "fp32 PyTorch, as without native bf16")):
        prof = run_child(sources, amp=amp, options={"profile": True, "runtime": "torch"})
        print(f"profile, {what}: {prof['threads']} threads; {prof['seconds']:.1f} s under the profiler")
        for stage, box in (prof["stage_boxes"] or {}).items():
            shape = [b - a for a, b in box]
            window = tuple(models[stage].meta.get("patch") or models[stage].meta["roi"])
            print(
                f"  {stage}: region {shape}, windows {window_count(shape, window, 0.25)} of {window} "
                "(overlap 0.25)"
            )
        print(prof["profile"])


def run_variants(models, sources, fast: dict) -> dict:
    """The pipeline in the same run with the wall's alternate on every scan (as before), with
    the sliding windows of the training patch's depth only (as before), in fp32
    through PyTorch and through OpenVINO (where installed); each result lands in ``fast``
    under its name. Returns the names run."""
    variants = {}
    if "wall_contrast" in models:
        variants["the wall's alternate on every scan (before)"] = (True, {"wall_alternate_below": None})
    from napari_c2w.infer import InferenceOptions

    deep = InferenceOptions().deep_windows  # the other setting of deep windows (regions.deep_window)
    name = "two overlapping windows along z (before)" if deep else "one deeper window along z (deep_windows)"
    variants[name] = (True, {"deep_windows": not deep})
    # without native bf16 this was the pipeline before OpenVINO; with it, what such a CPU ran
    variants["fp32 through PyTorch"] = (False, {"runtime": "torch"})
    from napari_c2w.infer.runtimes import openvino_available, openvino_network

    if openvino_available():
        for stage in models.values():  # converted once and cached on disk, as a user's first run does
            openvino_network(stage, tuple(stage.meta.get("patch") or stage.meta["roi"]))
        variants["fp32 through OpenVINO (what 'auto' runs without native bf16)"] = (
            False,
            {"runtime": "openvino"},
        )
    else:
        print("OpenVINO is not installed: the fp32 path runs PyTorch (pip install 'napari-c2w[openvino]')")
    for name, (amp, options) in variants.items():
        other = run_child(sources, amp=amp, options=options)
        print(
            f"pipeline, {name}: {other['seconds']:.1f} s ({other['seconds'] / fast['seconds']:.2f}x the "
            f"above); steps {other['timings']}"
        )
        fast[name] = other
    return variants


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--models", type=Path, action="append", default=[], help="model folder / run (repeatable)"
    )
    ap.add_argument("--untrained-preset", help="benchmark random weights of this preset (no weights needed)")
    ap.add_argument("--naive-limit", type=int, default=2, help="naive windows to time (0: all)")
    ap.add_argument("--accuracy-cases", type=int, default=2, help="phantoms for the bf16-vs-fp32 Dice")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--repeats", type=int, default=3, help="pipeline runs (fresh processes); the median is reported"
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also profile one pipeline run (torch.profiler: the operators taking the most CPU time, "
        "layout conversions among them) and print the windows of each stage",
    )
    args = ap.parse_args()
    from napari_c2w.infer import load_model_set
    from napari_c2w.models import set_threads

    threads = set_threads()
    sources = _model_set(args, Path("/tmp/napari-c2w-bench-models"))
    models = load_model_set(sources)
    print(
        f"{SHAPE} at {SPACING} mm; {threads} threads; presets "
        + ", ".join(f"{s}={m.meta['preset']}" for s, m in models.items())
    )
    from napari_c2w.models import cpu_features, cpu_supports_bf16

    print(f"CPU: {cpu_features()}")
    precision = "bf16" if cpu_supports_bf16() else "fp32 (this CPU has no native bf16)"
    runs = sorted(
        (run_child(sources, amp=True) for _ in range(max(1, args.repeats))), key=lambda r: r["seconds"]
    )
    fast = runs[len(runs) // 2]  # the median run: this VM's timings vary by up to 20 % between runs
    if len(runs) > 1:
        times = ", ".join(f"{r['seconds']:.2f}" for r in runs)
        print(f"pipeline runs, each in a fresh process: {times} s (the median below)")
    print(
        f"pipeline ({precision}, channels-last): {fast['seconds']:.1f} s, peak {fast['peak_gib']:.2f} GiB "
        f"(process before the run: {fast['before_gib']:.2f} GiB); steps {fast['timings']}; "
        f"alternates {fast['alternates']}"
    )
    if args.profile:
        print_profile(sources, models)
    variants = run_variants(models, sources, fast)
    ref, ref_dtype = conv_reference()
    achieved = network_gflops(models, fast["timings"], fast["stage_boxes"])
    print(
        f"networks: {achieved:.0f} GFLOP/s achieved vs {ref:.0f} GFLOP/s for one {ref_dtype} "
        f"channels-last conv "
        f"({100 * achieved / ref:.0f}%)"
    )
    nv = naive(models, args.naive_limit or None)
    note = f" (extrapolated from {nv['timed']} of {nv['windows']} windows)" if nv["extrapolated"] else ""
    print(
        f"naive (fp32, default layout, whole volume, {nv['windows']} windows): {nv['seconds']:.0f} s{note}; "
        f"pipeline is {nv['seconds'] / fast['seconds']:.1f}x faster"
        + "".join(
            f"; {name}: {nv['seconds'] / r['seconds']:.1f}x" for name, r in fast.items() if name in variants
        )
    )
    rows, simulate = [], not cpu_supports_bf16()
    if args.accuracy_cases:
        if simulate:
            print("bf16 simulated: this CPU has no native bf16 (the pipeline runs fp32 here)")
        rows = accuracy(models, args.accuracy_cases, simulate)
    bf16 = "simulated bf16" if simulate else "bf16"
    for s in ("cavity", "wall", "scar"):
        sel = [r for r in rows if r["structure"] == s]
        if sel:
            print(
                f"{s:>6}: Dice {bf16} vs fp32 {np.mean([r['bf16_vs_fp32'] for r in sel]):.4f}; vs truth fp32 "
                f"{np.nanmean([r['fp32_vs_truth'] for r in sel]):.3f}, {bf16} "
                f"{np.nanmean([r['bf16_vs_truth'] for r in sel]):.3f} ({len(sel)} phantoms)"
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "pipeline": fast,
                    "naive": nv,
                    "conv_gflops": ref,
                    "conv_dtype": ref_dtype,
                    "network_gflops": achieved,
                    "accuracy": rows,
                    "bf16_simulated": simulate,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
