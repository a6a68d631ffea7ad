"""ResNeXt U-Net (C2W-Tune); the dual-decoder variant is in :mod:`.dual`.

Layout of :class:`ResNeXtUNet` with ``n = len(features)`` resolution levels:

* ``encoder[i]`` (``i = 0 .. n-2``, 0 = shallowest): an entry conv with stride ``strides[i]``
  (``strides[0]`` must be 1, so ``encoder[0]`` is the full-resolution stem) followed by
  ``blocks[i]`` ResNeXt blocks with ``features[i]`` channels. Its output is the skip of level i.
* ``bottleneck``: level ``n-1``, built like an encoder stage (stride ``strides[n-1]``).
* ``decoder[i]`` (``i = 0 .. n-2``): upsamples level ``i+1`` to level ``i`` with a transposed
  conv, concatenates ``encoder[i]``'s skip and convolves; applied deepest first, so
  ``decoder[0]`` is the last one and works at full resolution.
* ``head``: 1x1 conv from ``features[0]`` channels to the class logits.

Input sizes must be divisible, per axis, by :attr:`ResNeXtUNet.size_divisor` (the product of
all strides); :func:`pad_to_divisor` pads an input and returns the slices that crop it back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from monai.networks.layers.factories import Conv
from torch import nn

from .blocks import DEFAULT_ACT, DecoderStage, EncoderStage, KernelArg, as_tuple, init_weights


def _per_stage(value: Any, n: int, what: str) -> list:
    """A scalar as ``n`` copies, or a length-``n`` sequence as a list."""
    if isinstance(value, int):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(f"{what} has {len(value)} entries; expected one per level ({n})")
    return value


class _UNetBase(nn.Module):
    """Shared encoder + bottleneck and the architecture bookkeeping of both U-Nets."""

    def __init__(  # noqa: PLR0917 (MONAI-style positional architecture arguments)
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        features: Sequence[int],
        strides: Sequence[Sequence[int] | int],
        blocks: Sequence[int] | int,
        cardinality: int = 8,
        *,
        kernel_size: int | Sequence[KernelArg] = 3,
        norm: str | tuple = "instance",
        act: str | tuple = DEFAULT_ACT,
        width_ratio: float = 0.5,
        decoder_convs: int | Sequence[int] = 2,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        n = len(features)
        if n < 2:
            raise ValueError("a U-Net needs at least two levels (len(features) >= 2)")
        self.spatial_dims = spatial_dims
        self.strides = [
            as_tuple(s, spatial_dims, f"strides[{i}]")
            for i, s in enumerate(_per_stage(strides, n, "strides"))
        ]
        if any(s != 1 for s in self.strides[0]):
            raise ValueError(f"strides[0] must be 1 (full-resolution stem), got {self.strides[0]}")
        self.kernels = [
            as_tuple(k, spatial_dims, "kernel_size") for k in _per_stage(kernel_size, n, "kernel_size")
        ]
        self.blocks = _per_stage(blocks, n, "blocks")
        self.decoder_convs = _per_stage(decoder_convs, n - 1, "decoder_convs")
        self.features = [int(f) for f in features]
        #: Everything needed to rebuild this network (JSON-serialisable).
        self.config: dict[str, Any] = {
            "spatial_dims": spatial_dims,
            "in_channels": in_channels,
            "out_channels": out_channels,
            "features": self.features,
            "strides": [list(s) for s in self.strides],
            "blocks": self.blocks,
            "cardinality": cardinality,
            "kernel_size": [list(k) for k in self.kernels],
            "norm": norm if isinstance(norm, str) else list(norm),
            "act": act if isinstance(act, str) else list(act),
            "width_ratio": width_ratio,
            "decoder_convs": self.decoder_convs,
            "padding_mode": padding_mode,
        }
        self._norm, self._act, self._padding_mode = norm, act, padding_mode
        stages = []
        prev = in_channels
        for i, f in enumerate(self.features):
            stages.append(
                EncoderStage(
                    spatial_dims,
                    prev,
                    f,
                    self.strides[i],
                    num_blocks=self.blocks[i],
                    cardinality=cardinality,
                    kernel_size=self.kernels[i],
                    width_ratio=width_ratio,
                    norm=norm,
                    act=act,
                    padding_mode=padding_mode,
                )
            )
            prev = f
        self.encoder = nn.ModuleList(stages[:-1])
        self.bottleneck = stages[-1]

    @property
    def size_divisor(self) -> tuple[int, ...]:
        """Per-axis number every input size must be divisible by (product of the strides)."""
        return tuple(math.prod(s[a] for s in self.strides) for a in range(self.spatial_dims))

    def _new_decoder(self) -> nn.ModuleList:
        stages = [
            DecoderStage(
                self.spatial_dims,
                self.features[i + 1],
                self.features[i],
                self.features[i],
                self.strides[i + 1],
                kernel_size=self.kernels[i],
                num_convs=self.decoder_convs[i],
                norm=self._norm,
                act=self._act,
                padding_mode=self._padding_mode,
            )
            for i in range(len(self.features) - 1)
        ]
        decoder = nn.ModuleList(stages)
        init_weights(decoder)
        return decoder

    def _new_head(self, out_channels: int) -> nn.Module:
        head = Conv[Conv.CONV, self.spatial_dims](self.features[0], out_channels, kernel_size=1)
        init_weights(head)
        return head

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError when ``x``'s spatial size is not divisible by :attr:`size_divisor`."""
        shape = tuple(x.shape[2:])
        if x.ndim != self.spatial_dims + 2 or any(
            s % d for s, d in zip(shape, self.size_divisor, strict=True)
        ):
            raise ValueError(
                f"input of shape {tuple(x.shape)} does not fit: expected (batch, channels, "
                f"{self.spatial_dims} spatial axes) with spatial sizes divisible by {self.size_divisor}; "
                "pad it with napari_c2w.models.pad_to_divisor"
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Bottleneck features and the list of skips (shallowest first)."""
        self.check_input(x)
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        return self.bottleneck(x), skips

    @staticmethod
    def decode(
        decoder: nn.ModuleList, head: nn.Module, x: torch.Tensor, skips: list[torch.Tensor]
    ) -> torch.Tensor:
        """Run ``decoder`` (deepest stage first) and ``head`` on encoder outputs."""
        for i in reversed(range(len(decoder))):
            x = decoder[i](x, skips[i])
        return head(x)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by trainable unit: ``encoder.0`` ... ``encoder.{n-2}``, ``bottleneck``, then
        the decoder(s) and head(s). Every parameter appears exactly once."""
        groups: dict[str, list[nn.Parameter]] = {
            f"encoder.{i}": list(s.parameters()) for i, s in enumerate(self.encoder)
        }
        for name, child in self.named_children():
            if name != "encoder":
                groups[name] = list(child.parameters())
        return groups

    def set_trainable(self, groups: Iterable[str], trainable: bool = True) -> None:
        """Set ``requires_grad`` of the named :meth:`param_groups` (e.g. to freeze the encoder)."""
        all_groups = self.param_groups()
        for name in groups:
            if name not in all_groups:
                raise KeyError(f"unknown parameter group {name!r}; known: {', '.join(all_groups)}")
            for p in all_groups[name]:
                p.requires_grad_(trainable)


class ResNeXtUNet(_UNetBase):
    """U-Net with a ResNeXt encoder, instance norm and LeakyReLU (C2W-Tune's network).

    Args:
        spatial_dims: 3 for volumes, 2 for slices (the 2D twin used for 2D->3D transfer).
        in_channels: input channels.
        out_channels: output channels of the head (classes incl. background).
        features: channels per resolution level, shallowest first.
        strides: per level, an int or per-axis strides (e.g. ``(1, 2, 2)`` to downsample
            in-plane only while z is coarser); ``strides[0]`` must be 1.
        blocks: ResNeXt blocks per level (int or one per level; 0 = entry conv only).
        cardinality: groups of the ResNeXt convolutions (1 = plain residual blocks).
        kernel_size: int, or one entry (int or per-axis tuple) per level.
        norm: MONAI norm spec (``"instance"`` = instance norm with affine).
        act: MONAI activation spec.
        width_ratio: inner width of the ResNeXt blocks relative to their channels.
        decoder_convs: conv units per decoder level (int or one per decoder level).
        padding_mode: conv padding mode (``"zeros"``; ``"replicate"`` for exact 2D->3D checks).

    Input sizes must be divisible by :attr:`size_divisor`; the output has the input's size.
    """

    def __init__(
        self, spatial_dims: int, in_channels: int, out_channels: int, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(spatial_dims, in_channels, out_channels, *args, **kwargs)
        self.decoder = self._new_decoder()
        self.head = self._new_head(out_channels)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, out_channels, *x.shape[2:])``."""
        h, skips = self.encode(x)
        return self.decode(self.decoder, self.head, h, skips)

    def reset_head(self, out_channels: int | None = None) -> nn.Module:
        """Replace the head by a new randomly initialised one (for task transfer).

        Keeps the old head's device, dtype and memory format. Returns the new head.
        """
        out_channels = self.config["out_channels"] if out_channels is None else out_channels
        old = self.head.weight
        head = self._new_head(out_channels).to(device=old.device, dtype=old.dtype)
        if self.spatial_dims == 3 and old.is_contiguous(memory_format=torch.channels_last_3d):
            head = head.to(memory_format=torch.channels_last_3d)
        self.head = head
        self.config["out_channels"] = out_channels
        return head


def pad_to_divisor(
    x: torch.Tensor, divisor: Sequence[int], mode: str = "constant", value: float = 0.0
) -> tuple[torch.Tensor, tuple[slice, ...]]:
    """Pad the spatial axes of ``x`` (batch, channels, *spatial) up to multiples of ``divisor``.

    Padding is split evenly between both sides. Returns the padded tensor and the index
    (``(..., slice_z, slice_y, slice_x)``) that crops a network output back to ``x``'s size.
    """
    spatial = x.shape[2:]
    pads, crop = [], [Ellipsis]
    for size, d in zip(spatial, divisor, strict=True):
        total = (-size) % d
        before = total // 2
        pads.append((before, total - before))
        crop.append(slice(before, before + size))
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
    if any(flat):
        x = (
            nn.functional.pad(x, flat, mode=mode, value=value)
            if mode == "constant"
            else nn.functional.pad(x, flat, mode=mode)
        )
    return x, tuple(crop)


#: Networks larger than this are refused before they are built (4 GB of fp32 weights; the
#: largest preset, ``paper``, has 75 M parameters).
MAX_PARAMETERS = 1_000_000_000
#: ... and networks with more levels, or more blocks and decoder convolutions, than these.
MAX_LEVELS, MAX_BLOCKS = 12, 400


def size_problem(cls: type[nn.Module], kwargs: dict[str, Any]) -> str | None:
    """Why ``cls(**kwargs)`` is too large to build (levels, blocks, parameters), else None.

    Parameters are counted on a network built on PyTorch's meta device (shapes only, no memory),
    so a stored architecture asking for hundreds of gigabytes is refused before anything is
    allocated. Raises what the constructor raises (ValueError/TypeError) for invalid arguments.
    """
    features = list(kwargs.get("features", []))
    n = len(features)
    if n > MAX_LEVELS:
        return f"has {n} resolution levels (at most {MAX_LEVELS})"
    blocks = _per_stage(kwargs.get("blocks", 0), n, "blocks")
    convs = _per_stage(kwargs.get("decoder_convs", 2), max(n - 1, 0), "decoder_convs")
    total = sum(int(b) for b in blocks) + sum(int(c) for c in convs)
    if total > MAX_BLOCKS:
        return f"has {total} blocks and decoder convolutions (at most {MAX_BLOCKS})"
    with torch.device("meta"):
        count = sum(p.numel() for p in cls(**kwargs).parameters())
    if count > MAX_PARAMETERS:
        return (
            f"has {count:,} parameters ({count * 4 / 1e9:,.0f} GB of fp32 weights; at most "
            f"{MAX_PARAMETERS:,})"
        )
    return None
