"""Model sets: which checkpoint runs each stage of the pipeline.

A model set is built from the bundled weights, overridden stage by stage by model folders:
a folder holding ``localizer.pt``, ``cavity.pt``, ``wall.pt``, ``scar.pt`` (any subset), or a
training run folder (``napari-c2w-train --output``) whose ``best.pt`` replaces the stage it
was trained for, or a single checkpoint file.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from pathlib import Path

import torch

from ..errors import InputError
from ..io.case import has_synthetic_wall
from ..stages import ALTERNATES, PIPELINE_STAGES
from ..weights import bundled_checkpoint


@dataclasses.dataclass
class StageModel:
    """One stage's network, its checkpoint metadata and where it came from."""

    stage: str
    model: torch.nn.Module
    meta: dict
    path: Path
    sha256: str

    def describe(self) -> dict:
        """What provenance records about the model."""
        return {
            "stage": self.stage,
            "file": self.path.name if _is_bundled(self.path) else str(self.path),
            "bundled": _is_bundled(self.path),
            "sha256": self.sha256[:16],
            "preset": self.meta.get("preset"),
            "napari_c2w_version": self.meta.get("napari_c2w_version"),
            "created": self.meta.get("created"),
            "phantom_only": phantom_only(self.meta),
            "synthetic_labels_only": synthetic_labels_only(self.meta),
        }


def _train_cases(meta: dict) -> list | None:
    return (meta.get("training_data") or {}).get("train_cases") if isinstance(meta, dict) else None


def phantom_only(meta: dict) -> bool | None:
    """Whether a checkpoint was trained on phantoms only (None: its training cases are unknown)."""
    cases = _train_cases(meta)
    return all(str(c).startswith("phantom") for c in cases) if cases else None


def synthetic_labels_only(meta: dict) -> bool | None:
    """Whether every wall and scar label a checkpoint learnt from was synthetic: phantoms and
    semi-synthetic copies of real scans (None: its training cases are unknown).

    True for the bundled wall and scar: no real wall or scar label was available to train them.
    """
    cases = _train_cases(meta)
    return all(has_synthetic_wall(c) for c in cases) if cases else None


def synthetic_label_caveat(models: dict) -> str:
    """What to say beside a wall thickness or scar burden measured on these predictions.

    Args:
        models: a prediction's model records (``Prediction.models`` or a provenance entry's
            ``models``: stage name -> :meth:`StageModel.describe`).

    Returns:
        '' when the wall and scar models learnt from real labels (or are unknown), else the caveat.
    """
    synthetic = sorted(
        {
            name.split("_")[0]
            for name, record in (models or {}).items()
            if name.split("_")[0] in ("wall", "scar")
            and isinstance(record, dict)
            and (record.get("synthetic_labels_only") or record.get("phantom_only"))
        }
    )
    if not synthetic:
        return ""
    what = " and ".join(synthetic)
    return (
        f"Caveat: the {what} model{'s' if len(synthetic) > 1 else ''} never saw a real wall or scar "
        "label (trained on phantoms and semi-synthetic copies of real scans): read wall thickness "
        "and scar burden as rough estimates, and check the wall before quoting them."
    )


def _is_bundled(path: Path) -> bool:
    return path.parent.name == "weights" and path.parent.parent.name == "napari_c2w"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stage_files(
    sources: Iterable[str | Path] = (), stages: Iterable[str] = PIPELINE_STAGES
) -> dict[str, Path]:
    """The checkpoint file of each stage: bundled, then each source in turn overrides."""
    from ..models import read_checkpoint

    stages = tuple(stages)
    chosen: dict[str, Path] = {}
    for item in sources:
        source = Path(item)
        if source.is_file():
            stage = read_checkpoint(source)["meta"].get("stage")
            chosen[stage] = source
        elif source.is_dir():
            found = {s: source / f"{s}.pt" for s in PIPELINE_STAGES if (source / f"{s}.pt").is_file()}
            if (source / "best.pt").is_file():
                found[read_checkpoint(source / "best.pt")["meta"].get("stage")] = source / "best.pt"
            if not found:
                raise InputError(
                    source,
                    "holds no model checkpoints.",
                    "Give a folder with localizer.pt/cavity.pt/wall.pt/scar.pt, a training run folder "
                    "(with best.pt) or a .pt file.",
                )
            chosen.update(found)
        else:
            raise InputError(
                source, "does not exist.", "Give a model folder, a training run folder or a .pt file."
            )
    unknown = [s for s in chosen if s not in PIPELINE_STAGES]
    if unknown:
        raise InputError(
            chosen[unknown[0]],
            f"holds a {unknown[0]!r} model, which the pipeline does not run.",
            f"The pipeline runs the stages {', '.join(PIPELINE_STAGES)} "
            "(a dual scar model: use its best.pt).",
        )
    return {s: chosen.get(s) or bundled_checkpoint(s) for s in stages}


def load_model_set(
    sources: Iterable[str | Path] = (), stages: Iterable[str] = PIPELINE_STAGES
) -> dict[str, StageModel]:
    """Load the networks of ``stages`` (CPU, eval mode); see :func:`stage_files`. A stage whose
    ``<stage>.pt`` has an alternate beside it (:data:`napari_c2w.stages.ALTERNATES`, e.g. the
    bundled ``wall_contrast.pt``) brings it along under the alternate's name."""
    out = {}
    for stage, path in stage_files(sources, stages).items():
        out[stage] = _load(stage, Path(path))
        alternate = ALTERNATES.get(stage)
        if alternate and path.name == f"{stage}.pt" and path.with_name(f"{alternate}.pt").is_file():
            out[alternate] = _load(stage, path.with_name(f"{alternate}.pt"))
    return out


def _load(stage: str, path: Path) -> StageModel:
    from ..models import load_checkpoint

    model, meta = load_checkpoint(path, expect_stage=stage)
    if meta.get("out_channels") != 1:
        raise InputError(
            path, f"has {meta.get('out_channels')} output channels; the pipeline needs 1 (sigmoid)."
        )
    return StageModel(stage, model, meta, path, _sha256(path))
