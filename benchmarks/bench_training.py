"""Where a fine-tuning iteration's time goes on this CPU: data, forward, backward, optimiser.

    python benchmarks/bench_training.py [--iterations 12] [--stage cavity] [--amp bf16 off]
        [--tune all first norm lora]

Fine-tunes the bundled ``--stage`` network on 4 phantom cases (3 for training) exactly as
``napari-c2w-train --from bundled`` does (``napari_c2w.train.train``), stopping after
``--iterations``, once per ``--amp`` setting, and times every iteration's parts by wrapping the
trainer's own calls: the patch sampler (data and augmentation), the network's forward, the
backward pass, the optimiser step, and the rest of the step (loss, gradient clipping). The first
two iterations are left out (kernel selection). Prints the median seconds of each part and its
share, with the CPU's features. ``--tune`` compares the parts of the network a fine-tune can
train (``napari-c2w-train --tune``, ``train/tune.py``): the times, and the ratio to ``all`` in
the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

WARMUP = 2


@contextlib.contextmanager
def timing(parts: dict):
    """Time the trainer's calls of one run into ``parts`` (name -> list of seconds per iteration)."""
    from napari_c2w.train import augment, loop

    sampler_batch, step = augment.PatchSampler.batch, loop.Trainer._step
    clock = {"forward": 0.0, "backward": 0.0, "optimiser": 0.0}

    def timed(fn, key):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                clock[key] += time.perf_counter() - t0

        return wrapper

    def batch(self, iteration):
        t0 = time.perf_counter()
        out = sampler_batch(self, iteration)
        parts["data"].append(time.perf_counter() - t0)
        return out

    def instrumented(self, b):
        for k in clock:
            clock[k] = 0.0
        forward, opt_step, backward = self.model.forward, self.optimizer.step, torch.Tensor.backward
        self.model.forward = timed(forward, "forward")
        self.optimizer.step = timed(opt_step, "optimiser")
        torch.Tensor.backward = timed(backward, "backward")
        t0 = time.perf_counter()
        try:
            return step(self, b)
        finally:
            total = time.perf_counter() - t0
            self.model.forward, self.optimizer.step, torch.Tensor.backward = forward, opt_step, backward
            for k, v in clock.items():
                parts[k].append(v)
            parts["rest of the step"].append(total - sum(clock.values()))

    augment.PatchSampler.batch, loop.Trainer._step = batch, instrumented
    try:
        yield
    finally:
        augment.PatchSampler.batch, loop.Trainer._step = sampler_batch, step


def run(stage: str, amp: str, iterations: int, data: Path, out: Path, *, tune: str = "all") -> dict:
    from napari_c2w.train import load_config, train

    config = load_config(
        stage=stage,
        overrides={
            "init": "bundled",
            "iterations": iterations,
            "val_every": 10_000,
            "amp": amp,
            "device": "cpu",
            "tune": {"part": tune},
        },
    )
    parts: dict = defaultdict(list)
    with timing(parts):
        train(config, data, out, stop_after=iterations)
    return {k: float(np.median(v[WARMUP:])) for k, v in parts.items()}


def main(argv=None) -> int:
    from napari_c2w.train.config import TUNES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--stage", default="cavity", choices=("cavity", "wall"))
    ap.add_argument("--amp", nargs="+", default=["bf16", "off"], help="mixed precision settings to compare")
    ap.add_argument(
        "--tune", nargs="+", default=["all"], choices=TUNES, help="parts of the network to train, compared"
    )
    args = ap.parse_args(argv)
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.models import cpu_features, set_threads
    from napari_c2w.phantom import generate_phantom

    print(f"CPU: {cpu_features()}; {set_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cases"
        data.mkdir()
        for seed in range(1, 5):
            case = generate_phantom(seed).to_case()
            write_case_store(case, store_path(data, case.case_id))
        print(
            f"\n{args.stage}, fine-tuned from the bundled weights; median of iterations "
            f"{WARMUP + 1}-{args.iterations}"
        )
        print("| amp | tune | data | forward | backward | optimiser | rest | iteration | vs all |")
        print("|---|---|---|---|---|---|---|---|---|")
        for amp in args.amp:
            whole = None
            for tune in args.tune:
                t = run(args.stage, amp, args.iterations, data, Path(tmp) / f"run-{amp}-{tune}", tune=tune)
                total = sum(t.values())
                whole = total if tune == "all" else whole
                cells = " | ".join(
                    f"{t[k]:.3f} s ({100 * t[k] / total:.0f} %)"
                    for k in ("data", "forward", "backward", "optimiser", "rest of the step")
                )
                ratio = f"{total / whole:.2f}x" if whole else "-"
                print(f"| {amp} | {tune} | {cells} | {total:.3f} s | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
