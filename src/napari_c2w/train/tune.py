"""Which part of the network a fine-tune trains (the few-shot recipe, issue 29.3). Pure torch.

- ``all``: every parameter, as a training from scratch does.
- ``first``: the first ``levels`` encoder levels only. A new scanner's contrast and texture meet
  the network there; the deeper levels hold the shape it learned (Shirokikh et al., MICCAI 2020:
  the first U-Net layers carry most of the domain-specific information).
- ``norm``: the instance norms' scales and shifts only (4,480 of the lite preset's 3.2 M
  parameters).
- ``lora``: a low-rank adapter on every convolution's weight (Hu et al. 2021): the weights stay
  as they were, ``W + B A`` runs, ``A`` starts random and ``B`` at zero, so the adapted network
  starts as the old one. Every checkpoint meant for use holds the merged ``W + B A``: the result
  is a plain network that ``predict`` and ``--from`` read as any other.

The parts are chosen by ``TrainConfig.tune`` (``napari-c2w-train --tune``). ``auto``, the
default, trains :data:`~.config.FEW_SHOT_TUNE` when a network is fine-tuned from one of its own
stage on at most :data:`~.config.FEW_SHOT_CASES` cases (what ``benchmarks/bench_fewshot.py``
found best there), and the whole network otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator

import torch
from torch import nn

from .config import FEW_SHOT_CASES, FEW_SHOT_TUNE, TUNES, TrainConfig, TuneConfig, tune_applies

#: Modules whose ``weight`` a low-rank adapter adapts.
_CONVS = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def effective(config: TrainConfig, train_cases: int) -> tuple[TuneConfig, str]:
    """The part ``config`` trains on ``train_cases`` cases (``auto`` resolved), and why."""
    from .init import resolve_init

    tune = config.tune
    if tune.part != "auto":
        return tune, "as configured"
    if not tune_applies(config.stage, config.schedule):
        return dataclasses.replace(tune, part="all"), f"the {config.stage} stage's schedule trains it all"
    if not resolve_init(config.init, config.stage).continues(config.stage):
        return dataclasses.replace(tune, part="all"), "not a fine-tune of a network of this stage"
    if train_cases > FEW_SHOT_CASES:
        return dataclasses.replace(tune, part="all"), f"{train_cases} training cases (> {FEW_SHOT_CASES})"
    why = f"a fine-tune on {train_cases} case(s) (<= {FEW_SHOT_CASES})"
    return dataclasses.replace(tune, part=FEW_SHOT_TUNE), why


def part_parameters(model: nn.Module, tune: TuneConfig) -> list[nn.Parameter]:
    """The network's own parameters that ``tune`` trains (none for ``lora``: its adapters train)."""
    if tune.part in ("all", "auto"):
        return list(model.parameters())
    if tune.part == "first":
        return [p for stage in list(model.encoder)[: tune.levels] for p in stage.parameters()]
    if tune.part == "norm":
        return [
            p
            for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._NormBase | nn.GroupNorm | nn.LayerNorm)
            for p in m.parameters(recurse=False)
        ]
    if tune.part == "lora":
        return []
    raise ValueError(f"unknown tune part {tune.part!r}; choose one of {', '.join(TUNES)}")


def restrict(model: nn.Module, tune: TuneConfig) -> None:
    """Freeze every parameter outside ``tune``'s part (:func:`.schedule.apply_freeze` calls this
    after the schedule chose its own)."""
    if tune.part in ("all", "auto"):
        return
    keep = {id(p) for p in part_parameters(model, tune)}
    for p in model.parameters():
        if id(p) not in keep:
            p.requires_grad_(False)


class LowRankAdapter(nn.Module):
    """Rank-``rank`` updates ``B A`` of every convolution weight of ``model`` (which stays as it is).

    ``adapter(model, x)`` runs ``model`` with ``W + scale * B A`` in place of each ``W``;
    ``with adapter.merged(model):`` writes the sums into the model for validation and saving,
    and puts the original weights back after.
    """

    def __init__(self, model: nn.Module, rank: int = 4, alpha: float | None = None) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"the adapters' rank must be at least 1 (got {rank})")
        self.names: list[str] = []
        self.a, self.b = nn.ParameterList(), nn.ParameterList()
        for name, module in model.named_modules():
            if isinstance(module, _CONVS):
                w = module.weight
                fan = w[0].numel()
                r = min(rank, w.shape[0], fan)
                self.names.append(f"{name}.weight")
                self.a.append(nn.Parameter(torch.randn(r, fan, device=w.device) / math.sqrt(fan)))
                self.b.append(nn.Parameter(torch.zeros(w.shape[0], r, device=w.device)))
        self.scale = (alpha or rank) / rank

    def deltas(self, model: nn.Module) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
        """(name, weight, its update) for every adapted weight."""
        weights = dict(model.named_parameters())
        for name, a, b in zip(self.names, self.a, self.b, strict=True):
            w = weights[name]
            yield name, w, (self.scale * (b @ a)).reshape(w.shape).to(w.dtype)

    def forward(self, model: nn.Module, x: torch.Tensor):
        adapted = {name: w + d for name, w, d in self.deltas(model)}
        return torch.func.functional_call(model, adapted, (x,))

    @contextlib.contextmanager
    def merged(self, model: nn.Module):
        """The model holds ``W + B A`` inside the block, its own ``W`` again after."""
        saved = []
        with torch.no_grad():
            for _, w, d in self.deltas(model):
                saved.append((w, w.detach().clone()))
                w.add_(d)
        try:
            yield model
        finally:
            with torch.no_grad():
                for w, original in saved:
                    w.copy_(original)


def adapter_for(model: nn.Module, tune: TuneConfig) -> LowRankAdapter | None:
    """The adapter ``tune`` trains, or None for the parts trained in place."""
    return LowRankAdapter(model, tune.rank) if tune.part == "lora" else None
