"""The one table of model stages: what each learns, what may start it, where it runs, how it trains.

Every module that behaves per stage reads its :class:`Stage` record in :data:`STAGES`
(training configuration, initialisation, the training target, the pipeline's regions and
progress bar, checkpoint checks, calibration, the bundled weights). Adding a stage is a record
here, plus its network or training code where that is truly new.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .preprocess import LOCALIZER_SPACING


@dataclasses.dataclass(frozen=True)
class Stage:
    """One model stage.

    Attributes:
        name: the stage's name: ``--stage``, a checkpoint's ``meta["stage"]``, ``<name>.pt``.
        summary: what it learns, for ``napari-c2w-train --help``; empty for a stage that is not
            trained on its own (the dual-decoder model of the scar's phase II).
        target: the label its network predicts, on which its loss and validation are computed.
        labels: the labels a training case must carry.
        inits: the checkpoint stages that may initialise it (``--init``, :mod:`.train.init`).
        defaults: its changes to :class:`~napari_c2w.train.config.TrainConfig`'s defaults (the
            CPU-sized configuration; ``training/cpu/<name>.yaml`` writes them out).
        spatial_dims: 3, or 2 for a network trained on axial slices.
        whole_volume: trained and run on the whole downsampled volume, not on an ROI.
        dual: a dual-decoder network (cavity and scar).
        calibrated: its decision threshold is chosen on the validation cases after training.
        progress: its share of a pipeline run's time (the progress bar); 0 outside the pipeline.
        region: the part of the ROI its network sees in the pipeline: ``"atrium"`` (the
            localizer's atrium plus a margin; a target reaching its face is predicted again on
            the whole ROI), ``"cavity"`` (the predicted cavity's box plus a margin) or None
            (everything it is given).
        region_if: for ``region="cavity"``, the :class:`~napari_c2w.infer.options.InferenceOptions`
            flag under which post-processing discards what lies far from the cavity (so that
            cropping loses nothing).
        alternate: a second network the pipeline may run beside it, shipped as ``<alternate>.pt``
            beside ``<name>.pt`` (the bundled weights or a model folder); per case the pipeline
            keeps the wall that covers more of the cavity's surface (:mod:`.infer.alternates`).
            A stage given as a training run or a single file runs alone.
    """

    name: str
    summary: str
    target: str
    labels: tuple[str, ...] = ()
    inits: tuple[str, ...] = ()
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    spatial_dims: int = 3
    whole_volume: bool = False
    dual: bool = False
    calibrated: bool = False
    progress: float = 0.0
    region: str | None = None
    region_if: str | None = None
    alternate: str | None = None

    @property
    def trainable(self) -> bool:
        """Offered by ``napari-c2w-train --stage``."""
        return bool(self.summary)

    @property
    def in_pipeline(self) -> bool:
        """Run by the inference pipeline (and shipped as bundled weights)."""
        return self.progress > 0


#: Every stage, in the order the pipeline runs them.
STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage(
            "localizer",
            "coarse cavity on the whole downsampled volume",
            target="cavity",
            labels=("cavity",),
            inits=("localizer",),
            whole_volume=True,
            progress=0.10,
            defaults={
                "preset": "localizer",
                "iterations": 1500,
                "val_every": 300,
                "data": {
                    "model_spacing": list(LOCALIZER_SPACING),
                    "roi": [48, 96, 96],
                    "patch": [48, 96, 96],
                    "batch_size": 2,
                    "roi_jitter_mm": 20.0,
                },
            },
        ),
        Stage(
            "cavity",
            "stage 1: cavity prior on the ROI (C2W-Tune 2.3; progressive scar stage I)",
            target="cavity",
            labels=("cavity",),
            inits=("cavity",),
            calibrated=True,
            progress=0.45,
            region="atrium",
            defaults={"iterations": 1500, "val_every": 250},
        ),
        Stage(
            "cavity2d",
            "2D cavity network on axial slices, for --init inflate2d:",
            target="cavity",
            labels=("cavity",),
            inits=("cavity2d",),
            spatial_dims=2,
            defaults={
                "iterations": 1500,
                "val_every": 150,
                "data": {"patch": [1, 128, 128], "batch_size": 8},
            },
        ),
        Stage(
            "wall",
            "stage 2: wall by C2W-Tune (new head, progressive unfreezing A/B/C)",
            target="wall",
            labels=("wall",),
            inits=("cavity", "wall"),
            calibrated=True,
            progress=0.15,
            region="cavity",
            region_if="wall_near_cavity",
            alternate="wall_contrast",
            defaults={
                "init": "cavity",
                "schedule": "progressive",
                "iterations": 1000,
                "val_every": 200,
                "patience": 4,
            },
        ),
        Stage(
            "scar",
            "stage 3: scar by progressive learning (II dual-task, III scar fine-tuning)",
            target="scar",
            labels=("cavity", "scar"),
            inits=("cavity", "scar"),
            calibrated=True,
            progress=0.15,
            region="cavity",
            region_if="scar_in_band",
            defaults={
                "init": "cavity",
                "loss": "dicece",
                "iterations": 1000,
                "val_every": 200,
                "calibrate_under_shift": True,
            },
        ),
        Stage("dual", "", target="scar", labels=("cavity", "scar"), dual=True),
    )
}

#: The inference pipeline's stages, in the order they run (also the bundled weights).
PIPELINE_STAGES: tuple[str, ...] = tuple(n for n, s in STAGES.items() if s.in_pipeline)

#: The stages ``napari-c2w-train`` trains.
TRAINING_STAGES: tuple[str, ...] = tuple(n for n, s in STAGES.items() if s.trainable)

#: Stages whose decision thresholds are calibrated after training.
CALIBRATED_STAGES: tuple[str, ...] = tuple(n for n, s in STAGES.items() if s.calibrated)

#: A stage's second network: stage -> the alternate's name (see :attr:`Stage.alternate`).
ALTERNATES: dict[str, str] = {n: s.alternate for n, s in STAGES.items() if s.alternate}
