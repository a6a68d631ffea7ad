"""Learning-rate schedules and the C2W-Tune progressive unfreezing plan."""

from __future__ import annotations

import math

from torch import nn

from .config import TrainConfig, TuneConfig
from .tune import restrict


def warmup_cosine(step: int, length: int, peak: float, floor: float, warmup: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then cosine decay to ``floor``."""
    if length <= 0:
        return peak
    warmup = min(warmup, max(length - 1, 0))
    if step < warmup:
        return peak * (step + 1) / (warmup + 1)
    t = (step - warmup) / max(1, length - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * min(1.0, t)))


def segments(config: TrainConfig, start: int = 0, stop: int | None = None) -> list[tuple[int, int, float]]:
    """(start, stop, peak lr) of each schedule segment between ``start`` and ``stop``."""
    stop = config.iterations if stop is None else stop
    if config.schedule == "progressive":
        u = config.unfreeze
        bounds = [start, u.boundary("b", config.iterations), u.boundary("c", config.iterations), stop]
        return [(bounds[i], bounds[i + 1], u.lr_peaks[i]) for i in range(3) if bounds[i + 1] > bounds[i]]
    return [(start, stop, config.optim.lr)]


def lr_at(iteration: int, segs: list[tuple[int, int, float]], config: TrainConfig) -> float:
    """The learning rate at ``iteration`` (stage-wise cosine with warm-up restarts)."""
    for start, stop, peak in segs:
        if start <= iteration < stop:
            floor = min(config.optim.min_lr, peak)
            return warmup_cosine(iteration - start, stop - start, peak, floor, config.optim.warmup)
    return config.optim.min_lr


def unfreeze_step(iteration: int, config: TrainConfig) -> str:
    """'A', 'B' or 'C' for the progressive schedule; 'all' otherwise."""
    if config.schedule != "progressive":
        return "all"
    if iteration < config.unfreeze.boundary("b", config.iterations):
        return "A"
    if iteration < config.unfreeze.boundary("c", config.iterations):
        return "B"
    return "C"


def apply_freeze(model: nn.Module, step: str, frozen_shallow: int, tune: TuneConfig | None = None) -> None:
    """Set ``requires_grad`` for C2W-Tune step A (encoder frozen), B (shallow stages
    frozen) or C / 'all' (everything trains). 'shallow' freezes the first
    ``frozen_shallow`` encoder stages only (progressive scar phase III). ``tune`` (resolved, not
    ``auto``) then freezes what lies outside the part a fine-tune trains (:mod:`.tune`)."""
    for p in model.parameters():
        p.requires_grad_(True)
    stages = list(model.encoder)
    if step == "A":
        frozen = stages
    elif step in ("B", "shallow"):
        frozen = stages[:frozen_shallow]
    else:
        frozen = []
    for stage in frozen:
        for p in stage.parameters():
            p.requires_grad_(False)
    if tune is not None:
        restrict(model, tune)
