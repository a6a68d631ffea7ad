"""Sliding-window forward of one stage model: MONAI windows, autocast and channels-last on the
device, optional mirrored pass, and the CUDA out-of-memory fallback (one window at a time,
then the CPU). Qt-free."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .models import StageModel

log = logging.getLogger(__name__)


class WindowedForward:
    """Foreground probabilities of (z, y, x) arrays, window by window.

    Args:
        device: where the windows run (the stitched output stays on the CPU).
        sw_batch_size: windows at once; drops to 1 for the rest of the run after CUDA runs out
            of memory.
        overlap: MONAI sliding-window overlap (Gaussian blending).
        amp: autocast where the device supports it.
        flip_tta: average with a pass mirrored along x.
        check: called before every window (raises to cancel).
        on_window: called with (windows done, windows in this call of :meth:`probability`)
            after every batch of windows (progress within a stage).
        runtime: ``"torch"``, or ``"openvino"`` (the CPU only; :mod:`.runtimes`).
    """

    def __init__(
        self,
        device: torch.device,
        *,
        sw_batch_size: int,
        overlap: float,
        amp: bool,
        flip_tta: bool,
        check: Callable[[], None],
        on_window: Callable[[int, int], None] | None = None,
        runtime: str = "torch",
    ) -> None:
        self.device, self.sw_batch, self.overlap = device, sw_batch_size, overlap
        self.runtime = runtime
        self.amp, self.flip_tta, self.check = amp, flip_tta, check
        self.on_window = on_window
        self._done, self._total = 0, 1

    def probability(self, stage: StageModel, x: np.ndarray, window: tuple[int, ...]) -> np.ndarray:
        self._done = 0
        self._total = window_count(x.shape, window, self.overlap) * (2 if self.flip_tta else 1)
        tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
        logits = self._with_fallback(stage, tensor, window)
        if self.flip_tta:
            flipped = self._with_fallback(stage, torch.flip(tensor, dims=(-1,)), window)
            logits = (logits + torch.flip(flipped, dims=(-1,))) / 2
        return torch.sigmoid(logits.float())[0, 0].numpy()

    def _with_fallback(self, stage: StageModel, tensor: torch.Tensor, window) -> torch.Tensor:
        """On CUDA out-of-memory retry with one window, then on the CPU."""
        last: Exception | None = None
        for device, batch in fallbacks(self.device, self.sw_batch):
            try:
                return self.forward(stage, tensor, device, batch, window=window)
            except torch.cuda.OutOfMemoryError as err:
                last = err
                log.warning(
                    "%s ran out of GPU memory with %d window(s) at once; retrying %s",
                    stage.stage,
                    batch,
                    "with one window" if batch > 1 else "on the CPU",
                )
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                self.sw_batch = 1
        raise RuntimeError(
            f"the {stage.stage} model does not fit in memory even on the CPU ({last}); "
            "free memory or use a smaller model preset"
        ) from last

    def forward(
        self, stage: StageModel, tensor: torch.Tensor, device: torch.device, batch: int, *, window
    ) -> torch.Tensor:
        """Logits of ``tensor`` (1, 1, z, y, x) on the CPU, its windows run on ``device``."""
        from monai.inferers import sliding_window_inference

        from ..models import inference_mode, prepare_input, prepare_model
        from ..models.device import memory_format
        from ..models.share import fair_threads

        if self.runtime == "openvino":
            from .runtimes import openvino_network

            run, x = openvino_network(stage, window), tensor
        else:
            model = prepare_model(stage.model, device)
            x = prepare_input(tensor, device)

            def run(patch: torch.Tensor) -> torch.Tensor:
                return model(patch.contiguous(memory_format=memory_format(patch.device, patch.ndim - 2)))

        share = device.type == "cpu" and self.runtime == "torch"

        def predictor(patch: torch.Tensor) -> torch.Tensor:
            self.check()
            if share:
                fair_threads()  # fewer threads while another napari-c2w job runs (models.share)
            out = run(patch)
            self._done = min(self._done + int(patch.shape[0]), self._total)
            if self.on_window is not None:
                self.on_window(self._done, self._total)
            return out

        with inference_mode(device, amp=self.amp and self.runtime == "torch"):
            out = sliding_window_inference(
                x,
                window,
                batch,
                predictor,
                overlap=self.overlap,
                mode="gaussian",
                sw_device=device,
                device=torch.device("cpu"),
            )
        return out.float().cpu()


def window_count(shape: Sequence[int], window: Sequence[int], overlap: float) -> int:
    """How many windows MONAI's sliding window takes over ``shape`` (as ``dense_patch_slices``)."""
    n = 1
    for size, roi in zip(shape, window, strict=True):
        win = min(int(roi), int(size))
        step = max(int(win * (1 - overlap)), 1)
        n *= 1 if size <= win else math.ceil((size - win) / step) + 1
    return n


def fallbacks(device: torch.device, batch: int) -> list[tuple[torch.device, int]]:
    """(device, windows at once) to try in turn: on CUDA, then one window, then the CPU."""
    if device.type != "cuda":
        return [(device, batch)]
    return [(device, batch), (device, 1), (torch.device("cpu"), 1)]
