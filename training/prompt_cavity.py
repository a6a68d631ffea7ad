"""Train the prompt-conditioned cavity network of issue 30 (``weights/cavity_prompt.pt``).

    .venv/bin/python training/prompt_cavity.py --data DATA/la2018-train --output RUN
        [--iterations 2500] [--minutes M] [--resume]

The bundled cavity network with three more input channels (positive clicks, negative clicks, the
current label; :mod:`napari_c2w.correct.guidance`) whose first-layer filters start at zero, so it
starts as today's model (DeepEdit / nnInteractive recipe). Each iteration draws the cavity
training batch (the strong augmentations of ``training/cpu/robust-cavity-ft.yaml``: contrast
remaps, tissue redraws, thick slices, tight fields of view, noise), builds the label the
annotator starts from, and clicks on its errors:

- half the time the bundled cavity network's own prediction of the augmented patch (its real
  failures under contrast shift), a quarter a perturbed reference (eroded, dilated, a lobe cut
  off, a blob of the surroundings added), a quarter an empty label (a structure the model missed);
- 0-6 clicks at the centres of the largest error regions, as the simulated annotator of
  ``benchmarks/bench_interactive.py`` places them.

Loss: Dice + cross-entropy (MONAI) against the reference. Checkpoints every 100 iterations
(atomic); ``--resume`` continues from ``RUN/last.pt``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def perturb(ref: np.ndarray, spacing, rng: np.random.Generator) -> np.ndarray:
    """A wrong version of ``ref``: eroded or dilated, a lobe cut off, a blob added."""
    from scipy import ndimage as ndi

    m = ref.astype(bool)
    r = float(rng.uniform(1.0, 4.0))
    if rng.random() < 0.5:
        d = ndi.distance_transform_edt(m, sampling=spacing)
        m = d > r
    else:
        d = ndi.distance_transform_edt(~m, sampling=spacing)
        m = d <= r
    if m.any() and rng.random() < 0.6:  # cut off everything beyond a random plane through the label
        idx = np.array(np.nonzero(m))
        c = idx[:, rng.integers(idx.shape[1])]
        n = rng.normal(size=3)
        g = np.ogrid[tuple(slice(0, s) for s in m.shape)]
        side = sum((gi - ci) * ni * s for gi, ci, ni, s in zip(g, c, n, spacing, strict=True)) > 0
        m &= ~side
    if rng.random() < 0.5:  # add a blob next to the label
        c = np.array([rng.integers(s) for s in m.shape])
        g = np.ogrid[tuple(slice(0, s) for s in m.shape)]
        rad = float(rng.uniform(5, 15))
        m |= sum(((gi - ci) * s) ** 2 for gi, ci, s in zip(g, c, spacing, strict=True)) <= rad**2
    return m.astype(np.float32)


def build_inputs(image, ref, prior_net, spacing, rng, amp):  # noqa: PLR0917
    """The (B, 4, ...) input and (B, 1, ...) target of one batch."""
    from napari_c2w.correct.guidance import error_centres, guidance

    b = image.shape[0]
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        own = torch.sigmoid(prior_net(image).float()).numpy() >= 0.5
    chans = []
    for i in range(b):
        r = ref[i, 0].numpy() > 0
        u = rng.random()
        if u < 0.5:
            prior = own[i, 0].astype(np.float32)
        elif u < 0.75:
            prior = perturb(r, spacing, rng)
        else:
            prior = np.zeros(r.shape, np.float32)
        n = int(rng.integers(0, 7))
        clicks = error_centres(prior, r, spacing, n) if n else []
        g = guidance(r.shape, clicks, spacing)
        chans.append(np.concatenate([g, prior[None]]))
    extra = torch.from_numpy(np.stack(chans))
    return torch.cat([image, extra], 1)


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, nargs="+", required=True, help="folders of case stores with a cavity")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--iterations", type=int, default=2500)
    p.add_argument("--minutes", type=float, default=None, help="stop after this many minutes (checkpointed)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--seed", type=int, default=30)
    args = p.parse_args(argv)

    from monai.losses import DiceCELoss

    from napari_c2w.correct.guidance import CHANNELS
    from napari_c2w.correct.network import widen_input
    from napari_c2w.infer import load_model_set
    from napari_c2w.models import load_checkpoint, save_checkpoint
    from napari_c2w.models.device import cpu_supports_bf16
    from napari_c2w.train.augment import PatchSampler
    from napari_c2w.train.config import load_config
    from napari_c2w.train.data import dataset_stores, prepare_all

    torch.set_num_threads(2)
    config = load_config(REPO / "training" / "cpu" / "robust-cavity-ft.yaml")
    stores = [s for d in args.data for s in dataset_stores(d)]
    print(f"preparing {len(stores)} cases", flush=True)
    cases = prepare_all(stores, config)
    sampler = PatchSampler(cases, config, "cavity")
    spacing = tuple(config.data.model_spacing)
    bundled = load_model_set(stages=("cavity",))["cavity"]
    prior_net = copy.deepcopy(bundled.model).eval()
    last = args.output / "last.pt"
    start = 0
    if args.resume and last.exists():
        model, meta = load_checkpoint(last)
        start = int(meta.get("iteration", 0))
    else:
        if args.output.exists() and any(args.output.iterdir()):
            p.error(f"{args.output} is not empty: pass --resume or a new folder")
        model = widen_input(copy.deepcopy(bundled.model), 4)
    args.output.mkdir(parents=True, exist_ok=True)
    model.train()
    amp = cpu_supports_bf16()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-5)
    if args.resume and (args.output / "optim.pt").exists():
        opt.load_state_dict(torch.load(args.output / "optim.pt", weights_only=True))
    loss_fn = DiceCELoss(sigmoid=True)
    rng = np.random.default_rng([args.seed, start])
    t0, losses = time.perf_counter(), []
    derived = ("architecture", "in_channels", "out_channels", "dual", "spatial_dims")
    meta = {k: v for k, v in bundled.meta.items() if k not in derived}
    meta.update(stage="cavity", prompt={"channels": list(CHANNELS)})
    for it in range(start, args.iterations):
        batch = sampler.batch(it)
        x = build_inputs(batch["image"], batch["cavity"], prior_net, spacing, rng, amp)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(x)
        loss = loss_fn(out.float(), batch["cavity"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss))
        done = it + 1
        out_of_time = args.minutes is not None and time.perf_counter() - t0 > args.minutes * 60
        if done % 100 == 0 or done == args.iterations or out_of_time:
            secs = (time.perf_counter() - t0) / max(1, done - start)
            print(f"it {done} loss {np.mean(losses[-100:]):.4f} {secs:.2f} s/it", flush=True)
            save_checkpoint(last, model, {**meta, "iteration": done}, overwrite=True)
            tmp = args.output / "optim.pt.tmp"
            torch.save(opt.state_dict(), tmp)
            tmp.replace(args.output / "optim.pt")
            (args.output / "log.json").write_text(json.dumps({"iteration": done, "loss": losses[-100:]}))
        if out_of_time:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
