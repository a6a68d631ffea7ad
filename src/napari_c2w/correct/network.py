"""The prompt-conditioned cavity network at work: one window around the prompt, on the CPU in well
under a second (torch; no napari, no Qt).

The network (``training/prompt_cavity.py``) is the bundled cavity network with three more input
channels: positive clicks, negative clicks and the current label (:mod:`.guidance`). For a prompt,
:meth:`PromptNetwork.correct` samples the model grid's window (:data:`WINDOW` voxels at the
network's spacing) centred on it from the image, draws every prompt of this structure that falls
in the window and the current label, runs the network once, and brings its answer back onto the
image grid inside the window. Intensities are clipped and z-scored with the statistics of the
network's ROI around the label (:meth:`PromptNetwork.statistics`, once per case), as the
pipeline prepares the cavity network's input.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from ..masks.geometry import Box
from .guidance import draw_points
from .prompts import Prompt

#: The window (model-grid voxels, z, y, x) the network corrects around a prompt.
WINDOW = (32, 128, 128)
#: Voxels at the window's faces left unchanged (the network sees too little context there).
FACE = (2, 8, 8)
WEIGHTS = "cavity_prompt.pt"


def widen_input(model, channels: int = 4):
    """Give ``model``'s first convolution ``channels`` inputs; the new filters start at zero, so the
    widened network answers exactly as before whatever the new channels hold."""
    import torch

    name, conv = next((n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Conv3d))
    new = torch.nn.Conv3d(
        channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None
    )
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : conv.in_channels] = conv.weight
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    parent = model.get_submodule(name.rsplit(".", 1)[0])
    setattr(parent, name.rsplit(".", 1)[1], new)
    model.config["in_channels"] = channels
    return model


def bundled_prompt_weights() -> Path | None:
    """The shipped prompt network, or None when this installation has none."""
    from importlib.resources import files

    path = Path(str(files("napari_c2w.weights") / WEIGHTS))
    return path if path.is_file() else None


@dataclasses.dataclass
class Statistics:
    """The clip range and z-score of one image, as the cavity network's input preparation."""

    low: float
    high: float
    mean: float
    std: float

    def apply(self, x: np.ndarray) -> np.ndarray:
        return ((np.clip(x, self.low, self.high) - self.mean) / self.std).astype(np.float32)


class PromptNetwork:
    """The prompt-conditioned cavity network, loaded once.

    Args:
        path: its checkpoint; None: the bundled one.

    Raises:
        FileNotFoundError: no path given and none bundled.
    """

    def __init__(self, path: str | Path | None = None) -> None:

        from ..models.checkpoint import load_checkpoint
        from ..models.device import cpu_supports_bf16

        path = path or bundled_prompt_weights()
        if path is None:
            raise FileNotFoundError("this installation ships no prompt-conditioned cavity network")
        self.model, self.meta = load_checkpoint(path, expect_stage="cavity")
        if int(self.meta.get("in_channels", 1)) != 4:
            raise ValueError(
                f"{path} is not a prompt-conditioned network "
                f"(it takes {self.meta.get('in_channels')} channels, not 4)"
            )
        self.model.eval()
        self.spacing = np.asarray(self.meta["spacing"], float)
        self.amp = cpu_supports_bf16()
        self.path = Path(path)

    def statistics(self, image: np.ndarray, mask: np.ndarray, spacing: Sequence[float]) -> Statistics:
        """Clip and z-score statistics over the network's ROI (mm) centred on ``mask``, as
        :func:`~napari_c2w.preprocess.normalize_intensity` prepares the cavity network's input."""
        from ..preprocess import clip_range

        spacing = np.asarray(spacing, float)
        centre = np.argwhere(mask).mean(0) if np.any(mask) else np.asarray(image.shape) / 2
        half = np.asarray(self.meta["roi"]) * self.spacing / spacing / 2
        lo = np.maximum(np.floor(centre - half), 0).astype(int)
        hi = np.minimum(np.ceil(centre + half), image.shape).astype(int)
        roi = np.asarray(image[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))], np.float32)
        low, high = clip_range(roi, self.meta.get("intensity_normalisation"))
        clipped = np.clip(roi, low, high)
        return Statistics(float(low), float(high), float(clipped.mean()), float(clipped.std() or 1.0))

    def correct(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        prompts: Sequence[Prompt],
        spacing: Sequence[float],
        stats: Statistics,
    ) -> tuple[np.ndarray, Box, float]:
        """The network's label in the window around the last prompt.

        Returns:
            (the label inside ``box`` (bool), ``box`` on the image grid, seconds).
        """
        import torch

        t0 = time.perf_counter()
        spacing = np.asarray(spacing, float)
        ms, win = self.spacing, np.asarray(WINDOW)
        centre_mm = prompts[-1].centre * spacing
        first_mm = centre_mm - (win - 1) / 2 * ms  # mm of the window's voxel 0
        axes = [(first_mm[a] + np.arange(win[a]) * ms[a]) / spacing[a] for a in range(3)]
        grid = np.meshgrid(*axes, indexing="ij", sparse=True)
        coords = np.broadcast_arrays(*grid)
        x = stats.apply(ndi.map_coordinates(np.asarray(image, np.float32), coords, order=1, mode="nearest"))
        prior = ndi.map_coordinates(np.asarray(mask, np.float32), coords, order=0, mode="constant")
        pos = [(p.points * spacing - first_mm) / ms for p in prompts if p.kind == "positive"]
        neg = [(p.points * spacing - first_mm) / ms for p in prompts if p.kind == "negative"]
        shape = tuple(int(n) for n in win)
        chans = [
            x,
            draw_points(shape, np.concatenate(pos), ms) if pos else np.zeros(shape, np.float32),
            draw_points(shape, np.concatenate(neg), ms) if neg else np.zeros(shape, np.float32),
            prior,
        ]
        inp = torch.from_numpy(np.stack(chans)[None])
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.amp):
            prob = torch.sigmoid(self.model(inp).float())[0, 0].numpy()
        # back onto the image grid: the image voxels inside the window (less its faces)
        face = np.asarray(FACE)
        lo_mm, hi_mm = first_mm + face * ms, first_mm + (win - 1 - face) * ms
        lo = np.maximum(np.ceil(lo_mm / spacing), 0).astype(int)
        hi = np.minimum(np.floor(hi_mm / spacing) + 1, image.shape).astype(int)
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        back = [
            (np.arange(a, b) * s - f) / m for a, b, s, f, m in zip(lo, hi, spacing, first_mm, ms, strict=True)
        ]
        bgrid = np.broadcast_arrays(*np.meshgrid(*back, indexing="ij", sparse=True))
        label = ndi.map_coordinates(prob, bgrid, order=1, mode="nearest") >= 0.5
        return label, box, time.perf_counter() - t0
