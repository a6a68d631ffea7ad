"""Helpers shared by the tests (importable as ``testutils``: ``tests/`` is on sys.path)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
LA2018 = (REPO.parent / "shared" / "data" / "la2018" / "train").resolve()


def read_label_version(path: str | Path, structure: str, key: str) -> np.ndarray:
    """An earlier version of a label kept in a case store's ``versions/`` group."""
    import zarr

    return np.asarray(zarr.open_group(str(path), mode="r")[f"versions/{structure}/{key}"][...])


def benchmark_module(name: str):
    """A helper module of ``benchmarks/`` (e.g. ``_shifts``, the protocol shifts), imported."""
    import importlib
    import sys

    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    return importlib.import_module(name)


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


# ----------------------------------------------------------------- training (tests/train)

#: Small phantoms and the ``tiny`` preset keep each training run to seconds.
TRAIN_SPACING = (1.25, 1.25, 1.25)
SMALL_TRAIN = {
    "preset": "tiny",
    "iterations": 4,
    "val_every": 2,
    "threads": 2,
    "data": {"roi": [32, 48, 48], "patch": [16, 32, 32], "roi_jitter_mm": 2.0, "val_fraction": 0.34},
}


def write_phantom_dataset(
    folder: Path, seeds, *, labels=("cavity", "wall", "scar"), spacing=TRAIN_SPACING
) -> Path:
    """Case stores of 40 x 64 x 64 phantoms (one per seed) holding ``labels``."""
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom

    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        case = generate_phantom(seed, shape=(40, 64, 64), spacing=spacing).to_case()
        case.labels = {k: v for k, v in case.labels.items() if k in labels}
        write_case_store(case, store_path(folder, case.case_id))
    return folder


def small_train_config(stage: str, **changes):
    """The SMALL_TRAIN configuration of ``stage`` with ``changes`` (``data`` merged key by key)."""
    from napari_c2w.train import load_config

    merged = {**SMALL_TRAIN, **changes}
    merged["data"] = {**SMALL_TRAIN["data"], **changes.get("data", {})}
    return load_config(stage=stage, overrides=merged)


def tiny_segment_widget(viewer, models_dir):
    """A Segment widget on ``viewer`` set to the tiny model set written to ``models_dir``, on the CPU."""
    from napari_c2w.widgets.predict import PredictWidget

    w = PredictWidget(viewer)
    w.models.value = "folder..."
    w.folder.value = write_model_set(models_dir)
    w.device.value = "cpu"
    return w


@contextlib.contextmanager
def toy_scar_method():
    """A scar method registered for the duration (image values above ``--toy-level``), to show
    that registering one entry is all the consumers need."""
    from napari_c2w.quantify import METHODS, Param, ScarMethod, register

    def rule(values, blood, toy_level):
        return values > toy_level * blood.mean

    level = Param("toy_level", "toy level", 1.1, 0.0, 5.0, 0.1, "toy threshold (times the blood pool)")
    method = register(ScarMethod("toy", "toy rule", "image", rule, (level,), help="a test's toy rule"))
    try:
        yield method
    finally:
        METHODS.pop("toy")


def settle(widget, timeout: float = 60.0) -> None:
    """Run Qt's event loop until ``widget`` (Review annotations, Segment, ...) finished what it runs
    in the background: its analysis in a worker, then its layers added one per turn of the loop."""
    import time

    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while widget.busy:
        if time.monotonic() > end:
            raise TimeoutError(f"{type(widget).__name__} still busy after {timeout} s")
        QApplication.processEvents()
        time.sleep(0.005)
