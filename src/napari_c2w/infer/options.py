"""The inference pipeline's options (:class:`InferenceOptions`): which steps run and how."""

from __future__ import annotations

import dataclasses

from ..masks.band import INNER_MM, OUTER_MM
from ..noise import TARGET as NOISE_TARGET
from ..stages import PIPELINE_STAGES


@dataclasses.dataclass
class InferenceOptions:
    """How the pipeline runs; every post-processing step can be switched off."""

    device: str = "auto"
    amp: bool = True  # bf16/fp16 autocast where the device supports it
    sw_batch_size: int = 1
    overlap: float = 0.25
    # Sliding-window size (z, y, x) on the model grid; None: each model's training patch, the
    # windows its validation used (instance norm sees the statistics it learned from).
    window: tuple[int, int, int] | None = None
    # The wall and scar networks run one window as deep as their region (up to 1.5 windows) instead
    # of two overlapping ones along z (regions.deep_window; PyTorch only). Off: it saved 0.4 s a
    # case for +-0.002 Dice and a scar bf16-vs-fp32 agreement of 0.9976 (docs/model_card.md).
    deep_windows: bool = False
    # Foreground threshold of the cavity, wall and scar probabilities; None: each model's
    # calibrated threshold (checkpoint meta "threshold", chosen on its validation cases), else 0.5.
    threshold: float | None = None
    largest_cavity: bool = True
    wall_near_cavity: bool = True  # drop wall components that never come within the band
    scar_in_band: bool = True
    # Scar deeper than this inside the predicted cavity is dropped on the input grid (the wall,
    # where scar is, lies outside the endocardium); None keeps all the band allows (3 mm in).
    scar_max_depth_mm: float | None = 1.5
    contrast_check: bool = True  # a second cavity pass on a gamma-bent input: quality signal
    # A scan noisier than the training data (napari_c2w.noise.estimate above noise_target) is
    # smoothed in its acquisition plane down to that level before every stage.
    denoise: bool = True
    noise_target: float = NOISE_TARGET
    # Map the ROI's intensity landmarks onto the training scans' before the networks (Nyul's
    # histogram standardisation, napari_c2w.standardize) for models trained without it; a model
    # trained with it applies its own standard whatever this says. Off: on 6 held-out scans
    # under 10 shift sets (bench_robustness --baseline-option intensity_standard=true) it gave
    # 0.890 against 0.891 without; +0.015 under the mild contrast curve, -0.011 under SynthSeg
    # tissues, -0.006 for a crop into the atrium (docs/robustness.md).
    intensity_standard: bool = False
    # A model set whose wall has an alternate (the bundled wall_contrast.pt, trained on
    # randomised contrasts: napari_c2w.stages.ALTERNATES) runs both and keeps the wall that
    # covers more of the cavity's surface; False runs the wall alone.
    wall_alternate: bool = True
    # ... but only where the wall alone covers less than this share of the cavity's surface
    # (None: always). On 104 benchmark runs the alternate won 20 times, 15 of them below 0.45,
    # the other 5 by at most 0.052 of coverage; it ran on 22 instead of 104 (a third of the
    # pipeline's time each).
    wall_alternate_below: float | None = 0.45
    # Who runs the networks' windows (napari_c2w.infer.runtimes): "auto" takes OpenVINO, where
    # installed, on a CPU without native bf16 (1.8x PyTorch's fp32 there), else PyTorch.
    runtime: str = "auto"
    band_inner_mm: float = INNER_MM
    band_outer_mm: float = OUTER_MM
    probabilities: bool = False
    uncertainty_map: bool = False
    flip_tta: bool = False  # adds a mirrored pass: disagreement enters the uncertainty
    # Wall and scar are predicted only in the predicted cavity's box plus this margin when their
    # post-processing (wall_near_cavity, scar_in_band) would discard them further out anyway.
    crop_to_cavity: bool = True
    crop_margin_mm: float = 10.0
    # The cavity is predicted only in the localizer's atrium box plus this margin; where the
    # predicted cavity reaches a face of that box inside the ROI, it is predicted again on the
    # whole ROI.
    crop_to_atrium: bool = True
    atrium_margin_mm: float = 5.0
    stages: tuple[str, ...] = PIPELINE_STAGES[1:]  # those after the localizer (which places the ROI)
