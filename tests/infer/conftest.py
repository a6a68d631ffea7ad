"""Tiny untrained model sets and small phantoms for the inference tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


def write_model_set(folder: Path, spacing=(2.5, 1.25, 1.25), roi=(16, 32, 32)) -> Path:
    """localizer/cavity/wall/scar checkpoints of the ``tiny`` preset (random weights)."""
    from napari_c2w.models import build_model, save_checkpoint

    folder.mkdir(parents=True, exist_ok=True)
    for i, stage in enumerate(("localizer", "cavity", "wall", "scar")):
        torch.manual_seed(i)
        model = build_model("tiny", 1, 1)
        meta = {
            "stage": stage,
            "preset": "tiny",
            "spacing": [5.0, 5.0, 5.0] if stage == "localizer" else list(spacing),
            "roi": list(roi),
        }
        save_checkpoint(folder / f"{stage}.pt", model, meta)
    return folder


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    return write_model_set(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def small_volume():
    """A phantom on an anisotropic grid with a non-zero origin."""
    from napari_c2w.phantom import generate_phantom

    ph = generate_phantom(5, shape=(20, 72, 64), spacing=(2.5, 1.25, 1.5), origin=(-30.0, 12.5, 100.0))
    return ph.image, ph
