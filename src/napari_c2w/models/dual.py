"""Dual-decoder U-Net of progressive scar learning (stage II).

A shared ResNeXt encoder + bottleneck feeds a cavity decoder and a scar decoder. Stage II
starts from a stage I cavity :class:`~.network.ResNeXtUNet` (:meth:`DualDecoderUNet.from_single`);
stage III and inference continue from the scar branch as a single-decoder network
(:meth:`DualDecoderUNet.export_branch`).
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from .blocks import init_weights
from .network import ResNeXtUNet, _UNetBase


class DualDecoderUNet(_UNetBase):
    """Shared encoder + bottleneck with a cavity and a scar decoder (progressive scar learning).

    Takes the same arguments as :class:`ResNeXtUNet` plus ``scar_out_channels`` (defaults to
    ``out_channels``). ``forward`` returns ``{"cavity": logits, "scar": logits}``.
    """

    BRANCHES = ("cavity", "scar")

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        *args: Any,
        scar_out_channels: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(spatial_dims, in_channels, out_channels, *args, **kwargs)
        scar_out = out_channels if scar_out_channels is None else scar_out_channels
        self.config["scar_out_channels"] = scar_out
        init_weights(self)
        self.decoder_cavity = self._new_decoder()
        self.head_cavity = self._new_head(out_channels)
        self.decoder_scar = self._new_decoder()
        self.head_scar = self._new_head(scar_out)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"cavity": logits, "scar": logits}``, both at the input's spatial size."""
        h, skips = self.encode(x)
        return {
            "cavity": self.decode(self.decoder_cavity, self.head_cavity, h, skips),
            "scar": self.decode(self.decoder_scar, self.head_scar, h, skips),
        }

    @classmethod
    def from_single(cls, single: ResNeXtUNet, scar_out_channels: int | None = None) -> DualDecoderUNet:
        """Stage II network from a stage I (cavity) network.

        Encoder, bottleneck, cavity decoder and cavity head inherit ``single``'s weights; the
        scar decoder and head are randomly initialised. The result is on ``single``'s device.
        """
        cfg = dict(single.config)
        dual = cls(**cfg, scar_out_channels=scar_out_channels)
        state = {}
        for key, value in single.state_dict().items():
            new_key = key
            if key.startswith(("decoder.", "head.")):
                new_key = key.replace("decoder.", "decoder_cavity.", 1).replace("head.", "head_cavity.", 1)
            state[new_key] = value
        missing, unexpected = dual.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith(("decoder_scar.", "head_scar."))]
        if missing or unexpected:  # cannot happen for a model built from single.config
            raise RuntimeError(f"cavity weights do not fit the dual network: {missing or unexpected}")
        return dual.to(single.head.weight.device)

    def branch_state_dict(self, branch: str = "scar") -> dict[str, torch.Tensor]:
        """State dict of a single-decoder :class:`ResNeXtUNet` made of the shared encoder and
        the given branch's decoder and head (for stage III or inference)."""
        if branch not in self.BRANCHES:
            raise ValueError(f"unknown branch {branch!r}; expected one of {self.BRANCHES}")
        out = {}
        for key, value in self.state_dict().items():
            for prefix in (f"decoder_{branch}.", f"head_{branch}."):
                if key.startswith(prefix):
                    out[prefix.split("_")[0] + "." + key[len(prefix) :]] = value
            if key.startswith(("encoder.", "bottleneck.")):
                out[key] = value
        return out

    def export_branch(self, branch: str = "scar") -> ResNeXtUNet:
        """A single-decoder :class:`ResNeXtUNet` holding a copy of one branch's weights."""
        cfg = {k: v for k, v in self.config.items() if k != "scar_out_channels"}
        if branch == "scar":
            cfg["out_channels"] = self.config["scar_out_channels"]
        single = ResNeXtUNet(**copy.deepcopy(cfg))
        single.load_state_dict(self.branch_state_dict(branch))
        return single.to(self.head_scar.weight.device)
