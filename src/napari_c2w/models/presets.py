"""Network presets: the one table of architectures the plugin ships and trains.

Every preset works on the model grid of its task: the ``paper``/``cpu``/``tiny`` networks on
the atrial ROI at (1.25, 0.625, 0.625) mm (z, y, x) and 44x256x256 voxels (C2W-Tune's ROI),
the ``localizer`` on the whole volume resampled to ~2.5 mm isotropic (e.g. 48x160x160).
Measurements behind the numbers are in ``docs/models.md`` and ``benchmarks/bench_models.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .dual import DualDecoderUNet
from .network import ResNeXtUNet

Stride = int | tuple[int, ...]


@dataclass(frozen=True)
class ModelPreset:
    """Architecture and recommended training/inference grid of one network.

    Attributes:
        features: channels per resolution level, shallowest first.
        strides: per level, the downsampling stride (int or (z, y, x)); ``strides[0] == 1``.
        blocks: ResNeXt blocks per level (0 = strided entry conv only).
        cardinality: groups of the ResNeXt grouped convolutions (1 = plain residual).
        kernel_size: int, or one kernel (int or (z, y, x)) per level.
        width_ratio: inner width of a ResNeXt block relative to its channels.
        decoder_convs: conv units per decoder level (int or one per decoder level).
        spacing: model grid spacing (z, y, x) in mm.
        roi: inference window (z, y, x) in voxels on the model grid.
        train_patch: recommended training patch (z, y, x).
        train_batch: recommended training batch size.
        notes: why the preset looks like it does.
    """

    features: tuple[int, ...]
    strides: tuple[Stride, ...]
    blocks: tuple[int, ...]
    cardinality: int
    kernel_size: int | tuple[int | tuple[int, ...], ...] = 3
    width_ratio: float = 0.5
    decoder_convs: int | tuple[int, ...] = 2
    spacing: tuple[float, float, float] = (1.25, 0.625, 0.625)
    roi: tuple[int, int, int] = (44, 256, 256)
    train_patch: tuple[int, int, int] = (32, 128, 128)
    train_batch: int = 2
    notes: str = field(default="", compare=False)

    def network_kwargs(self, spatial_dims: int = 3) -> dict[str, Any]:
        """Keyword arguments of :class:`ResNeXtUNet` for this preset (2D: in-plane axes only)."""
        strides, kernels = list(self.strides), self.kernel_size
        if spatial_dims == 2:
            strides = [s if isinstance(s, int) else tuple(s[-2:]) for s in strides]
            if not isinstance(kernels, int):
                kernels = [k if isinstance(k, int) else tuple(k[-2:]) for k in kernels]
        return {
            "features": list(self.features),
            "strides": strides,
            "blocks": list(self.blocks),
            "cardinality": self.cardinality,
            "kernel_size": kernels if isinstance(kernels, int) else list(kernels),
            "width_ratio": self.width_ratio,
            "decoder_convs": self.decoder_convs
            if isinstance(self.decoder_convs, int)
            else list(self.decoder_convs),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable definition (tuples become lists)."""
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelPreset:
        """Inverse of :meth:`to_dict`; unknown keys raise a ValueError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown preset fields: {', '.join(sorted(unknown))}")
        return cls(**{k: _tupled(v) if k != "notes" else v for k, v in data.items()})


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


PRESETS: dict[str, ModelPreset] = {
    "paper": ModelPreset(
        features=(32, 64, 128, 256, 512, 512, 512),
        strides=(1, (1, 2, 2), 2, 2, (1, 2, 2), (1, 2, 2), (1, 2, 2)),
        blocks=(1, 2, 3, 4, 6, 3, 2),
        cardinality=32,
        kernel_size=3,
        width_ratio=0.5,
        decoder_convs=2,
        train_patch=(44, 256, 256),
        train_batch=4,
        notes=(
            "C2W-Tune as published: 7 levels of 32-64-128-256-512-512-512 channels, 3x3x3 kernels, "
            "instance norm, ResNeXt encoder. Cardinality 32 with width ratio 0.5 is ResNeXt-50 (32x4d), "
            "the standard ResNeXt encoder of segmentation libraries: 32 groups of 4 channels at the "
            "256-channel level (the paper gives no cardinality or block counts; blocks follow "
            "ResNeXt-50's 3-4-6-3 depth profile). The first downsampling is in-plane only, so the "
            "anisotropic (1.25, 0.625, 0.625) mm grid becomes isotropic, and z is halved twice, so the "
            "44-slice ROI fits without padding. Whole-ROI batches of 4 as in the paper: a GPU preset "
            "(tens of seconds per forward on a 2-core CPU)."
        ),
    ),
    "cpu": ModelPreset(
        features=(16, 32, 64, 128, 256, 320),
        strides=(1, (1, 2, 2), 2, 2, (1, 2, 2), (1, 2, 2)),
        blocks=(0, 1, 2, 2, 2, 2),
        cardinality=4,
        kernel_size=((1, 3, 3), 3, 3, 3, 3, 3),
        width_ratio=0.5,
        decoder_convs=(1, 1, 2, 2, 2),
        train_patch=(32, 128, 128),
        train_batch=2,
        notes=(
            "Default preset, sized by measurements on a 2-core AVX-512 CPU (docs/models.md). Full "
            "resolution keeps only a 16-channel stem and one decoder conv, both (1,3,3) in-plane "
            "kernels (z is already 2x coarser), so the output stays at 0.625 mm for 2-5-voxel walls "
            "while full-resolution work is ~1/3 of a 3x3x3 32-channel level; the first downsampling is "
            "in-plane (1.25 mm isotropic after it) and capacity sits at low resolution. Cardinality 4: "
            "grouped convs are slower per FLOP in training (cardinality 8 at 16-channel groups of 2 "
            "doubled the time of those convs). Runs in bf16 + channels_last_3d."
        ),
    ),
    "lite": ModelPreset(
        features=(16, 32, 64, 96, 128, 160),
        strides=(1, (1, 2, 2), 2, 2, (1, 2, 2), (1, 2, 2)),
        blocks=(0, 1, 1, 2, 2, 1),
        cardinality=4,
        kernel_size=((1, 3, 3), 3, 3, 3, 3, 3),
        width_ratio=0.5,
        decoder_convs=1,
        train_patch=(32, 128, 128),
        train_batch=2,
        notes=(
            "The bundled weights' preset: the cpu preset's layout with narrower deep levels, fewer "
            "blocks and one conv per decoder level, 3.2M parameters (6.4 MB in bf16, so three ROI "
            "networks and the localizer ship in under 25 MB). A training step (batch 2 x 32x128x128, "
            "bf16) takes ~0.6 s on the 2-core CPU against ~1.4 s for cpu."
        ),
    ),
    "tiny": ModelPreset(
        features=(8, 16, 32, 32),
        strides=(1, (1, 2, 2), 2, 2),
        blocks=(0, 1, 1, 1),
        cardinality=2,
        kernel_size=((1, 3, 3), 3, 3, 3),
        width_ratio=0.5,
        decoder_convs=1,
        roi=(16, 32, 32),
        train_patch=(16, 32, 32),
        train_batch=2,
        notes="Smallest network with every feature (anisotropic strides, grouped blocks): tests, demos.",
    ),
    "localizer": ModelPreset(
        features=(8, 16, 32, 64, 128),
        strides=(1, 2, 2, 2, 2),
        blocks=(0, 1, 1, 2, 2),
        cardinality=4,
        kernel_size=3,
        width_ratio=0.5,
        decoder_convs=1,
        spacing=(2.5, 2.5, 2.5),
        roi=(48, 160, 160),
        train_patch=(48, 160, 160),
        train_batch=2,
        notes=(
            "Coarse cavity localizer on the whole volume resampled to 2.5 mm isotropic (48x160x160 "
            "covers 120x400x400 mm), used only to centre the ROI: few channels, isotropic strides, "
            "input padded to multiples of 16."
        ),
    ),
}


def get_preset(preset: str | ModelPreset) -> ModelPreset:
    """A preset by name (or the preset itself); unknown names raise a clear KeyError."""
    if isinstance(preset, ModelPreset):
        return preset
    if preset not in PRESETS:
        raise KeyError(f"unknown model preset {preset!r}; available: {', '.join(PRESETS)}")
    return PRESETS[preset]


def build_model(
    preset: str | ModelPreset,
    in_channels: int = 1,
    out_channels: int = 2,
    dual: bool = False,
    spatial_dims: int = 3,
    **overrides: Any,
) -> ResNeXtUNet | DualDecoderUNet:
    """Build a preset's network.

    Args:
        preset: preset name (see :data:`PRESETS`) or a :class:`ModelPreset`.
        in_channels: input channels.
        out_channels: classes of the (cavity) head, background included.
        dual: build the cavity + scar :class:`DualDecoderUNet`.
        spatial_dims: 3, or 2 for the in-plane twin used for 2D->3D transfer.
        **overrides: extra network arguments (e.g. ``padding_mode``, ``scar_out_channels``).
    """
    kwargs = get_preset(preset).network_kwargs(spatial_dims)
    kwargs.update(overrides)
    cls = DualDecoderUNet if dual else ResNeXtUNet
    return cls(spatial_dims, in_channels, out_channels, **kwargs)
