"""Threshold calibration: the foreground threshold that maximises mean Dice on validation cases.

A network trained with foreground-oversampled patches and a Dice loss tends to over-segment
cases it has not seen (on held-out la2018 cases the bundled cavity model predicted about 10 %
too much volume at 0.5). Like nnU-Net, which chooses its post-processing on validation
folds, the threshold is chosen on the run's validation cases, never on test cases, and stored
in the checkpoint (``meta["threshold"]``), where the inference pipeline reads it.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .. import metrics
from ..stages import CALIBRATED_STAGES
from .data import Prepared
from .evaluate import predict_volume

#: Thresholds tried (0.30 to 0.90).
THRESHOLDS: tuple[float, ...] = tuple(round(0.30 + 0.05 * i, 2) for i in range(13))
#: A threshold other than 0.5 is kept only when it gains at least this much mean Dice.
MIN_GAIN = 0.002
#: Stages whose threshold the pipeline applies (the localizer only places the ROI).


def threshold_curve(
    model: torch.nn.Module,
    cases: list[Prepared],
    target: str,
    patch,
    *,
    device: torch.device,
    amp_ctx=contextlib.nullcontext,
    output: str | None = None,
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> list[dict]:
    """Dice at each threshold for every case holding ``target`` (one prediction per case).

    The cavity keeps its largest component at each threshold (the pipeline keeps the one its
    localizer's atrium overlaps most, on a validation patch around the atrium the same one).
    """
    from ..masks.components import keep_largest_component

    rows = []
    for case in cases:
        if target not in case.labels:
            continue
        prob = predict_volume(model, case.image, patch, device=device, amp_ctx=amp_ctx, output=output)
        ref = case.labels[target] != 0
        dice = []
        for t in thresholds:
            mask = prob >= t
            if target == "cavity" and mask.any():
                mask, _ = keep_largest_component(mask)
            dice.append(round(metrics.dice(mask, ref), 5))
        rows.append({"case": case.case_id, "dice": dice})
    return rows


def choose_threshold(
    rows: list[dict], thresholds: tuple[float, ...] = THRESHOLDS, min_gain: float = MIN_GAIN
) -> dict:
    """The threshold of highest mean Dice over ``rows``; 0.5 unless another gains ``min_gain``."""
    if not rows:
        raise ValueError("no validation case holds the target: nothing to calibrate on")
    if 0.5 not in thresholds:
        raise ValueError("the thresholds must include 0.5, the uncalibrated default")
    mean = np.mean([r["dice"] for r in rows], axis=0)
    base = thresholds.index(0.5)
    best = int(np.argmax(mean))
    if mean[best] - mean[base] < min_gain:
        best = base
    return {
        "threshold": float(thresholds[best]),
        "mean_dice": round(float(mean[best]), 5),
        "mean_dice_at_0.5": round(float(mean[base]), 5),
        "cases": [r["case"] for r in rows],
        "curve": {f"{t:.2f}": round(float(m), 5) for t, m in zip(thresholds, mean, strict=True)},
        "min_gain": min_gain,
    }


def calibrate(model: torch.nn.Module, cases: list[Prepared], target: str, patch, **predict) -> dict:
    """:func:`threshold_curve` (``predict``: its device, amp_ctx, output) then :func:`choose_threshold`."""
    return choose_threshold(threshold_curve(model, cases, target, patch, **predict))


def calibrate_checkpoint(
    checkpoint,
    data,
    output,
    *,
    device: str = "auto",
    progress=None,
) -> dict:
    """Calibrate an existing checkpoint's threshold on its own validation cases.

    The validation case ids recorded in the checkpoint (``meta["training_data"]["val_cases"]``)
    are looked up in the dataset folders ``data``; the calibrated copy is written to the new
    file ``output`` (never over an existing file), in the storage dtype of the original.

    Returns:
        The calibration record (also stored as ``meta["threshold_calibration"]``).
    """
    from pathlib import Path

    from ..errors import InputError
    from ..models import autocast, load_checkpoint, read_checkpoint, save_checkpoint, select_device
    from ..models.checkpoint import storage_dtype
    from .config import default_config
    from .data import dataset_stores, prepare_all

    checkpoint, output = Path(checkpoint), Path(output)
    if output.exists():
        raise InputError(output, "exists; calibration never overwrites a checkpoint.", "Name a new file.")
    model, meta = load_checkpoint(checkpoint)
    stage = meta.get("stage")
    if stage not in CALIBRATED_STAGES:
        raise InputError(
            checkpoint,
            f"is a {stage!r} model; only {', '.join(CALIBRATED_STAGES)} thresholds are calibrated.",
        )
    wanted = list((meta.get("training_data") or {}).get("val_cases") or [])
    if not wanted:
        raise InputError(checkpoint, "records no validation cases to calibrate on.")
    by_id = {p.name.removesuffix(".ome.zarr"): p for p in dataset_stores(data)}
    found = [by_id[c] for c in wanted if c in by_id]
    if not found:
        raise InputError(
            None,
            f"none of the checkpoint's {len(wanted)} validation cases ({', '.join(wanted[:4])}, ...) "
            "is in the given datasets.",
            "Pass the dataset folders the model was trained from.",
        )
    config = default_config(stage)
    config.data.model_spacing = list(meta["spacing"])
    config.data.roi = list(meta["roi"])
    patch = list(meta.get("patch") or meta["roi"])
    config.data.patch = patch
    cases = prepare_all(found, config, progress, jitter_margin=False)
    dev = select_device(device)
    model = model.to(dev)
    record = calibrate(model, cases, stage, patch, device=dev, amp_ctx=lambda: autocast(dev))
    record["missing_cases"] = [c for c in wanted if c not in by_id]
    new_meta = {**meta, "threshold": record["threshold"], "threshold_calibration": record}
    dtype = storage_dtype(read_checkpoint(checkpoint)["state_dict"])
    save_checkpoint(output, model.cpu(), new_meta, dtype=dtype)
    return record
