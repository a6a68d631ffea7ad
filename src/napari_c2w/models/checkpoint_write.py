"""Writing checkpoints: the meta a model and its environment determine, checked
(:func:`build_meta`), and an atomic, no-clobber save (:func:`save_checkpoint`).

The format is described in :mod:`napari_c2w.models.checkpoint`, which reads it back.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from .._fs import make_shareable
from ..labels import LABELS
from ..stages import STAGES
from .checkpoint import FORMAT, quantize_state
from .dual import DualDecoderUNet
from .network import ResNeXtUNet
from .presets import PRESETS, ModelPreset

DEFAULT_NORMALISATION: dict[str, Any] = {"type": "zscore", "clip_percentiles": [0.5, 99.5]}


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays, 0-d tensors
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"meta value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def _jsonify(meta: dict[str, Any]) -> dict[str, Any]:
    """A JSON round trip: tuples become lists, numpy values plain numbers; raises TypeError."""
    return json.loads(json.dumps(meta, default=_json_default))


def build_meta(model: nn.Module, meta: dict[str, Any]) -> dict[str, Any]:
    """Complete ``meta`` with what the model and environment determine, and check it.

    ``meta`` must give ``stage`` and ``preset`` (a name from :data:`PRESETS`, or any name
    together with ``preset_definition``). Keys derived from the model (architecture, channels,
    dual flag, spatial dims) must agree with it if given.
    """
    if not isinstance(model, ResNeXtUNet | DualDecoderUNet):
        raise TypeError(f"expected a ResNeXtUNet or DualDecoderUNet, got {type(model).__name__}")
    meta = dict(meta)
    stage, preset = meta.get("stage"), meta.get("preset")
    if stage not in STAGES:
        raise ValueError(f"meta['stage'] must be one of {', '.join(STAGES)}; got {stage!r}")
    dual = isinstance(model, DualDecoderUNet)
    if STAGES[stage].dual != dual:
        raise ValueError(f"stage {stage!r} does not match a {'dual' if dual else 'single'}-decoder model")
    if STAGES[stage].spatial_dims != model.spatial_dims:
        raise ValueError(f"stage {stage!r} does not match a {model.spatial_dims}D model")
    if "preset_definition" not in meta:
        if preset not in PRESETS:
            raise ValueError(
                f"meta['preset'] {preset!r} is not a known preset; give meta['preset_definition']"
            )
        meta["preset_definition"] = PRESETS[preset].to_dict()
    definition = ModelPreset.from_dict(_jsonify(meta["preset_definition"]))
    derived = {
        "architecture": model.config,
        "in_channels": model.config["in_channels"],
        "out_channels": model.config["out_channels"],
        "dual": dual,
        "spatial_dims": model.spatial_dims,
    }
    if dual:
        derived["scar_out_channels"] = model.config["scar_out_channels"]
    derived = _jsonify(derived)
    for key, value in derived.items():
        if key in meta and _jsonify({"v": meta[key]})["v"] != value:
            raise ValueError(f"meta[{key!r}] = {meta[key]!r} disagrees with the model ({value!r})")
    meta.update(derived)
    meta.setdefault("labels", dict(LABELS))
    meta.setdefault("spacing", list(definition.spacing))
    meta.setdefault("roi", list(definition.roi))
    meta.setdefault("intensity_normalisation", DEFAULT_NORMALISATION)
    meta.setdefault("training_data", {})
    meta.setdefault("validation_metrics", {})
    meta["napari_c2w_version"] = __version__
    meta["torch_version"] = torch.__version__
    meta["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    return _jsonify(meta)


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    meta: dict[str, Any],
    extra_state: dict[str, Any] | None = None,
    overwrite: bool = False,
    *,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write a checkpoint atomically (temp file in the same folder, fsync, rename).

    Args:
        path: destination file (``.pt``).
        model: a :class:`ResNeXtUNet` or :class:`DualDecoderUNet`.
        meta: at least ``stage`` and ``preset``; see :func:`build_meta` for the rest.
        extra_state: other weights-only-loadable state (optimizer/scheduler state dicts, epoch).
        overwrite: replace an existing file; the old one is kept as ``<name>.prev``.
        dtype: storage dtype of floating-point weights (``torch.bfloat16`` halves the file, as
            for the bundled weights; ``torch.int8`` quarters it, see :func:`.checkpoint.quantize_state`;
            loading casts them back to the model's fp32).

    Returns:
        The path written.

    Raises:
        FileExistsError: when ``path`` exists and ``overwrite`` is False.
        ValueError/TypeError: when ``meta`` is incomplete, inconsistent or not JSON-serialisable.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} exists; pass overwrite=True to replace it (the old file is kept as .prev)"
        )
    if dtype == torch.int8:
        state = quantize_state(model.state_dict())
    else:
        state = {
            k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
            for k, v in model.state_dict().items()
        }
    payload = {
        "format": FORMAT,
        "format_version": 2 if dtype == torch.int8 else 1,
        "meta": build_meta(model, meta),
        "state_dict": state,
        "extra_state": extra_state,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _drop_dead_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp-ckpt", dir=path.parent
    )
    make_shareable(fd)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, path, overwrite)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return path


def _drop_dead_temporaries(path: Path) -> None:
    """Remove temporaries of ``path`` left by killed savers (their pid is no longer running)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp-ckpt"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if not pid.isdigit():
            continue  # written by an older version: no owner to check
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, someone else's


def _commit(tmp: Path, path: Path, overwrite: bool) -> None:
    """Move ``tmp`` to ``path``: no-clobber unless ``overwrite``, keeping ``<name>.prev``."""
    if not overwrite:
        try:
            os.link(tmp, path)  # atomic create-if-absent
            return
        except FileExistsError:
            raise FileExistsError(f"{path} appeared while saving; not overwritten") from None
        except OSError:  # filesystem without hard links
            if path.exists():
                raise FileExistsError(f"{path} appeared while saving; not overwritten") from None
            os.replace(tmp, path)
            return
    if path.exists():
        prev = path.with_name(path.name + ".prev")
        prev.unlink(missing_ok=True)
        try:
            os.link(path, prev)
        except OSError:
            shutil.copy2(path, prev)
    os.replace(tmp, path)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
