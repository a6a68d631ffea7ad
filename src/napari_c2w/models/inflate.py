"""2D -> 3D weight inflation (cross-dimensional transfer).

A 2D network built with ``spatial_dims=2`` from the same preset as a 3D one has the same
module tree and parameter names; only convolution kernels differ by a depth axis. Each
``k x k`` kernel becomes ``kd x k x k``:

* ``"average"``: the 2D kernel repeated along depth and divided by ``kd`` (I3D style), so on
  a volume that is constant along z every conv gives the 2D result (away from z borders, or
  everywhere with ``padding_mode="replicate"``);
* ``"center"``: the 2D kernel in the middle depth slice, zeros elsewhere; each slice is then
  processed exactly like the 2D network processes it, whatever the volume.

Transposed convolutions are always repeated and scaled by ``stride_d / kd`` (each output
voxel receives ``kd / stride_d`` contributions along depth), which is exact for z-constant
inputs in both modes. Norm affines and biases are copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

MODES = ("average", "center")


@dataclass
class InflationReport:
    """What :func:`inflate_2d_to_3d` did with each 3D tensor.

    Attributes:
        inflated: kernels inflated along depth.
        copied: tensors copied unchanged (norm affines, biases, depth-1 kernels).
        skipped: 3D tensors left as they were, with the reason.
        unused: 2D tensors that have no counterpart in the 3D network.
    """

    inflated: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line with the counts."""
        return (
            f"{len(self.inflated)} inflated, {len(self.copied)} copied, {len(self.skipped)} skipped, "
            f"{len(self.unused)} unused"
        )


def _conv_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Parameter name -> owning conv module, for 3D (transposed) convs."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv3d | nn.ConvTranspose3d):
            out[f"{name}.weight" if name else "weight"] = module
    return out


def inflate_kernel(
    weight_2d: torch.Tensor, depth: int, mode: str = "average", transposed_stride: int | None = None
) -> torch.Tensor:
    """Inflate a ``(a, b, kh, kw)`` kernel to ``(a, b, depth, kh, kw)``.

    Args:
        weight_2d: the 2D kernel.
        depth: kernel size along depth.
        mode: ``"average"`` or ``"center"``.
        transposed_stride: depth stride when the kernel belongs to a transposed conv.
    """
    if mode not in MODES:
        raise ValueError(f"unknown inflation mode {mode!r}; expected one of {MODES}")
    w = weight_2d.unsqueeze(2)
    if transposed_stride is not None:
        return w.repeat(1, 1, depth, 1, 1) * (transposed_stride / depth)
    if mode == "average":
        return w.repeat(1, 1, depth, 1, 1) / depth
    out = torch.zeros(*w.shape[:2], depth, *w.shape[3:], dtype=w.dtype, device=w.device)
    out[:, :, depth // 2] = weight_2d
    return out


def inflate_2d_to_3d(
    state_2d: Mapping[str, torch.Tensor] | nn.Module, model_3d: nn.Module, mode: str = "center"
) -> InflationReport:
    """Copy a 2D network's weights into a 3D network, inflating kernels along depth.

    Args:
        state_2d: state dict (or module) of the 2D network (e.g. ``build_model(..., spatial_dims=2)``).
        model_3d: the 3D network; its matching tensors are overwritten in place.
        mode: ``"center"`` (default; exact slice-wise behaviour) or ``"average"``.

    Returns:
        An :class:`InflationReport`. Tensors whose shapes do not match (e.g. a head with a
        different number of classes) are skipped and keep their 3D initialisation.
    """
    if mode not in MODES:
        raise ValueError(f"unknown inflation mode {mode!r}; expected one of {MODES}")
    if isinstance(state_2d, nn.Module):
        state_2d = state_2d.state_dict()
    convs = _conv_modules(model_3d)
    report = InflationReport()
    target = model_3d.state_dict()
    new_state = {}
    for key, w3 in target.items():
        if key not in state_2d:
            report.skipped[key] = "not in the 2D state"
            continue
        w2 = state_2d[key].to(device=w3.device, dtype=w3.dtype)
        if w2.shape == w3.shape:
            new_state[key] = w2.clone()
            report.copied.append(key)
        elif w3.ndim == 5 and w2.ndim == 4 and w3.shape[:2] == w2.shape[:2] and w3.shape[3:] == w2.shape[2:]:
            module = convs.get(key)
            stride = module.stride[0] if isinstance(module, nn.ConvTranspose3d) else None
            new_state[key] = inflate_kernel(w2, w3.shape[2], mode, stride)
            report.inflated.append(key)
        else:
            report.skipped[key] = f"shape {tuple(w2.shape)} in 2D cannot fill {tuple(w3.shape)}"
    report.unused = [k for k in state_2d if k not in target]
    model_3d.load_state_dict(new_state, strict=False)
    return report
