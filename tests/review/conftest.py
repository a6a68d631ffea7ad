"""Fixtures of the review tests: a ball atrium with known blobs, and small noisy phantoms."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

SPACING = (1.25, 0.625, 0.625)
ORIGIN = (-10.0, 20.0, 5.0)


@dataclasses.dataclass
class Ball:
    """A ball cavity (radius 8 mm), a 2 mm shell wall, a scar patch in the wall and known blobs."""

    spacing: tuple
    origin: tuple
    cavity: np.ndarray
    wall: np.ndarray
    scar: np.ndarray
    beyond: np.ndarray  # spurious scar 6 mm beyond the wall
    deep: np.ndarray  # spurious scar at the cavity's centre
    far_wall: np.ndarray  # wall blob 9 mm from the cavity
    centre_vox: tuple

    @property
    def noisy_scar(self) -> np.ndarray:
        return (self.scar | self.beyond | self.deep).astype(np.uint8)


def make_ball(spacing=SPACING, shape=(32, 64, 64), origin=ORIGIN) -> Ball:
    centre = tuple(n // 2 for n in shape)
    zz, yy, xx = np.meshgrid(
        *((np.arange(n) - c) * s for n, c, s in zip(shape, centre, spacing, strict=True)), indexing="ij"
    )
    r = np.sqrt(zz**2 + yy**2 + xx**2)
    cavity = r < 8.0
    wall = (r >= 8.0) & (r < 10.0)
    scar = wall & (xx > 4.0)
    beyond = np.sqrt(zz**2 + yy**2 + (xx + 15.0) ** 2) <= 1.9  # centred 15 mm out, along -x
    deep = r <= 1.9
    far_wall = np.sqrt(zz**2 + (yy - 18.0) ** 2 + xx**2) <= 1.3  # 18 mm out along +y
    return Ball(spacing, origin, cavity, wall, scar, beyond, deep, far_wall, centre)


@pytest.fixture
def ball() -> Ball:
    return make_ball()


@pytest.fixture(scope="session")
def noisy_phantoms():
    """Two small noisy phantoms at (1.25, 0.625, 0.625) mm, 48 x 128 x 128."""
    from napari_c2w.phantom import generate_phantom

    return [generate_phantom(seed, shape=(48, 128, 128), spacing=SPACING) for seed in (0, 1)]
