"""The prompt-conditioned network path, tested on the CPU with a tiny network: widened inputs start
as the original model, a window around the prompt comes back onto the image grid, the session
records it, and a one-channel checkpoint is refused with a clear message."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from napari_c2w.correct import Prompt, RefineOptions
from napari_c2w.correct.network import WINDOW, PromptNetwork, widen_input
from napari_c2w.correct.session import CorrectionSession
from napari_c2w.models import build_model, save_checkpoint

META = {"stage": "cavity", "preset": "tiny", "spacing": [1.25, 0.625, 0.625], "roi": [16, 32, 32]}


@pytest.fixture
def widened(tmp_path):
    torch.manual_seed(0)
    model = build_model("tiny").eval()
    wide = widen_input(copy.deepcopy(model), 4)
    path = save_checkpoint(tmp_path / "prompt.pt", wide, META)
    return model, wide, path


def test_widened_network_starts_as_the_original_whatever_the_prompts(widened):
    model, wide, _ = widened
    x = torch.randn(1, 1, 16, 32, 32)
    extra = torch.rand(1, 3, 16, 32, 32)
    with torch.no_grad():
        a = model(x)
        b = wide(torch.cat([x, extra], 1))
        c = wide(torch.cat([x, torch.zeros_like(extra)], 1))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(b, c)
    assert wide.config["in_channels"] == 4


def test_network_corrects_a_window_around_the_prompt(widened):
    _, _, path = widened
    net = PromptNetwork(path)
    rng = np.random.default_rng(0)
    image = rng.normal(100, 10, (40, 150, 150)).astype(np.float32)
    mask = np.zeros(image.shape, np.uint8)
    mask[15:25, 60:90, 60:90] = 1
    spacing = (1.25, 0.625, 0.625)
    stats = net.statistics(image, mask, spacing)
    assert stats.low < stats.high and stats.std > 0
    label, box, seconds = net.correct(image, mask, [Prompt.click((20, 75, 100))], spacing, stats)
    assert label.dtype == bool and label.shape == tuple(s.stop - s.start for s in box)
    assert all(0 <= s.start < s.stop <= n for s, n in zip(box, image.shape, strict=True))
    extent_mm = [(s.stop - s.start) * sp for s, sp in zip(box, spacing, strict=True)]
    assert all(e <= w * m for e, w, m in zip(extent_mm, WINDOW, META["spacing"], strict=True))
    assert seconds >= 0


def test_session_sends_cavity_clicks_to_the_network_and_boxes_to_the_walker(widened):
    _, _, path = widened
    image = np.full((40, 150, 150), 50.0, np.float32)
    image[10:30, 50:100, 50:100] = 200.0
    mask = np.zeros(image.shape, np.uint8)
    mask[10:30, 50:100, 50:75] = 1
    s = CorrectionSession(image, (1.25, 0.625, 0.625), options=RefineOptions(method="network"))
    s._network = PromptNetwork(path)
    assert s.uses_network
    s.prompt("cavity", mask, Prompt.click((20, 75, 90)))
    assert s.provenance[-1]["method"] == "network"
    box = Prompt("box", np.array([(20, 45, 45), (20, 105, 105)]))
    s.prompt("cavity", np.zeros_like(mask), box)
    assert s.provenance[-1]["method"] == "random-walker"


def test_a_one_channel_checkpoint_is_not_a_prompt_network(tmp_path):
    path = save_checkpoint(tmp_path / "cavity.pt", build_model("tiny"), META)
    with pytest.raises(ValueError, match="not a prompt-conditioned network"):
        PromptNetwork(path)
