"""Parameter and FLOP counts (``torch.utils.flop_counter``), computed without real compute."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape: Sequence[int], backward: bool = False) -> int:
    """FLOPs of one forward (or forward + backward) pass on an input of ``input_shape``.

    Counts convolutions and matrix products (as ``FlopCounterMode`` does: a multiply-add is
    2 FLOPs; norms and activations are not counted). Runs on a copy of the model on the
    ``meta`` device, so it takes milliseconds even for a whole ROI.

    Args:
        model: the network (not modified).
        input_shape: full input shape, ``(batch, channels, *spatial)``.
        backward: include the backward pass (a sum of the output as the loss).
    """
    meta_model = copy.deepcopy(model).to("meta")
    x = torch.zeros(tuple(input_shape), device="meta")  # no input gradient, as in training
    counter = FlopCounterMode(display=False)
    with counter, torch.set_grad_enabled(backward):
        out = meta_model(x)
        if backward:
            outs = out.values() if isinstance(out, dict) else [out]
            sum(o.sum() for o in outs).backward()
    return int(counter.get_total_flops())
