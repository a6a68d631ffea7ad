"""Fixtures of the training tests: a small phantom dataset and a finished cavity run."""

from __future__ import annotations

from pathlib import Path

import pytest

from testutils import small_train_config, write_phantom_dataset


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    return write_phantom_dataset(tmp_path_factory.mktemp("phantoms"), [1, 2, 3])


@pytest.fixture(scope="session")
def cavity_run(dataset, tmp_path_factory) -> Path:
    from napari_c2w.train.api import train

    out = tmp_path_factory.mktemp("runs") / "cavity"
    result = train(small_train_config("cavity"), dataset, out)
    assert result.status == "completed"
    return out
