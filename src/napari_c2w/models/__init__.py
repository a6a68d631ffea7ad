"""Networks of napari-c2w: ResNeXt U-Net (C2W-Tune), dual-decoder U-Net (progressive scar
learning), presets, 2D->3D inflation, device/precision helpers and checkpoints.

No Qt or napari imports here: everything runs headless (training scripts, tests, CLI).
"""

from .blocks import ConvNormAct, DecoderStage, EncoderStage, ResNeXtBlock
from .checkpoint import load_checkpoint, read_checkpoint
from .checkpoint_write import build_meta, save_checkpoint
from .device import (
    amp_dtype,
    autocast,
    available_devices,
    cpu_features,
    cpu_supports_bf16,
    inference_mode,
    prepare_input,
    prepare_model,
    select_device,
    set_threads,
    tune_cpu_allocator,
)
from .dual import DualDecoderUNet
from .flops import count_flops, count_parameters
from .inflate import InflationReport, inflate_2d_to_3d
from .network import ResNeXtUNet, pad_to_divisor
from .norm import InstanceNorm2d, InstanceNorm3d
from .presets import PRESETS, ModelPreset, build_model, get_preset

__all__ = [
    "PRESETS",
    "ConvNormAct",
    "DecoderStage",
    "DualDecoderUNet",
    "EncoderStage",
    "InflationReport",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "ModelPreset",
    "ResNeXtBlock",
    "ResNeXtUNet",
    "amp_dtype",
    "autocast",
    "available_devices",
    "build_meta",
    "build_model",
    "count_flops",
    "count_parameters",
    "cpu_features",
    "cpu_supports_bf16",
    "get_preset",
    "inference_mode",
    "inflate_2d_to_3d",
    "load_checkpoint",
    "pad_to_divisor",
    "prepare_input",
    "prepare_model",
    "read_checkpoint",
    "save_checkpoint",
    "select_device",
    "set_threads",
    "tune_cpu_allocator",
]
