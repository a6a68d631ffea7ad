"""Threshold calibration: the foreground threshold that maximises mean Dice on validation cases.

A network trained with foreground-oversampled patches and a Dice loss tends to over-segment
cases it has not seen (on held-out la2018 cases the bundled cavity model predicted about 10 %
too much volume at 0.5). Like nnU-Net, which chooses its post-processing on validation
folds, the threshold is chosen on the run's validation cases, never on test cases, and stored
in the checkpoint (``meta["threshold"]``), where the inference pipeline reads it.

Calibrated on clean validation cases alone, a threshold can sit at the edge of a flat curve that
a scan of another protocol falls off: the bundled scar's curve gained 0.004 Dice from 0.5 to 0.75
on its validation cases, while on unseen phantoms of another contrast and under SynthSeg tissues
0.75 lost 0.03-0.06 against 0.5 (docs/robustness.md). ``under_shift`` therefore also scores every
validation case under each of the training augmentation's intensity changes at its full range
(:data:`INTENSITY_SHIFTS`) and keeps the threshold best on the worst of them (the lowest of the
per-shift mean curves), as a robust choice would; 0.5 still wins unless another gains ``min_gain``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .. import metrics
from ..stages import CALIBRATED_STAGES, STAGES
from .data import Prepared
from .evaluate import predict_volume

#: Thresholds tried (0.30 to 0.90).
THRESHOLDS: tuple[float, ...] = tuple(round(0.30 + 0.05 * i, 2) for i in range(13))
#: A threshold other than 0.5 is kept only when it gains at least this much mean Dice.
MIN_GAIN = 0.002
#: The training augmentation's intensity changes (``TrainConfig.augment`` keys, each drawn over its
#: default range) under which ``under_shift`` calibration scores the validation cases.
INTENSITY_SHIFTS = ("contrast", "histogram_shift", "contrast_remap", "bias_field", "noise", "blur")


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


def shifted_cases(cases: list[Prepared], shift: str, seed: int = 0) -> list[Prepared]:
    """Copies of ``cases`` under ``shift``, one of :data:`INTENSITY_SHIFTS` (always applied, drawn
    with ``seed``): the MONAI transform training draws it with (:mod:`.augment`). One shift at a
    time, so that calibration holds one extra copy of the validation cases, not six."""
    import dataclasses

    from .augment import build_augment
    from .config import default_augment

    transform = build_augment({shift: {**default_augment()[shift], "prob": 1.0}}, [])
    transform.set_random_state(seed)
    return [
        dataclasses.replace(c, image=np.asarray(transform({"image": c.image[None]})["image"], np.float32)[0])
        for c in cases
    ]


def choose_threshold(
    rows: list[dict], thresholds: tuple[float, ...] = THRESHOLDS, min_gain: float = MIN_GAIN
) -> dict:
    """The threshold of highest mean Dice over ``rows``; 0.5 unless another gains ``min_gain``.

    Rows with a ``shift`` (one of :data:`INTENSITY_SHIFTS`) are grouped by it (no ``shift``: the clean
    cases) and the threshold maximises the lowest of the groups' mean curves.
    """
    if not rows:
        raise ValueError("no validation case holds the target: nothing to calibrate on")
    if 0.5 not in thresholds:
        raise ValueError("the thresholds must include 0.5, the uncalibrated default")
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r.get("shift") or "none", []).append(r["dice"])
    curves = {g: np.mean(d, axis=0) for g, d in groups.items()}
    mean = np.min(list(curves.values()), axis=0)
    base = thresholds.index(0.5)
    best = int(np.argmax(mean))
    if mean[best] - mean[base] < min_gain:
        best = base
    return {
        "threshold": float(thresholds[best]),
        "mean_dice": round(float(mean[best]), 5),
        "mean_dice_at_0.5": round(float(mean[base]), 5),
        "cases": list(dict.fromkeys(r["case"] for r in rows)),
        "curve": _curve(thresholds, mean),
        "min_gain": min_gain,
        **(
            {"criterion": "worst shift", "curves": {g: _curve(thresholds, c) for g, c in curves.items()}}
            if len(curves) > 1
            else {}
        ),
    }


def _curve(thresholds, values) -> dict[str, float]:
    return {f"{t:.2f}": round(float(m), 5) for t, m in zip(thresholds, values, strict=True)}


def calibrate(
    model: torch.nn.Module, cases: list[Prepared], target: str, patch, *, under_shift: bool = False, **predict
) -> dict:
    """:func:`threshold_curve` (``predict``: its device, amp_ctx, output) then :func:`choose_threshold`,
    with ``under_shift`` on the cases and on their :func:`shifted_cases` copies too."""
    rows = threshold_curve(model, cases, target, patch, **predict)
    if under_shift:
        for name in INTENSITY_SHIFTS:
            copies = shifted_cases(cases, name)
            rows += [{**r, "shift": name} for r in threshold_curve(model, copies, target, patch, **predict)]
    return choose_threshold(rows)


def calibrate_checkpoint(
    checkpoint,
    data,
    output,
    *,
    device: str = "auto",
    progress=None,
    under_shift: bool | None = None,
) -> dict:
    """Calibrate an existing checkpoint's threshold on its own validation cases (``under_shift``:
    see :func:`calibrate`; None: the stage's default, ``TrainConfig.calibrate_under_shift``).

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
    if under_shift is None:
        under_shift = config.calibrate_under_shift
    record = calibrate(
        model,
        cases,
        STAGES[stage].target,
        patch,
        under_shift=under_shift,
        device=dev,
        amp_ctx=lambda: autocast(dev),
    )
    record["missing_cases"] = [c for c in wanted if c not in by_id]
    new_meta = {**meta, "threshold": record["threshold"], "threshold_calibration": record}
    dtype = storage_dtype(read_checkpoint(checkpoint)["state_dict"])
    save_checkpoint(output, model.cpu(), new_meta, dtype=dtype)
    return record
