"""Patch sampling and on-the-fly augmentation with MONAI transforms (seed 002, table 1)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..preprocess import crop, roi_box
from .config import TrainConfig
from .data import Prepared


def build_augment(spec: dict, label_keys: list[str]):
    """A MONAI Compose of seed 002's augmentations over the image and label keys."""
    from monai.transforms import (
        Compose,
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
    return Compose(t)


class PatchSampler:
    """Draws augmented, foreground-balanced training batches, reproducibly per iteration."""

    def __init__(self, cases: list[Prepared], config: TrainConfig, target: str, rank: int = 0) -> None:
        from monai.transforms import RandCropByPosNegLabeld

        self.cases = cases
        self.config = config
        self.target = target
        self.rank = rank
        self.label_keys = sorted({k for c in cases for k in c.labels})
        self.patch = list(config.data.patch)
        if config.stage == "cavity2d":
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
        self.augment = build_augment(config.augment, self.label_keys) if config.stage != "cavity2d" else None
        self.margin = [int(np.ceil(config.data.roi_jitter_mm / s)) for s in config.data.model_spacing]

    def _roi(self, case: Prepared, rng: np.random.Generator) -> dict:
        roi = [max(r, p) for r, p in zip(self.config.data.roi, self.patch, strict=True)]
        if self.config.stage == "localizer":
            roi = [max(n, p) for n, p in zip(case.image.shape, self.patch, strict=True)]
        jitter = [rng.integers(-m, m + 1) if m else 0 for m in self.margin]
        center = [c + j for c, j in zip(case.roi_center, jitter, strict=True)]
        box = roi_box(center, roi, case.image.shape)
        out = {"image": crop(case.image, box, fill=float(case.image.min()))[None]}
        for key in self.label_keys:
            mask = case.labels.get(key)
            out[key] = (crop(mask, box) if mask is not None else np.zeros(out["image"].shape[1:], np.uint8))[
                None
            ]
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
            if self.config.stage == "cavity2d":
                arr = arr[:, :, 0]  # (B, 1, y, x) slices
            out[key] = torch.from_numpy(arr)
        return out
