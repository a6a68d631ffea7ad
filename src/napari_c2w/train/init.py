"""Building a stage's network and initialising it: scratch, transfer or fine-tuning.

``--init`` takes ``scratch``, ``bundled`` (the shipped weights of this stage),
``bundled:<stage>`` (e.g. ``bundled:cavity`` as the prior), a run folder or checkpoint
file, or ``inflate2d:<2D checkpoint>``. What happens is decided by the source's stage:

* same stage -> fine-tuning (architecture and head kept);
* a cavity checkpoint for the wall stage -> C2W-Tune transfer (new head);
* a cavity checkpoint for the scar stage -> progressive phase II starts from it
  (dual decoder: encoder and cavity decoder inherited, scar decoder random);
* a scar checkpoint for the scar stage -> phase III only (fine-tuning);
* a 2D network (``cavity2d``) -> its kernels inflated into the 3D encoder (seed 003).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..errors import InputError
from ..stages import STAGES
from ..weights import bundled_checkpoint
from .config import TrainConfig
from .rundir import BEST, find_checkpoint


@dataclasses.dataclass
class InitSource:
    kind: str  # scratch | checkpoint | inflate2d
    path: Path | None = None
    stage: str | None = None  # stage of the source checkpoint
    meta: dict | None = None

    def describe(self) -> str:
        return self.kind if self.path is None else f"{self.kind}:{self.path} (stage {self.stage})"

    def continues(self, stage: str) -> bool:
        """Whether the source is a network of ``stage`` itself: a training from it is a fine-tune."""
        return self.kind == "checkpoint" and self.stage == stage


def _model_folder_file(init: str, stage: str) -> Path | None:
    """``<stage>.pt`` of a model folder (the bundled layout; an adapt run), where ``init`` is one
    rather than a training run folder (which holds a best.pt)."""
    folder = Path(init)
    ok = folder.is_dir() and not (folder / BEST).is_file() and (folder / f"{stage}.pt").is_file()
    return folder / f"{stage}.pt" if ok else None


def resolve_init(init: str, stage: str) -> InitSource:
    """Turn an ``--init`` value into a checked source."""
    from ..models import read_checkpoint

    if init in ("scratch", "", None):
        return InitSource("scratch")
    kind = "checkpoint"
    if init.startswith("inflate2d:"):
        kind, init = "inflate2d", init.split(":", 1)[1]
    if init == "cavity":
        raise InputError(
            None,
            f"the {stage} stage starts from a cavity model, but none was given.",
            "Pass --init RUN_DIR_OR_CKPT of a cavity run, --init bundled:cavity, or --init scratch.",
        )
    if init == "bundled" or init.startswith("bundled:"):
        path = bundled_checkpoint(init.split(":", 1)[1] if ":" in init else stage)
    elif _model_folder_file(init, stage):
        path = _model_folder_file(init, stage)
    else:
        path = find_checkpoint(init)
    meta = read_checkpoint(path)["meta"]
    src_stage = meta.get("stage")
    if kind == "inflate2d" or meta.get("spatial_dims") == 2:
        if meta.get("spatial_dims") != 2:
            raise InputError(path, "is not a 2D network; inflate2d: needs a cavity2d checkpoint.")
        kind = "inflate2d"
    allowed = STAGES[stage].inits
    if kind == "checkpoint" and src_stage not in allowed:
        raise InputError(
            path,
            f"holds a {src_stage} model, which cannot initialise the {stage} stage.",
            f"Use a checkpoint of stage {' or '.join(sorted(allowed))}, or --init scratch.",
        )
    return InitSource(kind, path, src_stage, meta)


def build_model_for(
    config: TrainConfig, source: InitSource, *, dual: bool = False
) -> tuple[torch.nn.Module, dict]:
    """The stage's network, initialised from ``source``; returns it and a report."""
    from ..models import DualDecoderUNet, build_model, inflate_2d_to_3d, load_checkpoint

    spatial_dims = STAGES[config.stage].spatial_dims
    torch.manual_seed(config.seed)
    report: dict = {"init": source.describe()}
    if source.kind == "checkpoint":
        model, meta = load_checkpoint(source.path)
        if meta["preset"] != config.preset:
            report["preset_from_checkpoint"] = meta["preset"]
            config.preset = meta["preset"]
        if config.stage == "wall" and source.stage == "cavity":
            model.reset_head(1)
            report["transfer"] = "cavity -> wall: new head"
        if dual:
            model = DualDecoderUNet.from_single(model)
            report["transfer"] = "cavity -> dual (encoder + cavity decoder inherited, scar decoder random)"
        return model, report
    model = build_model(config.preset, in_channels=1, out_channels=1, spatial_dims=spatial_dims)
    if source.kind == "inflate2d":
        model2d, _ = load_checkpoint(source.path)
        report["inflated"] = inflate_2d_to_3d(model2d.state_dict(), model, mode="average")
    if dual:
        model = DualDecoderUNet.from_single(model)
    return model, report


def teacher_for(config: TrainConfig, device: torch.device) -> torch.nn.Module:
    """The init network, frozen: what ``config.distill`` distils towards (rebuilt from
    ``config.init``, so a resumed run distils towards the same network)."""
    from ..models import prepare_model

    source = resolve_init(config.init, config.stage)
    if source.stage != config.stage:
        raise InputError(
            source.path,
            f"holds a {source.stage} network; distill needs the {config.stage} network it fine-tunes.",
            "Set distill: 0 for a transfer from another stage.",
        )
    model, _ = build_model_for(config, source)
    model = prepare_model(model, device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
