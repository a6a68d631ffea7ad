"""The one table of model stages: what runs in the pipeline, what trains, what is calibrated.

Stage names were defined in four places before (weights, checkpoints, training config,
calibration); everything now reads them from here.
"""

from __future__ import annotations

#: The inference pipeline's stages, in the order they run (also the bundled weights).
PIPELINE_STAGES: tuple[str, ...] = ("localizer", "cavity", "wall", "scar")

#: Trainable stage -> (what it learns, target structures).
TRAINING_STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "localizer": ("coarse cavity on the whole downsampled volume", ("cavity",)),
    "cavity": ("stage 1: cavity prior on the ROI (C2W-Tune 2.3; progressive scar stage I)", ("cavity",)),
    "cavity2d": ("2D cavity network on axial slices, for --init inflate2d:", ("cavity",)),
    "wall": ("stage 2: wall by C2W-Tune (new head, progressive unfreezing A/B/C)", ("wall",)),
    "scar": (
        "stage 3: scar by progressive learning (II dual-task, III scar fine-tuning)",
        ("cavity", "scar"),
    ),
}

#: A second network a stage may carry, as ``<name>.pt`` beside the stage's own ``<stage>.pt``
#: (the bundled weights, or a model folder): stage -> name. The pipeline runs both and keeps,
#: per case, the wall that covers more of the cavity's surface (:mod:`napari_c2w.infer.pipeline`).
#: A stage given as a training run or a single file runs alone.
ALTERNATES: dict[str, str] = {"wall": "wall_contrast"}

#: Every stage a checkpoint may declare (the dual-decoder scar model included).
CHECKPOINT_STAGES: tuple[str, ...] = (*PIPELINE_STAGES, "dual", "cavity2d")

#: Stages whose decision thresholds are calibrated after training.
CALIBRATED_STAGES: tuple[str, ...] = ("cavity", "wall", "scar")
