"""Mixed precision of a training run: the config's ``amp`` (auto | bf16 | fp16 | off) on a device."""

from __future__ import annotations

import torch

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def amp_dtype_for(amp: str, device: torch.device):
    """The autocast dtype ``amp`` gives on ``device`` (None for off)."""
    from ..models import amp_dtype

    if amp == "off":
        return None
    if amp in AMP_DTYPES:
        return AMP_DTYPES[amp]
    return amp_dtype(device)


def autocast_for(device: torch.device, amp: str, default):
    """Mixed precision: 'auto' picks the device's best dtype (bf16 on capable CPUs), 'off' none."""
    if amp in AMP_DTYPES:
        return torch.autocast(device_type=device.type, dtype=AMP_DTYPES[amp])
    return default(device, enabled=amp != "off")
