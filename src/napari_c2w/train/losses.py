"""Losses: MONAI's DiceFocal / DiceCE, and the anatomy-aware scar loss of seed 002."""

from __future__ import annotations

import torch
from torch import nn


def make_loss(name: str) -> nn.Module:
    """A binary (sigmoid) MONAI loss: ``dicefocal`` (C2W-Tune) or ``dicece`` (seed 002)."""
    from monai.losses import DiceCELoss, DiceFocalLoss

    if name == "dicefocal":
        return DiceFocalLoss(sigmoid=True)
    if name == "dicece":
        return DiceCELoss(sigmoid=True)
    raise ValueError(f"unknown loss {name!r}")


class WallBandWeightedDiceCE(nn.Module):
    """Seed 002's scar loss: l(W * p, W * y) with W = 1 + alpha(t) * M_wall.

    The Dice term is MONAI's DiceLoss applied to the weighted prediction and reference
    exactly as in eq. (8): Dice(W p, W y) = 1 - (2 sum W^2 p y + e) / (sum W p + sum W y + e).
    Cross-entropy is not defined on W p > 1, so its term is the voxel-weighted BCE
    sum(W * bce(p, y)) / sum(W). With alpha = 0 both reduce to plain DiceCE. When all
    reference scar lies in the band, W is constant on it, as the paper notes.
    """

    def __init__(self, smooth: float = 1e-5) -> None:
        super().__init__()
        from monai.losses import DiceLoss

        self.dice = DiceLoss(sigmoid=False, smooth_nr=smooth, smooth_dr=smooth)

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, band: torch.Tensor, alpha: float
    ) -> torch.Tensor:
        logits = logits.float()
        weight = 1.0 + float(alpha) * band.float()
        prob = torch.sigmoid(logits)
        dice = self.dice(weight * prob, weight * target)
        bce = nn.functional.binary_cross_entropy_with_logits(logits, target.float(), reduction="none")
        ce = (weight * bce).sum() / weight.sum()
        return dice + ce


def alpha_at(iteration: int, ramp_iterations: int, alpha_max: float) -> float:
    """alpha(t): rises linearly from 0 to ``alpha_max`` over ``ramp_iterations``."""
    if ramp_iterations <= 0:
        return float(alpha_max)
    return float(alpha_max) * min(1.0, iteration / ramp_iterations)
