"""Two napari-c2w torch jobs on one CPU: a prediction beside a training run, with and without
sharing the cores (:mod:`napari_c2w.models.share`).

    python benchmarks/bench_threads.py [--seconds 40]

Runs the pipeline on the 88x576x576 benchmark phantom alone, then beside a training job (the
bundled cavity network, batch 2 of 32x128x128, bf16 where native; registered and checking its
share every iteration as ``napari-c2w-train`` does), once with sharing on and once with
``NAPARI_C2W_SHARE_CORES=0`` (each job takes every core, as before). Prints the prediction's
seconds and its slowdown against alone, and the training job's seconds per iteration.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

TRAINER = """
import time, torch
from napari_c2w.infer import load_model_set
from napari_c2w.models import cpu_supports_bf16, set_threads
from napari_c2w.models.share import cpu_job, fair_threads
set_threads()
m = load_model_set([])["cavity"].model.train()
opt = torch.optim.SGD(m.parameters(), lr=1e-6)
x = torch.randn(2, 1, 32, 128, 128)
dtype = torch.bfloat16 if cpu_supports_bf16() else torch.float32
n, t = 0, time.perf_counter()
with cpu_job("train"):
    print("READY", flush=True)
    while time.perf_counter() - t < {seconds}:
        fair_threads()
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            loss = m(x).float().mean()
        loss.backward(); opt.step(); opt.zero_grad(); n += 1
print("SECONDS_PER_ITERATION", (time.perf_counter() - t) / n, flush=True)
"""


def predict_once(volume, models) -> float:
    from napari_c2w.infer import InferenceOptions, segment

    t0 = time.perf_counter()
    segment(volume, models, InferenceOptions(device="cpu"))
    return time.perf_counter() - t0


def beside_training(volume, models, seconds: float, shared: bool) -> tuple[float, float]:
    env = {**os.environ, "NAPARI_C2W_SHARE_CORES": "1" if shared else "0"}
    os.environ["NAPARI_C2W_SHARE_CORES"] = env["NAPARI_C2W_SHARE_CORES"]
    job = subprocess.Popen(
        [sys.executable, "-c", TRAINER.replace("{seconds}", str(seconds))],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert job.stdout.readline().strip() == "READY"
    time.sleep(3)  # the training job is in its loop
    took = predict_once(volume, models)
    out = job.communicate()[0]
    per_it = float(next(ln for ln in out.splitlines() if ln.startswith("SECONDS_PER_ITERATION")).split()[1])
    return took, per_it


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=40.0, help="how long the training job runs")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_inference import _phantom
    from napari_c2w.infer import load_model_set
    from napari_c2w.models import cpu_features, set_threads

    threads = set_threads()
    print(f"CPU: {cpu_features()}; {threads} threads")
    volume, models = _phantom().image, load_model_set([])
    predict_once(volume, models)  # warm: kernels chosen, memory allocated
    alone = min(predict_once(volume, models) for _ in range(2))
    print("| prediction | seconds | × alone | training s/iteration |")
    print("|---|---|---|---|")
    print(f"| alone | {alone:.2f} | 1.00 | - |")
    for shared in (False, True):
        took, per_it = beside_training(volume, models, args.seconds, shared)
        what = (
            "beside training, cores shared" if shared else "beside training, every job on every core (before)"
        )
        print(f"| {what} | {took:.2f} | {took / alone:.2f} | {per_it:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
