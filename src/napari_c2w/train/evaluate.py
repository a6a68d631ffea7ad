"""Validation during training: sliding-window prediction of each validation ROI, and
Dice / surface Dice@1 mm / HD95 / ASSD in mm (MONAI) against the reference."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch

from ..metrics import METRICS, compare_masks
from .data import Prepared


def predict_volume(
    model: torch.nn.Module,
    image: np.ndarray,
    patch,
    *,
    device: torch.device,
    amp_ctx=contextlib.nullcontext,
    overlap: float = 0.25,
    output: str | None = None,
) -> np.ndarray:
    """Foreground probability of a (z, y, x) or, for 2D models, slice-by-slice volume."""
    from monai.inferers import sliding_window_inference

    model.eval()
    spatial = 2 if _is_2d(model) else 3
    with torch.inference_mode(), amp_ctx():
        if spatial == 2:
            x = torch.from_numpy(image[:, None]).to(device)  # slices as a batch
            logits = sliding_window_inference(
                x, tuple(patch[-2:]), 8, _select(model, output), overlap=overlap
            )
            prob = torch.sigmoid(logits.float())[:, 0]
        else:
            x = torch.from_numpy(image[None, None]).to(device)
            if device.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last_3d)
            logits = sliding_window_inference(
                x, tuple(patch), 1, _select(model, output), overlap=overlap, mode="gaussian"
            )
            prob = torch.sigmoid(logits.float())[0, 0]
    return prob.cpu().numpy()


def _is_2d(model: torch.nn.Module) -> bool:
    return getattr(model, "spatial_dims", 3) == 2


def _select(model: torch.nn.Module, output: str | None):
    if output is None:
        return model
    return lambda x: model(x)[output]


def validate(
    model: torch.nn.Module,
    cases: list[Prepared],
    target: str,
    patch,
    *,
    device,
    amp_ctx,
    output: str | None = None,
) -> tuple[dict[str, float], list[dict]]:
    """Mean metrics over the validation cases, and one row per case."""
    rows = []
    for case in cases:
        if target not in case.labels:
            continue
        prob = predict_volume(model, case.image, patch, device=device, amp_ctx=amp_ctx, output=output)
        scores = compare_masks(prob >= 0.5, case.labels[target], case.spacing)
        rows.append({"case": case.case_id, **{k: scores[k] for k in METRICS}})
    return summarize(rows), rows


def summarize(rows: list[dict]) -> dict[str, float]:
    """Mean of each metric over cases, ignoring NaN (distances of empty masks)."""
    out = {}
    for key in METRICS:
        values = [r[key] for r in rows if not math.isnan(r[key])]
        out[key] = float(np.mean(values)) if values else math.nan
    return out
