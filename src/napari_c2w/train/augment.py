"""Patch sampling and on-the-fly augmentation with MONAI transforms (seed 002, table 1), plus
the protocol shifts of issue #11: thick slices, lower resolution, histogram shifts, contrast
remapping, Gibbs ringing and tight fields of view (``benchmarks/_shifts.py`` has the
benchmark's versions)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..preprocess import crop, roi_box
from ..stages import STAGES
from .config import TrainConfig
from .data import Prepared
from .transforms import RandContrastRemapd, RandThickSlicesd


def build_augment(spec: dict, label_keys: list[str], spacing=None):
    """A MONAI Compose of seed 002's augmentations and the protocol shifts over the image and
    label keys; ``spacing`` (z, y, x mm of the model grid) converts slice thicknesses."""
    from monai.transforms import Compose

    return Compose(
        [*_acquisition_shifts(spec, spacing), *_seed_table(spec, label_keys), *_intensity_shifts(spec)]
    )


def _on(spec: dict, name: str) -> bool:
    return name in spec and spec[name]["prob"] > 0


def _acquisition_shifts(spec: dict, spacing) -> list:
    """Thick slices and lower resolution, before anything else changes the image."""
    from monai.transforms import RandSimulateLowResolutiond

    t = []
    if _on(spec, "thick_slices"):
        s = spec["thick_slices"]
        dz = float(spacing[0]) if spacing is not None else 1.0
        factors = (max(1.0, s["mm"][0] / dz), max(1.0, s["mm"][1] / dz))
        t.append(RandThickSlicesd("image", factor_range=factors, prob=s["prob"]))
    if _on(spec, "low_resolution"):
        s = spec["low_resolution"]
        t.append(RandSimulateLowResolutiond("image", prob=s["prob"], zoom_range=tuple(s["zoom"])))
    return t


def _intensity_shifts(spec: dict) -> list:
    """Contrast remapping, histogram shifts and Gibbs ringing, after seed 002's intensity
    transforms."""
    from monai.transforms import RandGibbsNoised, RandHistogramShiftd

    t = []
    if _on(spec, "contrast_remap"):
        s = spec["contrast_remap"]
        t.append(RandContrastRemapd("image", kernel=s["kernel"], slope=s["slope"], prob=s["prob"]))
    if _on(spec, "histogram_shift"):
        s = spec["histogram_shift"]
        t.append(RandHistogramShiftd("image", num_control_points=tuple(s["points"]), prob=s["prob"]))
    if _on(spec, "gibbs"):
        s = spec["gibbs"]
        t.append(RandGibbsNoised("image", alpha=tuple(s["alpha"]), prob=s["prob"]))
    return t


def _seed_table(spec: dict, label_keys: list[str]) -> list:
    """Seed 002's table 1: spatial and intensity augmentations over the image and labels."""
    from monai.transforms import (
        Rand3DElasticd,
        RandAdjustContrastd,
        RandBiasFieldd,
        RandGaussianNoised,
        RandGaussianSmoothd,
        RandRotated,
        RandShiftIntensityd,
        RandZoomd,
    )

    keys = ["image", *label_keys]
    modes = ["bilinear"] + ["nearest"] * len(label_keys)
    t = []
    if "bias_field" in spec:
        s = spec["bias_field"]
        t.append(RandBiasFieldd("image", coeff_range=tuple(s["coeff"]), prob=s["prob"]))
    if "elastic" in spec:
        s = spec["elastic"]
        t.append(
            Rand3DElasticd(
                keys,
                sigma_range=tuple(s["sigma"]),
                magnitude_range=tuple(s["magnitude"]),
                prob=s["prob"],
                mode=modes,
                padding_mode="border",
            )
        )
    if "rotate" in spec:
        s = spec["rotate"]
        r = math.radians(s["degrees"])
        t.append(
            RandRotated(
                keys,
                range_x=r,
                range_y=r,
                range_z=r,
                prob=s["prob"],
                mode=modes,
                padding_mode="border",
                keep_size=True,
            )
        )
    if "zoom" in spec:
        s = spec["zoom"]
        t.append(
            RandZoomd(
                keys,
                min_zoom=s["range"][0],
                max_zoom=s["range"][1],
                prob=s["prob"],
                mode=["trilinear"] + ["nearest"] * len(label_keys),
                padding_mode="edge",
                keep_size=True,
            )
        )
    if "blur" in spec:
        s = spec["blur"]
        t.append(
            RandGaussianSmoothd(
                "image",
                sigma_x=tuple(s["sigma"]),
                sigma_y=tuple(s["sigma"]),
                sigma_z=tuple(s["sigma"]),
                prob=s["prob"],
            )
        )
    if "contrast" in spec:
        s = spec["contrast"]
        t.append(RandAdjustContrastd("image", gamma=tuple(s["gamma"]), prob=s["prob"]))
    if "shift" in spec:
        s = spec["shift"]
        t.append(RandShiftIntensityd("image", offsets=s["offset"], prob=s["prob"]))
    if "noise" in spec:
        s = spec["noise"]
        t.append(RandGaussianNoised("image", std=s["std"], prob=s["prob"]))
    return t


def tight_field_of_view(image, labels: dict, target: str, spacing, *, margin_mm: float, fill: float):
    """Blank the image outside the ``target``'s box plus ``margin_mm`` in y and x (negative cuts
    into it), as a scan cropped tightly around the atrium reaches the model after the
    pipeline pads its ROI with a constant. Labels are kept: the anatomy outside is still there."""
    mask = labels.get(target)
    if mask is None or not np.any(mask):
        return image
    idx = np.nonzero(np.asarray(mask)[0] if np.ndim(mask) == 4 else mask)
    out = np.array(image, copy=True)
    view = out[0] if out.ndim == 4 else out
    for ax in (1, 2):
        m = round(margin_mm / spacing[ax])
        lo, hi = max(0, int(idx[ax].min()) - m), int(idx[ax].max()) + 1 + m
        sl = [slice(None)] * 3
        sl[ax] = slice(0, lo)
        view[tuple(sl)] = fill
        sl[ax] = slice(max(hi, lo), None)
        view[tuple(sl)] = fill
    return out


class PatchSampler:
    """Draws augmented, foreground-balanced training batches, reproducibly per iteration."""

    def __init__(self, cases: list[Prepared], config: TrainConfig, target: str, rank: int = 0) -> None:
        from monai.transforms import RandCropByPosNegLabeld

        self.cases = cases
        self.config = config
        self.target = target
        self.rank = rank
        self.stage = STAGES[config.stage]
        self.label_keys = sorted({k for c in cases for k in c.labels})
        self.patch = list(config.data.patch)
        if self.stage.spatial_dims == 2:  # axial slices
            self.patch = [1, *self.patch[-2:]]
        ratio = config.data.pos_ratio
        self.cropper = RandCropByPosNegLabeld(
            ["image", *self.label_keys],
            label_key=target,
            spatial_size=self.patch,
            pos=ratio,
            neg=1.0,
            num_samples=1,
            allow_smaller=False,
        )
        self.augment = (
            build_augment(config.augment, self.label_keys, config.data.model_spacing)
            if self.stage.spatial_dims == 3
            else None
        )
        self.margin = [int(np.ceil(config.data.roi_jitter_mm / s)) for s in config.data.model_spacing]

    def _roi(self, case: Prepared, rng: np.random.Generator) -> dict:
        roi = [max(r, p) for r, p in zip(self.config.data.roi, self.patch, strict=True)]
        if self.stage.whole_volume:
            roi = [max(n, p) for n, p in zip(case.image.shape, self.patch, strict=True)]
        jitter = [rng.integers(-m, m + 1) if m else 0 for m in self.margin]
        center = [c + j for c, j in zip(case.roi_center, jitter, strict=True)]
        box = roi_box(center, roi, case.image.shape)
        fill = float(case.image.min())
        out = {"image": crop(case.image, box, fill=fill)[None]}
        for key in self.label_keys:
            mask = case.labels.get(key)
            out[key] = (crop(mask, box) if mask is not None else np.zeros(out["image"].shape[1:], np.uint8))[
                None
            ]
        fov = self.config.augment.get("field_of_view")
        if fov and fov["prob"] > 0 and rng.random() < fov["prob"]:
            margin = float(rng.uniform(*fov["margin_mm"]))
            target = "cavity" if "cavity" in out else self.target
            out["image"] = tight_field_of_view(
                out["image"], out, target, self.config.data.model_spacing, margin_mm=margin, fill=fill
            )
        return out

    def batch(self, iteration: int) -> dict[str, torch.Tensor]:
        seed = [self.config.seed, iteration, self.rank]
        rng = np.random.default_rng(seed)
        items = []
        for _ in range(self.config.data.batch_size):
            case = self.cases[rng.integers(len(self.cases))]
            roi = self._roi(case, rng)
            self.cropper.set_random_state(seed=int(rng.integers(2**31)))
            patch = self.cropper(roi)[0]
            if self.augment is not None:
                self.augment.set_random_state(seed=int(rng.integers(2**31)))
                patch = self.augment(patch)
            items.append(patch)
        out = {}
        for key in ["image", *self.label_keys]:
            arr = np.stack([np.asarray(it[key]) for it in items]).astype(np.float32)
            if self.stage.spatial_dims == 2:
                arr = arr[:, :, 0]  # (B, 1, y, x) slices
            out[key] = torch.from_numpy(arr)
        return out
