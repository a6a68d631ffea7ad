"""Training configuration: dataclasses with strict YAML loading (unknown keys are errors).

Defaults are the CPU-sized configuration of each stage; ``training/cpu/*.yaml`` are
those defaults written out, ``training/paper/*.yaml`` the papers' set-up for GPUs.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..masks.band import INNER_MM, OUTER_MM
from ..preprocess import DEFAULT_MODEL_SPACING, DEFAULT_ROI
from ..stages import STAGES, TRAINING_STAGES


@dataclasses.dataclass
class DataConfig:
    val_fraction: float = 0.1
    split_seed: int = 0
    cases: int | None = None  # subsample this many training cases (reduced supervision)
    model_spacing: list[float] = dataclasses.field(default_factory=lambda: list(DEFAULT_MODEL_SPACING))
    roi: list[int] = dataclasses.field(default_factory=lambda: list(DEFAULT_ROI))
    roi_jitter_mm: float = 4.0
    patch: list[int] = dataclasses.field(default_factory=lambda: [32, 128, 128])
    batch_size: int = 2
    pos_ratio: float = 2.0  # foreground:background centres when sampling patches
    allow_mixed_spacing: bool = True  # cases are resampled to model_spacing
    # Map each case's intensity landmarks onto the package's standard before z-scoring
    # (napari_c2w.standardize); the checkpoint records the standard, inference applies it.
    standardize: bool = False

    def normalisation(self) -> dict:
        """The intensity normalisation the stage's inputs get (recorded in its checkpoints)."""
        from ..preprocess import DEFAULT_NORMALIZATION, with_package_standard

        return with_package_standard() if self.standardize else dict(DEFAULT_NORMALIZATION)


@dataclasses.dataclass
class OptimConfig:
    lr: float = 1e-3
    min_lr: float = 1e-6
    weight_decay: float = 1e-4
    betas: list[float] = dataclasses.field(default_factory=lambda: [0.9, 0.999])
    warmup: int = 40  # iterations of linear warm-up at the start of each segment
    grad_clip: float = 12.0


@dataclasses.dataclass
class UnfreezeConfig:
    """C2W-Tune progressive unfreezing (stage wall). Boundaries are iterations."""

    # Boundaries as a fraction of the iterations (< 1) or an iteration number (>= 1).
    step_b: float = 0.2  # step A (encoder frozen) runs before this
    step_c: float = 0.45  # step B (shallow stages frozen) runs before this
    frozen_shallow: int = 2  # encoder stages kept frozen in step B

    def boundary(self, step: str, iterations: int) -> int:
        """The iteration where step ``b`` or ``c`` starts."""
        value = self.step_b if step == "b" else self.step_c
        return round(value * iterations) if value < 1 else int(value)

    lr_peaks: list[float] = dataclasses.field(default_factory=lambda: [1e-3, 1e-4, 1e-5])


#: What a fine-tune can train (train/tune.py): every parameter, the first encoder levels, the
#: norms' scales and shifts, or low-rank adapters; ``auto`` picks (:func:`.tune.effective`).
TUNES = ("auto", "all", "first", "norm", "lora")
#: The same for people (the Fine-tune widget's choices).
TUNE_CHOICES = (
    ("automatic: the first levels for up to 3 training cases", "auto"),
    ("the whole network", "all"),
    ("the first levels", "first"),
    ("the norms only", "norm"),
    ("low-rank adapters", "lora"),
)
#: What ``auto`` trains when a network is fine-tuned on a few cases of a new site: the part
#: benchmarks/bench_fewshot.py found best at the same CPU minutes (docs/training.md).
FEW_SHOT_TUNE = "first"
#: ... on at most this many training cases (3 corrected cases leave 2 beside the one held
#: back): with 1 and 3 corrected cases the first levels did better than the whole network, with
#: 5 the whole network did; from scratch ``auto`` trains all.
FEW_SHOT_CASES = 3


def tune_applies(stage: str, schedule: str | None = None) -> bool:
    """Whether ``tune`` can choose the trained part of ``stage`` under ``schedule`` (None: the
    stage's default); the wall's progressive unfreezing and the scar's phases choose their own."""
    schedule = schedule or STAGES[stage].defaults.get("schedule", "plain")
    return stage != "scar" and schedule == "plain"


@dataclasses.dataclass
class TuneConfig:
    """What a fine-tune trains: ``part`` (one of :data:`TUNES`), how many encoder ``levels``
    for ``first``, the adapters' ``rank`` for ``lora``."""

    part: str = "auto"
    levels: int = 3
    rank: int = 4


@dataclasses.dataclass
class ScarConfig:
    phases: list[str] = dataclasses.field(default_factory=lambda: ["II", "III"])
    phase_ii_fraction: float = 0.6  # share of the iterations spent in phase II
    beta_cavity: float = 0.3
    beta_scar: float = 0.7
    alpha_max: float = 2.0
    alpha_ramp: float = 0.5  # alpha(t) rises linearly over this share of phase II
    inner_mm: float = INNER_MM
    outer_mm: float = OUTER_MM
    shared_lr_factor: float = 0.1  # encoder + cavity decoder learn this much slower in II
    frozen_shallow: int = 2  # encoder stages frozen in phase III


@dataclasses.dataclass
class TrainConfig:
    stage: str = "cavity"
    preset: str = "lite"  # the bundled weights' preset (docs/models.md)
    init: str = "scratch"  # scratch | bundled | RUN_DIR | CKPT | inflate2d:CKPT
    schedule: str = "plain"  # plain | progressive (C2W-Tune unfreezing; wall only)
    loss: str = "dicefocal"  # dicefocal | dicece
    iterations: int = 1000
    val_every: int = 100
    patience: int = 0  # validations without improvement before stopping (0: never)
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"  # auto | bf16 | fp16 | off
    threads: int | None = None
    calibrate: bool = True  # choose the foreground threshold on the validation cases at the end
    # ... on them and on copies under each of the training's intensity changes, keeping the
    # threshold best on the worst of them (train.calibrate.INTENSITY_SHIFTS; on for the scar)
    calibrate_under_shift: bool = False
    # Weight of a distillation term towards the init network (its probabilities as soft targets,
    # binary cross-entropy): keeps a fine-tune on pseudo-labels (napari-c2w adapt) from
    # forgetting what the init network knew. 0: none.
    distill: float = 0.0
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    unfreeze: UnfreezeConfig = dataclasses.field(default_factory=UnfreezeConfig)
    # Which part of the network a fine-tune trains: all | first | norm | lora (train/tune.py).
    tune: TuneConfig = dataclasses.field(default_factory=TuneConfig)
    scar: ScarConfig = dataclasses.field(default_factory=ScarConfig)
    augment: dict[str, dict[str, Any]] = dataclasses.field(default_factory=lambda: default_augment())  # noqa: PLW0108 (defined below)

    def validate(self) -> TrainConfig:
        self._check_distill()
        self._check_tune()
        if self.stage not in TRAINING_STAGES:
            raise InputError(
                None, f"unknown stage {self.stage!r}.", f"Choose one of {', '.join(TRAINING_STAGES)}."
            )
        self._check_counts()
        if self.schedule not in ("plain", "progressive"):
            raise InputError(None, f"unknown schedule {self.schedule!r}.", "Use 'plain' or 'progressive'.")
        if self.schedule == "progressive" and self.stage != "wall":
            raise InputError(
                None,
                "the progressive unfreezing schedule is for the wall stage.",
                "Use schedule: plain for other stages.",
            )
        if (
            not 0
            <= self.unfreeze.boundary("b", self.iterations)
            <= self.unfreeze.boundary("c", self.iterations)
            <= self.iterations
            and self.schedule == "progressive"
        ):
            raise InputError(
                None,
                f"unfreeze steps must satisfy step_b <= step_c <= iterations "
                f"(got {self.unfreeze.step_b}, {self.unfreeze.step_c}, {self.iterations}).",
            )
        bad = [p for p in self.scar.phases if p not in ("II", "III")]
        if bad or not self.scar.phases:
            raise InputError(None, f"scar phases {self.scar.phases} are not a list of II and III.")
        if self.loss not in ("dicefocal", "dicece"):
            raise InputError(None, f"unknown loss {self.loss!r}.", "Use dicefocal or dicece.")
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise InputError(None, f"unknown amp {self.amp!r}.", "Use auto, bf16, fp16 or off.")
        for key in self.augment:
            if key not in default_augment():
                raise InputError(
                    None, f"unknown augmentation {key!r}.", f"Known: {', '.join(default_augment())}."
                )
        return self

    def _check_distill(self) -> None:
        if not isinstance(self.distill, int | float) or self.distill < 0:
            raise InputError(None, f"distill must be a weight >= 0 (got {self.distill!r}).")
        if self.distill > 0 and self.init in ("scratch", "", None):
            raise InputError(
                None,
                "distill needs a network to distil from, but init is scratch.",
                "Set init (e.g. bundled) or distill: 0.",
            )

    def _check_tune(self) -> None:
        t = self.tune
        if t.part not in TUNES:
            raise InputError(None, f"unknown tune part {t.part!r}.", f"Choose one of {', '.join(TUNES)}.")
        if not isinstance(t.levels, int) or t.levels < 1 or not isinstance(t.rank, int) or t.rank < 1:
            raise InputError(
                None, f"tune.levels and tune.rank must be at least 1 (got {t.levels!r}, {t.rank!r})."
            )
        if t.part not in ("auto", "all") and not tune_applies(self.stage, self.schedule):
            raise InputError(
                None,
                f"tune {t.part!r} trains part of a network, but the {self.stage} stage's "
                f"{'progressive schedule' if self.schedule == 'progressive' else 'phases'} choose their own.",
                "Use tune: all (the default) for this stage or schedule.",
            )

    def _check_counts(self) -> None:
        """Preset, iterations and validation interval."""
        from ..models.presets import PRESETS

        if self.preset not in PRESETS:
            raise InputError(
                None,
                f"unknown preset {self.preset!r}.",
                f"Choose one of {', '.join(PRESETS)} (docs/models.md)",
            )
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise InputError(None, f"iterations must be at least 1 (got {self.iterations!r}).")
        if not isinstance(self.val_every, int) or self.val_every < 1:
            raise InputError(
                None,
                f"val_every must be at least 1 (got {self.val_every!r}).",
                f"Validate every N >= 1 iterations; --val-every {self.iterations} validates only at the end.",
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def default_augment() -> dict[str, dict[str, Any]]:
    """Seed 002's table 1: each transform with its probability and range."""
    return {
        "bias_field": {"prob": 0.15, "coeff": [0.02, 0.06]},
        "elastic": {"prob": 0.10, "sigma": [3.0, 5.0], "magnitude": [3.0, 6.0]},
        "rotate": {"prob": 0.50, "degrees": 15.0},
        "zoom": {"prob": 0.30, "range": [0.9, 1.1]},
        "blur": {"prob": 0.20, "sigma": [0.5, 1.5]},
        "contrast": {"prob": 0.30, "gamma": [0.8, 1.3]},
        "shift": {"prob": 0.50, "offset": 0.1},
        "noise": {"prob": 0.20, "std": 0.02},
        # Protocol shifts (issue #11): other slice thicknesses, resolutions, intensity
        # mappings, ringing and fields of view than the training scans have.
        "thick_slices": {"prob": 0.25, "mm": [2.5, 5.0]},
        "low_resolution": {"prob": 0.10, "zoom": [0.6, 1.0]},
        "histogram_shift": {"prob": 0.15, "points": [5, 10]},
        # Non-monotonic: tissue order can change (another sequence or inversion time). Off by
        # default: scar is defined by its enhancement, which a remap can invert; the robust
        # cavity fine-tuning (training/cpu/robust-cavity-remap.yaml) turns it on.
        "contrast_remap": {"prob": 0.0, "kernel": [5, 20], "slope": [0.3, 1.0]},
        "gibbs": {"prob": 0.10, "alpha": [0.0, 0.4]},
        "field_of_view": {"prob": 0.20, "margin_mm": [-3.0, 10.0]},
    }


def _merge(base: dict, changes: dict, where: str = "") -> dict:
    out = dict(base)
    for key, value in changes.items():
        if key not in base:
            known = ", ".join(sorted(base))
            raise InputError(None, f"unknown config key {where}{key!r}.", f"Known keys here: {known}.")
        if isinstance(base[key], dict) and value is None:
            continue  # an empty section (``data:`` with nothing under it)
        _check_type(f"{where}{key}", base[key], value)
        if key == "augment":
            out[key] = _merge_augment(base[key], value)
        elif isinstance(base[key], dict):
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


#: Augmentations that were removed, and why. A run folder's ``config.yaml`` lists every
#: augmentation, so one written before the removal names them: it still loads while they are off.
RETIRED_AUGMENTATIONS: dict[str, str] = {
    "wall_level": "the wall's level drawn per patch, an experiment that was not shipped",
}


def _merge_augment(base: dict, changes: dict) -> dict:
    """``changes`` to the augmentation table ``base``; every name and type checked."""
    merged = dict(base)
    for name, spec in changes.items():
        if name in RETIRED_AUGMENTATIONS and name not in merged:
            prob = (spec or {}).get("prob", 0)
            if not (isinstance(prob, int | float) and prob <= 0):
                raise InputError(
                    None,
                    f"augmentation {name!r} was removed ({RETIRED_AUGMENTATIONS[name]}).",
                    f"Delete augment.{name} from the config.",
                )
            continue  # off, as every config written before the removal has it
        if name not in merged:
            raise InputError(None, f"unknown augmentation {name!r}.", f"Known: {', '.join(merged)}.")
        _check_type(f"augment.{name}", merged[name], spec or {})
        for k, v in (spec or {}).items():
            _check_type(f"augment.{name}.{k}", merged[name].get(k), v)
        merged[name] = {**merged[name], **(spec or {})}
    return merged


def _check_type(name: str, default: Any, value: Any) -> None:
    """InputError unless ``value`` has the type of the key's ``default`` (None: any type)."""
    if default is None:
        return
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = number and isinstance(value, int), "a whole number"
    elif isinstance(default, float):
        ok, kind = number, "a number (write 1e-3 as 1.0e-3: YAML reads 1e-3 as text)"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "text"
    elif isinstance(default, list):
        ok, kind = isinstance(value, list), "a list"
    elif isinstance(default, dict):
        ok, kind = isinstance(value, dict), "a mapping"
    else:
        return
    if not ok:
        raise InputError(None, f"config key {name!r} must be {kind} (got {value!r}).")


def _from_dict(d: dict) -> TrainConfig:
    return TrainConfig(
        **{
            **d,
            "data": DataConfig(**d["data"]),
            "optim": OptimConfig(**d["optim"]),
            "unfreeze": UnfreezeConfig(**d["unfreeze"]),
            "tune": TuneConfig(**d.get("tune", {})),
            "scar": ScarConfig(**d["scar"]),
        }
    )


def default_config(stage: str) -> TrainConfig:
    if stage not in TRAINING_STAGES:
        raise InputError(None, f"unknown stage {stage!r}.", f"Choose one of {', '.join(TRAINING_STAGES)}.")
    base = TrainConfig(stage=stage).to_dict()
    return _from_dict(_merge(base, copy.deepcopy(STAGES[stage].defaults))).validate()


def load_config(
    path: str | Path | None = None, stage: str | None = None, overrides: dict | None = None
) -> TrainConfig:
    """Defaults of the stage, then the YAML file, then ``overrides``; all keys checked."""
    changes: dict = {}
    if path is not None:
        path = Path(path)
        try:
            changes = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise InputError(path, f"could not be read as a YAML config ({err}).") from None
        if not isinstance(changes, dict):
            raise InputError(path, "does not hold a mapping of config keys.")
    stage = stage or changes.get("stage") or (overrides or {}).get("stage") or "cavity"
    base = default_config(stage).to_dict()
    try:
        merged = _merge(base, {**changes, "stage": stage})
        merged = _merge(merged, overrides or {})
        return _from_dict(merged).validate()
    except InputError as err:
        if path is not None and err.path is None:
            raise InputError(path, err.problem, err.fix) from None
        raise


def dump_config(config: TrainConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
