"""Self-describing model checkpoints: the format, and reading it back, checked
(:func:`read_checkpoint`, :func:`load_checkpoint`). Writing, atomically, is
:mod:`napari_c2w.models.checkpoint_write`.

A checkpoint is one ``torch.save`` file holding only tensors and JSON-like values, so it
loads with ``torch.load(weights_only=True)`` (no code runs on load)::

    {"format": "napari-c2w-checkpoint", "format_version": 1,
     "meta": {...}, "state_dict": {...}, "extra_state": {...} | None}

A file stored with ``dtype=torch.int8`` (format version 2) keeps each weight of two or more
dimensions as int8 with one fp32 scale per output channel (``<key>::scale``) and the rest in
bf16: a quarter of fp32, for a bundled model that must fit the package's size budget
(:func:`quantize_state`, :func:`dequantize_state`). Loading gives fp32 weights either way.

``meta`` records what is needed to rebuild and use the model: preset name and definition,
exact architecture, stage, label map, channels, spacing (z, y, x mm), ROI (z, y, x voxels),
intensity normalisation, training-data summary, validation metrics, versions and time.
"""

from __future__ import annotations

import math
import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from ..errors import InputError
from .dual import DualDecoderUNet
from .network import ResNeXtUNet, size_problem
from .presets import ModelPreset

FORMAT = "napari-c2w-checkpoint"
FORMAT_VERSION = 2
#: The suffix of the per-output-channel scales of int8-stored weights.
SCALE_SUFFIX = "::scale"


def quantize_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating weights of 2+ dimensions as symmetric int8 with an fp32 scale per output
    channel (``key + SCALE_SUFFIX``); other floating tensors in bf16, the rest as they are."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        v = value.detach().cpu()
        if v.is_floating_point() and v.ndim >= 2:
            w = v.float()
            scale = w.abs().amax(dim=tuple(range(1, w.ndim)), keepdim=True).clamp_min(1e-12) / 127.0
            out[key] = torch.round(w / scale).clamp(-127, 127).to(torch.int8).contiguous()
            out[key + SCALE_SUFFIX] = scale.contiguous()
        else:
            out[key] = (v.to(torch.bfloat16) if v.is_floating_point() else v).contiguous()
    return out


def dequantize_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`quantize_state` (fp32 weights); a state without scales unchanged."""
    if not any(k.endswith(SCALE_SUFFIX) for k in state):
        return state
    out = {}
    for key, value in state.items():
        if key.endswith(SCALE_SUFFIX):
            continue
        scale = state.get(key + SCALE_SUFFIX)
        out[key] = value.float() * scale if scale is not None else value
    return out


def storage_dtype(state: dict[str, torch.Tensor]) -> torch.dtype:
    """The ``dtype`` a stored state was saved with (``torch.int8`` for a quantized one)."""
    if any(k.endswith(SCALE_SUFFIX) for k in state):
        return torch.int8
    return next((v.dtype for v in state.values() if v.is_floating_point()), torch.float32)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and validate a checkpoint's payload (``meta``, ``state_dict``, ``extra_state``).

    Raises:
        FileNotFoundError: when the file does not exist.
        InputError (a ValueError): when the file is truncated/corrupt or not a napari-c2w checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, KeyError) as exc:
        raise InputError(
            path,
            f"cannot be read as a checkpoint: it is truncated, corrupt or not a torch file ({exc}).",
            "Re-copy or re-train it; a previous version may exist as .prev.",
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(
            path,
            "is a torch file but not a napari-c2w checkpoint (no 'format' marker).",
            "Checkpoints are written by napari_c2w.models.save_checkpoint.",
        )
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(
            path,
            f"has checkpoint format {payload['format_version']}, newer than this napari-c2w "
            f"({__version__}) reads ({FORMAT_VERSION}).",
            "Update napari-c2w.",
        )
    for key in ("meta", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise InputError(path, f"is a napari-c2w checkpoint without a valid {key!r} entry (corrupt).")
    return payload


def load_checkpoint(
    path: str | Path,
    expect_stage: str | Iterable[str] | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[ResNeXtUNet | DualDecoderUNet, dict[str, Any]]:
    """Rebuild a model from a checkpoint and load its weights.

    Args:
        path: checkpoint file.
        expect_stage: stage (or stages) the caller needs, e.g. ``"cavity"``; None accepts any.
        map_location: device the weights are loaded to.

    Returns:
        ``(model, meta)``; the model is in eval mode on ``map_location``.

    Raises:
        InputError (a ValueError): wrong stage, weights that do not fit the stored
            architecture, a file that is not a napari-c2w checkpoint, or a truncated/corrupt file.
    """
    path = Path(path)
    payload = read_checkpoint(path, map_location)
    meta, state = payload["meta"], dequantize_state(payload["state_dict"])
    stage = meta.get("stage")
    if expect_stage is not None:
        wanted = (expect_stage,) if isinstance(expect_stage, str) else tuple(expect_stage)
        if stage not in wanted:
            raise InputError(
                path,
                f"holds a {stage!r}-stage model, expected stage {' or '.join(map(repr, wanted))}.",
                "Choose the checkpoint trained for this step.",
            )
    problem = _meta_problem(meta)
    if problem:
        raise InputError(
            path,
            f"its meta {problem}, so it cannot be used.",
            "The file was edited or written by an incompatible version; re-copy it or train it again.",
        )
    try:
        cls, kwargs = _architecture(meta)
        too_large = size_problem(cls, kwargs)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(path, f"has an architecture this napari-c2w cannot build ({exc}).") from exc
    if too_large:
        raise InputError(
            path,
            f"its stored architecture {too_large}: napari-c2w refuses to build it.",
            "The file was edited or damaged, or it is no napari-c2w model; re-copy it or train it again.",
        )
    model = cls(**kwargs)
    _check_state(path, model, state)
    model.load_state_dict(state)
    return model.to(map_location).eval(), meta


def _meta_problem(meta: dict[str, Any]) -> str | None:
    """What in ``meta`` the pipeline and training could not use (types, sizes), or None."""

    def triple(value: Any, kind: type) -> bool:
        return (
            isinstance(value, list)
            and len(value) == 3
            and all(isinstance(v, kind) and not isinstance(v, bool) and 0 < v < math.inf for v in value)
        )

    if not triple(meta.get("spacing"), int | float):
        return f"'spacing' {meta.get('spacing')!r} is not 3 positive numbers (mm)"
    for key in ("roi", "patch"):
        if (key == "roi" or meta.get(key) is not None) and not triple(meta.get(key), int):
            return f"{key!r} {meta.get(key)!r} is not 3 positive whole numbers (voxels)"
    threshold = meta.get("threshold")
    if threshold is not None and not (
        isinstance(threshold, int | float) and not isinstance(threshold, bool) and 0 <= threshold <= 1
    ):
        return f"'threshold' {threshold!r} is not a number between 0 and 1"
    for key in ("training_data", "intensity_normalisation", "labels"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            return f"{key!r} {meta[key]!r} is not a mapping"
    return None


def _architecture(meta: dict[str, Any]) -> tuple[type[ResNeXtUNet | DualDecoderUNet], dict[str, Any]]:
    """The network class and constructor arguments a checkpoint's ``meta`` records."""
    cls = DualDecoderUNet if meta.get("dual") else ResNeXtUNet
    arch = meta.get("architecture")
    if arch is not None:
        if not isinstance(arch, dict):
            raise TypeError(f"'architecture' is {type(arch).__name__}, not a mapping")
        return cls, dict(arch)
    preset = ModelPreset.from_dict(meta["preset_definition"])
    kwargs = {
        "spatial_dims": meta["spatial_dims"],
        "in_channels": meta["in_channels"],
        "out_channels": meta["out_channels"],
        **preset.network_kwargs(meta["spatial_dims"]),
    }
    if meta.get("dual"):
        kwargs["scar_out_channels"] = meta["scar_out_channels"]
    return cls, kwargs


def _check_state(path: Path, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Raise an InputError listing missing/unexpected keys and shape mismatches."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        for label, items in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", shapes),
        ):
            if items:
                more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
                parts.append(f"{len(items)} {label}: {', '.join(items[:5])}{more}")
        raise InputError(
            path,
            "weights do not match the stored architecture: " + "; ".join(parts) + ".",
            "The file was edited or written by an incompatible version.",
        )
