"""Shared fixtures: small synthetic volumes, files in every format, napari isolation."""

from __future__ import annotations

import os

import numpy as np
import pytest

from testutils import LA2018, REPO  # noqa: F401 (re-exported for fixtures)


@pytest.fixture(autouse=True, scope="session")
def _isolated_napari(tmp_path_factory):
    """Point napari's settings and cache, and napari-c2w's cache, at a temporary folder."""
    base = tmp_path_factory.mktemp("napari-config")
    os.environ["NAPARI_CONFIG"] = str(base / "settings.yaml")
    os.environ["NAPARI_CACHE_DIR"] = str(base / "cache")
    os.environ["NAPARI_C2W_CACHE"] = str(base / "napari-c2w-cache")  # OpenVINO's converted networks
    os.environ.setdefault("NAPARI_C2W_NOTHREADS", "0")
    yield


@pytest.fixture
def geometry():
    """An anisotropic grid with a non-zero origin: (spacing, origin) in zyx mm."""
    return (2.5, 0.625, 0.7), (-12.0, 30.5, 7.25)


@pytest.fixture
def small_case(geometry):
    """A 12 x 40 x 48 image with a ball cavity, a shell wall and a scar patch."""
    from napari_c2w.io import Case, Volume

    spacing, origin = geometry
    zz, yy, xx = np.meshgrid(
        *(np.arange(n) * s for n, s in zip((12, 40, 48), spacing, strict=False)), indexing="ij"
    )
    r = np.sqrt((zz - 15) ** 2 + (yy - 12.5) ** 2 + (xx - 16.8) ** 2)
    cavity = r < 8
    wall = (r >= 8) & (r < 10)
    scar = wall & (xx > 20)
    rng = np.random.default_rng(0)
    image = (60 + 100 * cavity + 40 * scar + rng.normal(0, 5, cavity.shape)).clip(0, 255).astype(np.uint8)
    return Case(
        Volume(image, spacing, origin), {"cavity": cavity, "wall": wall, "scar": scar}, case_id="ball"
    )
