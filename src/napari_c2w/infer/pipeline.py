"""Staged inference: localise -> crop the ROI -> cavity -> wall -> scar -> back to the input grid.

Pure numpy/torch/MONAI (no Qt). Geometry: every model grid covers the input's physical extent
(``preprocess.resampled_shape``), so going back is a resampling to the input's shape, and the
labels come out on the input's grid (same shape, spacing, origin and direction).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable

import numpy as np

from .. import preprocess as pre
from ..errors import C2WError, InputError
from ..io.orient import reorientation
from ..io.volume import Volume, check_segmentable
from ..masks.geometry import margin_voxels
from ..noise import denoise
from ..stages import ALTERNATES, STAGES
from . import alternates, contrast_check
from .finish import Geometry, finish, to_stored_order
from .forward import WindowedForward
from .models import StageModel, load_model_set
from .options import InferenceOptions
from .progress import RunProgress
from .regions import DEEP_WINDOW_STAGES, atrium_region, deep_window, stage_region
from .runtimes import choose as choose_runtime

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

#: Localizer probability whose largest component bounds the atrium for the cavity crop. On the
#: 80 la2018 cases the largest component at 0.5 missed up to 22 mm of the cavity (pulmonary
#: veins); at 0.3 it held every cavity with at least 5.6 mm to spare in y and x (z: the whole
#: volume). All components at 0.3 are no use: on an 88 x 576 x 576 phantom they fill the volume.
ATRIUM_PROBABILITY = 0.3


class Cancelled(C2WError):
    """The run was cancelled by the user; nothing was written."""

    #: Widgets show a cancel as a plain message, not as an error.
    is_cancel = True


@dataclasses.dataclass
class Prediction:
    """Labels (uint8 0/1) on the input grid, and what produced them."""

    labels: dict[str, np.ndarray]
    probabilities: dict[str, np.ndarray] | None
    uncertainty: dict
    uncertainty_map: np.ndarray | None
    roi: dict
    timings: dict[str, float]
    models: dict[str, dict]
    device: str
    quality: dict = dataclasses.field(default_factory=dict)


class _Cancel:
    def __init__(self, cancel: Callable[[], bool] | None) -> None:
        self.cancel = cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("inference cancelled; nothing was written")


def segment(
    volume: Volume,
    models: dict[str, StageModel] | Iterable[str] | None = None,
    options: InferenceOptions | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Prediction:
    """Run the staged pipeline on ``volume``.

    Args:
        volume: the LGE image with its geometry.
        models: a loaded model set (:func:`load_model_set`), or model folders/files overriding
            the bundled weights, or None for the bundled weights.
        options: see :class:`InferenceOptions`.
        progress: called with (fraction done, message).
        cancel: polled between steps and between windows; True cancels (raises :class:`Cancelled`).
    """
    from ..models import select_device
    from ..models.share import cpu_job

    options = options or InferenceOptions()
    check_segmentable(volume)
    if models is None or not isinstance(models, dict):
        models = load_model_set(models or ())
    wanted = ("localizer", *options.stages)
    missing = [s for s in wanted if s not in models]
    if missing:
        raise InputError(None, f"the model set has no {', '.join(missing)} model.")
    device = select_device(options.device)
    # The models run in their canonical orientation; the results come back to the stored order.
    orient = reorientation(volume.direction)
    report = progress or (lambda f, m: None)
    run = _Run(orient.volume(volume), models, options, device, report, _Cancel(cancel))
    with cpu_job("predict"):
        pred = to_stored_order(run.execute(), orient)
    if "cavity" in pred.labels:
        from .quality import assess

        pred.quality = assess(pred, volume.spacing)
    return pred


class _Run:
    def __init__(self, volume, models, options, device, progress, cancel) -> None:  # noqa: PLR0917
        self.volume, self.models, self.options = volume, models, options
        self.device, self.cancel = device, cancel
        self.bar = RunProgress(progress)
        self.timings = self.bar.timings
        self.contrast_agreement: float | None = None
        self.alternates: dict[str, dict] = {}  # stage -> which network ran it and why
        self.atrium: np.ndarray | None = None  # the localizer's atrium on its coarse grid
        self.forward = WindowedForward(
            device,
            sw_batch_size=options.sw_batch_size,
            overlap=options.overlap,
            amp=options.amp,
            flip_tta=options.flip_tta,
            check=cancel.check,
            on_window=self.bar.window,
            runtime=choose_runtime(options.runtime, device, options.amp),
        )

    # -------------------------------------------------------------- bookkeeping
    def _step(self, name: str, message: str, passes: int = 1) -> None:
        self.cancel.check()
        self.bar.step(name, message, passes)

    def _finish(self, name: str, t0: float) -> None:
        self.bar.finish(name, t0)

    # -------------------------------------------------------------- the steps
    def execute(self) -> Prediction:
        t_all = time.perf_counter()
        vol = self.volume
        image = np.asarray(vol.array, dtype=np.float32)
        roi_meta = self.models[self.options.stages[0]].meta
        spacing = tuple(roi_meta["spacing"])
        self._step("prepare", "checking the noise and resampling to the model grid")
        t0 = time.perf_counter()
        target = self.options.noise_target if self.options.denoise else math.inf
        image, noise = denoise(image, vol.spacing, target)
        grid = pre.to_model_grid(image, vol.spacing, spacing)
        grid_shape = grid.shape
        self._finish("prepare", t0)

        centre, atrium_mm = self._localise(image)
        box = pre.roi_box(self._to_grid(centre, grid_shape), roi_meta["roi"], grid_shape)
        atrium = self._atrium_box(atrium_mm, box, grid_shape, spacing)
        x = pre.prepare_roi(grid, box, self._normalisation(roi_meta))
        del grid

        probs: dict[str, np.ndarray] = {}
        boxes: dict[str, list] = {}
        for stage in self.options.stages:
            passes = 1 + bool(self._alternate(stage)) + (stage == "cavity" and self.options.contrast_check)
            self._step(stage, f"segmenting the {stage}", passes)
            t0 = time.perf_counter()
            region = atrium if STAGES[stage].region == "atrium" else self._stage_box(stage, probs, spacing)
            probs[stage], region = self._predict_region(stage, x, region)
            if name := self._alternate(stage):
                probs[stage] = self._choose(stage, name, x, probs, region, spacing)
            if stage == "cavity" and self.options.contrast_check:
                self.contrast_agreement = self._contrast_agreement(x, probs[stage], region)
            if region is not None:
                boxes[stage] = [list(b) for b in region]
            self._finish(stage, t0)

        self._step("finish", "post-processing and mapping back to the input grid")
        t0 = time.perf_counter()
        geometry = Geometry(box, grid_shape, spacing, image.shape, self.volume.spacing)
        thresholds = {s: self._threshold(s) for s in probs}
        atrium_roi = self._atrium_on_roi(grid_shape, box)
        fields, checks = finish(probs, thresholds, geometry, self.options, atrium_roi)
        self._finish("finish", t0)
        self.timings["total"] = round(time.perf_counter() - t_all, 3)
        self.bar.report(1.0, "done")
        return Prediction(
            **fields,
            roi={
                "centre_mm": [round(float(c), 2) for c in centre],
                "box_model_grid": [list(b) for b in box],
                "stage_boxes_in_roi": boxes,
                "model_spacing": list(spacing),
                "localizer_ml": None if self.localizer_ml is None else round(self.localizer_ml, 2),
                **checks,
                "contrast_agreement": self.contrast_agreement,
                "noise": noise["noise"],
                "denoise_sigma_mm": noise["sigma_mm"],
                "alternates": self.alternates,
                "runtime": self.forward.runtime,
            },
            timings=self.timings,
            models={
                s: self._describe(s, m)
                for s, m in self.models.items()
                if s
                in (
                    "localizer",
                    *self.options.stages,
                    *(a["name"] for a in self.alternates.values() if a.get("ran", True)),
                )
            },
            device=str(self.device),
        )

    def _normalisation(self, meta: dict) -> dict | None:
        """The ROI networks' intensity normalisation: the model's own, with the package's
        intensity standard added when ``options.intensity_standard`` asks for it."""
        spec = meta.get("intensity_normalisation")
        if not self.options.intensity_standard or (spec or {}).get("standard"):
            return spec
        return pre.with_package_standard(spec)

    def _localise(self, image: np.ndarray):
        """Centre of the atrium in mm from the first voxel (the localizer's largest component),
        and the box of the largest component >= ATRIUM_PROBABILITY as (first, last) edges in mm, or
        None when there are none."""
        from ..masks.components import keep_largest_component

        self._step("localizer", "locating the atrium")
        t0 = time.perf_counter()
        loc = self.models["localizer"]
        shape = pre.resampled_shape(image.shape, self.volume.spacing, loc.meta["spacing"])
        coarse = pre.normalize_intensity(pre.resample(image, shape), loc.meta.get("intensity_normalisation"))
        prob = self._predict(loc, coarse)
        mask = prob >= 0.5
        if mask.any():
            mask, _ = keep_largest_component(mask)
        self.atrium = mask
        voxel_mm3 = np.prod(
            [s * n0 / n for s, n0, n in zip(self.volume.spacing, image.shape, shape, strict=True)]
        )
        self.localizer_ml = float(mask.sum() * voxel_mm3 / 1000.0)
        com = pre.center_of_mass(mask)
        if com is None:
            log.warning("the localizer found no atrium; the ROI is centred on the volume")
            com = tuple((n - 1) / 2 for n in shape)
        edges, atrium = None, prob >= ATRIUM_PROBABILITY
        if atrium.any():  # voxel faces of the largest component, in voxel-index coordinates
            bounds = pre.mask_box(keep_largest_component(atrium)[0], (0, 0, 0), (1, 1, 1))
            edges = tuple(self._to_mm([b[k] - 0.5 for b in bounds], shape, image.shape) for k in (0, 1))
        self._finish("localizer", t0)
        return self._to_mm(com, shape, image.shape), edges

    def _atrium_on_roi(self, grid_shape, box) -> np.ndarray | None:
        """The localizer's atrium (the component that placed the ROI) on the ROI of the model
        grid: both grids cover the input's physical extent, so it is a resampling and a crop.
        None when no cavity component is to be picked."""
        wanted = self.options.largest_cavity and "cavity" in self.options.stages
        if not wanted or self.atrium is None or not self.atrium.any():
            return None  # nothing to pick a cavity component for
        return pre.crop(pre.resample(self.atrium, grid_shape, kind="mask"), box) != 0

    def _to_mm(self, index, shape, input_shape) -> tuple[float, float, float]:
        return pre.grid_to_mm(index, shape, input_shape, self.volume.spacing)

    def _to_grid(self, mm, grid_shape) -> tuple[float, float, float]:
        return pre.mm_to_grid(mm, grid_shape, self.volume.array.shape, self.volume.spacing)

    def _predict(self, stage: StageModel, x: np.ndarray) -> np.ndarray:
        """Foreground probability of a (z, y, x) array with MONAI sliding windows."""
        window = self._window(stage)
        deep = self.options.deep_windows and self.forward.runtime == "torch"
        if deep and stage.stage in DEEP_WINDOW_STAGES:  # OpenVINO would compile every new depth
            window = deep_window(window, x.shape, stage.model.size_divisor)
        return self.forward.probability(stage, x, window)

    def _contrast_agreement(self, x: np.ndarray, prob: np.ndarray, region) -> float:
        """The cavity's agreement with a second pass on a gamma-bent input (:mod:`.contrast_check`)."""
        alt, _ = self._predict_region("cavity", contrast_check.gamma_perturbed(x), region)
        threshold = self._threshold("cavity")
        return round(contrast_check.agreement(prob >= threshold, alt >= threshold), 4)

    def _alternate(self, stage: str) -> str | None:
        """The name of ``stage``'s alternate network when this run uses one."""
        name = ALTERNATES.get(stage)
        return name if self.options.wall_alternate and name in self.models else None

    def _choose(self, stage: str, name: str, x: np.ndarray, probs: dict, region, spacing) -> np.ndarray:  # noqa: PLR0917
        """``stage`` predicted again by its alternate ``name`` in the same region (which holds the
        cavity and both masks); the probabilities of the one :func:`.alternates.keep` keeps."""
        inside = (lambda a: a) if region is None else (lambda a: pre.crop(a, region))
        cavity = inside(probs["cavity"]) >= self._threshold("cavity")
        below = self.options.wall_alternate_below
        if below is not None:
            own = alternates.coverage(cavity, inside(probs[stage]) >= self._threshold(stage), spacing)
            if not own < below:  # covers enough (or there is no cavity): the alternate cannot help
                self.alternates[stage] = {
                    "name": name,
                    "chosen": stage,
                    "coverage": {stage: own},
                    "ran": False,
                }
                return probs[stage]
        self.bar.message = f"segmenting the {stage} again with its alternate ({name})"
        both = {stage: probs[stage], name: self._predict_region(name, x, region)[0]}
        masks = {s: inside(p) >= self._threshold(s) for s, p in both.items()}
        chosen, cover = alternates.keep(cavity, masks, stage, spacing)
        self.alternates[stage] = {"name": name, "chosen": chosen, "coverage": cover}
        return both[chosen]

    def _predict_region(self, stage: str, x: np.ndarray, region):
        """``stage``'s probabilities over the ROI ``x``, predicted in ``region`` only (zeros
        elsewhere) or, for None, everywhere, and the region used. A cavity that reaches a face
        of its region inside the ROI is predicted again on the whole ROI. ``stage`` may name an
        alternate network (:data:`napari_c2w.stages.ALTERNATES`)."""
        model = self.models[stage]
        if region is not None:
            part = self._predict(model, pre.crop(x, region))
            cut = part >= self._threshold(stage) if self._retries(stage) else None
            if cut is None or not pre.touches_inner_face(cut, region, x.shape):
                return pre.paste(np.zeros(x.shape, np.float32), part, region), region
            log.info("the cavity reaches the edge of the atrium box; predicting the whole ROI")
        return self._predict(model, x), None

    def _atrium_box(self, edges_mm, box, grid_shape, spacing) -> tuple[tuple[int, int], ...] | None:
        """:func:`.regions.atrium_region` when cropping to the atrium is on; None for the whole ROI."""
        if not (self.options.crop_to_atrium and edges_mm is not None and "cavity" in self.models):
            return None
        lo, hi = (self._to_grid(e, grid_shape) for e in edges_mm)
        margin = margin_voxels(self.options.atrium_margin_mm, spacing, beyond=False)
        return atrium_region(lo, hi, box, margin, self._window(self.models["cavity"]))

    @staticmethod
    def _retries(name: str) -> bool:
        """Whether ``name``'s network (a stage or an alternate) sees the localizer's atrium, so that
        a target reaching a face of that box is predicted again on the whole ROI."""
        return name in STAGES and STAGES[name].region == "atrium"

    def _stage_box(self, stage: str, probs: dict, spacing) -> tuple[tuple[int, int], ...] | None:
        if STAGES[stage].region != "cavity":
            return None
        window = self._window(self.models[stage])
        return stage_region(
            stage, probs, self.options, threshold=self._threshold("cavity"), window=window, spacing=spacing
        )

    def _describe(self, name: str, stage: StageModel) -> dict:
        """The model's provenance, with the window and threshold this run used."""
        used = {"window": list(self._window(stage))}
        if name != "localizer":  # each network's own threshold (an alternate's included)
            fixed = self.options.threshold
            used["threshold"] = float(stage.meta.get("threshold", 0.5) if fixed is None else fixed)
        return {**stage.describe(), **used}

    def _window(self, stage: StageModel) -> tuple[int, ...]:
        if self.options.window is not None:
            return tuple(int(n) for n in self.options.window)
        return tuple(int(n) for n in stage.meta.get("patch") or stage.meta["roi"])

    def _threshold(self, stage: str) -> float:
        """The threshold of ``stage``'s network (of the alternate, where one was chosen)."""
        if self.options.threshold is not None:
            return float(self.options.threshold)
        name = self.alternates.get(stage, {}).get("chosen", stage)
        return float(self.models[name].meta.get("threshold", 0.5))
