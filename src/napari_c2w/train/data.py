"""Training data: case stores -> split by case -> cached ROI crops -> augmented patches.

Each case is read once, resampled to the model spacing, cropped to the ROI (plus a
margin for jitter) around the reference cavity's centre of mass, z-scored, and kept in
memory. Every iteration then samples foreground-balanced patches and augments them with
MONAI transforms (seed 002, table 1). Sampling is seeded by (seed, iteration, rank), so
a resumed run draws exactly the patches an uninterrupted run would have drawn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.store import list_case_stores, read_case_store, store_problem
from ..preprocess import (
    center_of_mass,
    crop,
    normalize_intensity,
    prepare_roi,
    resample,
    resampled_shape,
    roi_box,
)
from ..stages import STAGES
from .config import TrainConfig


@dataclasses.dataclass
class Prepared:
    """One case at model spacing: normalised image, target masks, optional wall band."""

    case_id: str
    image: np.ndarray  # float32 (z, y, x)
    labels: dict[str, np.ndarray]  # uint8
    spacing: tuple[float, float, float]
    roi_center: tuple[float, float, float]  # voxel centre of the ROI inside this crop
    source_spacing: tuple[float, float, float]


def split_cases(stores: list[Path], val_fraction: float, seed: int, cases: int | None = None):
    """Split by case with a recorded seed; ``cases`` subsamples the training part."""
    if not stores:
        raise InputError(
            None,
            "the dataset holds no case stores.",
            "Build one with `napari-c2w import` or `napari-c2w phantom --layout zarr`.",
        )
    rng = np.random.default_rng(seed)
    order = [stores[i] for i in rng.permutation(len(stores))]
    n_val = max(1, round(len(order) * val_fraction)) if len(order) > 1 else 0
    val, train = order[:n_val], order[n_val:]
    if cases is not None:
        if cases < 1 or cases > len(train):
            raise InputError(
                None, f"--cases {cases} is out of range: the training split has {len(train)} cases."
            )
        train = train[:cases]
    return sorted(train), sorted(val)


def dataset_stores(dataset: str | Path | list) -> list[Path]:
    """Case stores in one or more dataset folders."""
    folders = dataset if isinstance(dataset, list | tuple) else [dataset]
    stores: list[Path] = []
    for name in folders:
        folder = Path(name)
        if not folder.is_dir():
            raise InputError(folder, "is not a dataset folder.", "Give a folder of <case>.ome.zarr stores.")
        stores += list_case_stores(folder)
    damaged = [f"{p.name} ({problem})" for p in stores if (problem := store_problem(p))]
    if damaged:
        raise InputError(
            None,
            f"{len(damaged)} case store(s) cannot be read: {'; '.join(damaged)}.",
            "Run `napari-c2w check DATASET`, then restore or remove them.",
        )
    if not stores:
        raise InputError(
            ", ".join(str(f) for f in folders),
            "holds no case stores (<case>.ome.zarr).",
            "Build a dataset with `napari-c2w import` or `napari-c2w phantom --layout zarr`.",
        )
    return stores


def check_stage_labels(stores: list[Path], stage: str) -> dict[str, list[str]]:
    """Which cases carry each label the stage needs; error if one is missing everywhere."""
    import zarr

    needed = STAGES[stage].labels
    have: dict[str, list[str]] = {s: [] for s in needed}
    for store in stores:
        names = zarr.open_group(str(store), mode="r")
        present = names["labels"].attrs.asdict().get("ome", {}).get("labels", []) if "labels" in names else []
        for s in needed:
            if s in present:
                have[s].append(store.name)
    missing = [s for s in needed if not have[s]]
    if missing:
        raise InputError(
            stores[0].parent,
            f"no case has a {' or '.join(missing)} label, which the {stage} stage needs.",
            "Import or export cases that carry it (phantoms carry all three).",
        )
    return have


def prepare_case(store: Path, config: TrainConfig, *, jitter_margin: bool = True) -> Prepared:
    """Read, resample, crop and normalise one case for the configured stage."""
    case = read_case_store(store)
    spacing = tuple(config.data.model_spacing)
    needed = STAGES[config.stage].labels
    shape = resampled_shape(case.image.shape, case.image.spacing, spacing)
    image = resample(case.image.array, shape)
    labels = {s: resample(case.labels[s], shape, kind="mask") for s in needed if s in case.labels}
    if "cavity" in case.labels and "cavity" not in labels:
        labels["cavity"] = resample(case.labels["cavity"], shape, kind="mask")
    if STAGES[config.stage].whole_volume:
        image = normalize_intensity(image, config.data.normalisation())
        return Prepared(case.case_id, image, labels, spacing, tuple(n / 2 for n in shape), case.image.spacing)
    ref = labels.get("cavity")
    if ref is None or not ref.any():
        ref = next((m for m in labels.values() if m.any()), None)
    center = center_of_mass(ref) if ref is not None else None
    if center is None:
        center = tuple(n / 2 for n in shape)
    margin = [int(np.ceil(config.data.roi_jitter_mm / s)) if jitter_margin else 0 for s in spacing]
    size = [r + 2 * m for r, m in zip(config.data.roi, margin, strict=True)]
    box = roi_box(center, size, shape)
    image = prepare_roi(image, box, config.data.normalisation())
    labels = {k: crop(v, box) for k, v in labels.items()}
    if config.stage == "scar" and "cavity" in labels:
        from ..masks.band import wall_band

        labels["band"] = (
            wall_band(labels["cavity"], spacing, config.scar.inner_mm, config.scar.outer_mm)
            .full()
            .astype(np.uint8)
        )
    local_center = tuple(c - b[0] for c, b in zip(center, box, strict=True))
    return Prepared(case.case_id, image.astype(np.float32), labels, spacing, local_center, case.image.spacing)


def prepare_all(
    stores: list[Path], config: TrainConfig, progress: Callable[[str], None] | None = None, **kwargs
) -> list[Prepared]:
    out = []
    for store in stores:
        out.append(prepare_case(store, config, **kwargs))
        if progress:
            progress(store.name)
    return out


def check_spacings(prepared: list[Prepared], config: TrainConfig) -> None:
    """Mixed source spacings are fine only when resampling is allowed (it is by default)."""
    spacings = {tuple(np.round(p.source_spacing, 4)) for p in prepared}
    if len(spacings) > 1 and not config.data.allow_mixed_spacing:
        raise InputError(
            None,
            f"the cases have {len(spacings)} different spacings {sorted(spacings)} and "
            "data.allow_mixed_spacing is false.",
            "Allow resampling to the model spacing, or resample the cases to one spacing first.",
        )
