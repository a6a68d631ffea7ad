"""Tiny untrained model sets and small phantoms for the inference tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from testutils import write_model_set


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    return write_model_set(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def small_volume():
    """A phantom on an anisotropic grid with a non-zero origin."""
    from napari_c2w.phantom import generate_phantom

    ph = generate_phantom(5, shape=(20, 72, 64), spacing=(2.5, 1.25, 1.5), origin=(-30.0, 12.5, 100.0))
    return ph.image, ph
