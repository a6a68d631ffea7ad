"""Helpers shared by the tests (importable as ``testutils``: ``tests/`` is on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
LA2018 = (REPO.parent / "shared" / "data" / "la2018" / "train").resolve()


def write_sitk(
    array: np.ndarray, path: Path, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=None
):
    """Write a (z, y, x) array with geometry given in zyx order."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(array, isVector=False)
    extra = (1.0,) * (array.ndim - len(spacing))
    img.SetSpacing(tuple(reversed(spacing))[: array.ndim] + extra)
    img.SetOrigin(tuple(reversed(origin))[: array.ndim] + tuple(0.0 for _ in extra))
    if direction is not None:
        img.SetDirection(direction)
    sitk.WriteImage(img, str(path))
    return path


def write_dicom_series(
    array: np.ndarray, folder: Path, spacing, origin, series_uid="1.2.826.0.1.3680043.2.1125.1"
):
    """Write a (z, y, x) int16 array as a DICOM series, one file a slice."""
    import SimpleITK as sitk

    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(array.shape[0]):
        sl = sitk.GetImageFromArray(array[k].astype(np.int16))
        sl.SetSpacing((spacing[2], spacing[1]))
        z = origin[0] + k * spacing[0]
        tags = {
            "0008|0060": "MR",
            "0020|000d": "1.2.826.0.1.3680043.2.1125.0",
            "0020|000e": series_uid,
            "0020|0032": f"{origin[2]}\\{origin[1]}\\{z}",
            "0020|0037": "1\\0\\0\\0\\1\\0",
            "0020|0013": str(k + 1),
            "0018|0050": str(spacing[0]),
            "0028|0030": f"{spacing[1]}\\{spacing[2]}",
            "0008|0018": f"{series_uid}.{k + 1}",
        }
        for key, value in tags.items():
            sl.SetMetaData(key, value)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(sl)
    return folder


def needs_la2018():
    return pytest.mark.skipif(
        not LA2018.is_dir(),
        reason=f"real la2018 data not found at {LA2018} "
        "(it lives in ../shared/data beside the repository; CI has it)",
    )


def write_model_set(folder: Path, spacing=(2.5, 1.25, 1.25), roi=(16, 32, 32)) -> Path:
    """localizer/cavity/wall/scar checkpoints of the ``tiny`` preset (random weights)."""
    import torch

    from napari_c2w.models import build_model, save_checkpoint

    folder.mkdir(parents=True, exist_ok=True)
    for i, stage in enumerate(("localizer", "cavity", "wall", "scar")):
        torch.manual_seed(i)
        model = build_model("tiny", 1, 1)
        meta = {
            "stage": stage,
            "preset": "tiny",
            "spacing": [5.0, 5.0, 5.0] if stage == "localizer" else list(spacing),
            "roi": list(roi),
        }
        save_checkpoint(folder / f"{stage}.pt", model, meta)
    return folder
