"""Building blocks of the ResNeXt U-Net: conv-norm-act units, ResNeXt blocks, decoder stages.

All blocks follow MONAI's conventions: they take ``spatial_dims`` (2 or 3) and channel
counts, and build their layers through MONAI's layer factories, so the same code gives the
2D network used for cross-dimensional transfer and the 3D network.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer, get_norm_layer
from torch import nn

from .norm import instance_norm_layer

#: Default activation: LeakyReLU(0.01), as in nnU-Net.
DEFAULT_ACT: tuple = ("leakyrelu", {"negative_slope": 0.01, "inplace": True})
#: Default normalisation: instance norm with a learned affine transform.
DEFAULT_NORM: tuple = ("instance", {"affine": True})

KernelArg = int | Sequence[int]


def as_tuple(value: KernelArg, spatial_dims: int, what: str = "value") -> tuple[int, ...]:
    """``value`` as a per-axis tuple of length ``spatial_dims``.

    Args:
        value: an int (same on every axis) or a sequence with one int per axis.
        spatial_dims: number of spatial axes.
        what: name used in the error message.

    Raises:
        ValueError: when a sequence has the wrong length or holds non-positive values.
    """
    if isinstance(value, int):
        out = (value,) * spatial_dims
    else:
        out = tuple(int(v) for v in value)
        if len(out) != spatial_dims:
            raise ValueError(f"{what} {tuple(value)} has {len(out)} axes; expected {spatial_dims}")
    if any(v < 1 for v in out):
        raise ValueError(f"{what} {out} must be positive on every axis")
    return out


def make_norm(norm: str | tuple | list, spatial_dims: int, channels: int) -> nn.Module:
    """A normalisation layer from a MONAI norm spec.

    ``"instance"`` means instance norm *with* a learned affine transform and gives the
    channels-last-friendly :mod:`~napari_c2w.models.norm` layer; other specs go to MONAI's
    ``get_norm_layer`` (e.g. ``("group", {"num_groups": 8})``, ``"batch"``).
    """
    name, args = (norm, {}) if isinstance(norm, str) else (norm[0], dict(norm[1]))
    if str(name).lower() == "instance" and not args.get("track_running_stats", False):
        return instance_norm_layer(
            spatial_dims, channels, affine=args.get("affine", True), eps=args.get("eps", 1e-5)
        )
    return get_norm_layer((name, args), spatial_dims=spatial_dims, channels=channels)


class ConvNormAct(nn.Sequential):
    """Convolution -> normalisation -> activation, with "same" padding.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: int or per-axis sizes (odd sizes keep the grid aligned).
        stride: int or per-axis strides; a stride > 1 downsamples.
        groups: convolution groups (cardinality).
        norm: MONAI norm spec, e.g. ``"instance"`` or ``("group", {"num_groups": 8})``.
        act: MONAI activation spec, or ``None`` for no activation.
        padding_mode: ``"zeros"`` (default) or ``"replicate"``/``"reflect"``/``"circular"``.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: KernelArg = 3,
        stride: KernelArg = 1,
        *,
        groups: int = 1,
        norm: str | tuple = DEFAULT_NORM,
        act: str | tuple | None = DEFAULT_ACT,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        kernel = as_tuple(kernel_size, spatial_dims, "kernel_size")
        self.conv = Conv[Conv.CONV, spatial_dims](
            in_channels,
            out_channels,
            kernel_size=kernel,
            stride=as_tuple(stride, spatial_dims, "stride"),
            padding=tuple(k // 2 for k in kernel),
            groups=groups,
            bias=False,  # followed by a normalisation layer
            padding_mode=padding_mode,
        )
        self.norm = make_norm(norm, spatial_dims, out_channels)
        if act is not None:
            self.act = get_act_layer(act)


class ResNeXtBlock(nn.Module):
    """ResNeXt bottleneck block: 1x1 reduce -> grouped kxk -> 1x1 expand, plus identity.

    ``cardinality`` is the number of groups of the kxk convolution; ``cardinality=1`` gives
    a plain (ResNet bottleneck) residual block. The inner width is ``channels * width_ratio``
    rounded to a multiple of ``cardinality`` (ResNeXt-50 32x4d uses ``width_ratio=0.5``).

    Args:
        spatial_dims: 2 or 3.
        channels: input and output channels.
        cardinality: groups of the kxk convolution.
        kernel_size: kernel of the grouped convolution.
        width_ratio: inner width relative to ``channels``.
        norm: MONAI norm spec.
        act: MONAI activation spec.
        padding_mode: padding mode of the kxk convolution.
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        cardinality: int = 8,
        kernel_size: KernelArg = 3,
        *,
        width_ratio: float = 0.5,
        norm: str | tuple = DEFAULT_NORM,
        act: str | tuple = DEFAULT_ACT,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        width = inner_width(channels, cardinality, width_ratio)
        self.reduce = ConvNormAct(spatial_dims, channels, width, 1, norm=norm, act=act)
        self.grouped = ConvNormAct(
            spatial_dims,
            width,
            width,
            kernel_size,
            groups=cardinality,
            norm=norm,
            act=act,
            padding_mode=padding_mode,
        )
        self.expand = ConvNormAct(spatial_dims, width, channels, 1, norm=norm, act=None)
        self.act = get_act_layer(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual update of ``x`` (same shape in and out)."""
        return self.act(self.expand(self.grouped(self.reduce(x))) + x)


def inner_width(channels: int, cardinality: int, width_ratio: float) -> int:
    """Inner width of a ResNeXt block: ``channels * width_ratio`` as a multiple of ``cardinality``."""
    groups = max(1, round(channels * width_ratio / cardinality))
    return groups * cardinality


class EncoderStage(nn.Sequential):
    """One resolution level of the encoder: a (strided) entry conv, then ResNeXt blocks.

    The entry convolution changes the channel count and, with ``stride`` > 1, downsamples,
    so every ResNeXt block of the stage runs at the stage's own (lower) resolution.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        stride: KernelArg,
        *,
        num_blocks: int,
        cardinality: int,
        kernel_size: KernelArg,
        width_ratio: float = 0.5,
        norm: str | tuple = DEFAULT_NORM,
        act: str | tuple = DEFAULT_ACT,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.entry = ConvNormAct(
            spatial_dims,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            norm=norm,
            act=act,
            padding_mode=padding_mode,
        )
        for i in range(num_blocks):
            block = ResNeXtBlock(
                spatial_dims,
                out_channels,
                cardinality,
                kernel_size,
                width_ratio=width_ratio,
                norm=norm,
                act=act,
                padding_mode=padding_mode,
            )
            self.add_module(f"block{i}", block)


class DecoderStage(nn.Module):
    """Decoder level: transposed-conv upsampling, skip concatenation, ``num_convs`` conv units.

    Args:
        spatial_dims: 2 or 3.
        in_channels: channels coming from the deeper level.
        skip_channels: channels of the encoder skip at this level.
        out_channels: output channels.
        stride: upsampling factor (the stride of the deeper encoder level).
        kernel_size: kernel of the conv units.
        num_convs: number of conv-norm-act units after the concatenation (>= 1).
        norm: MONAI norm spec.
        act: MONAI activation spec.
        padding_mode: padding mode of the conv units.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        stride: KernelArg,
        *,
        kernel_size: KernelArg = 3,
        num_convs: int = 2,
        norm: str | tuple = DEFAULT_NORM,
        act: str | tuple = DEFAULT_ACT,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if num_convs < 1:
            raise ValueError(f"a decoder stage needs at least one conv, got {num_convs}")
        up = as_tuple(stride, spatial_dims, "stride")
        self.up = Conv[Conv.CONVTRANS, spatial_dims](in_channels, out_channels, up, stride=up, bias=False)
        convs = [
            ConvNormAct(
                spatial_dims,
                out_channels + skip_channels if i == 0 else out_channels,
                out_channels,
                kernel_size,
                norm=norm,
                act=act,
                padding_mode=padding_mode,
            )
            for i in range(num_convs)
        ]
        self.convs = nn.Sequential(*convs)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsample ``x`` to ``skip``'s grid, concatenate along channels and convolve."""
        return self.convs(torch.cat([self.up(x), skip], dim=1))


def init_weights(module: nn.Module, negative_slope: float = 0.01) -> None:
    """He (Kaiming) normal init for convolutions, zero biases, unit/zero norm affines."""
    for m in module.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.ConvTranspose2d | nn.ConvTranspose3d):
            nn.init.kaiming_normal_(m.weight, a=negative_slope)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._NormBase | nn.GroupNorm) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
