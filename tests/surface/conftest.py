"""Fixtures of the surface tests: a synthetic atrium with veins, appendage and an enhanced patch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

SPACING = (1.25, 0.75, 0.75)
ORIGIN = (-20.0, 35.0, 7.5)
SHAPE = (48, 88, 88)


@dataclasses.dataclass
class Atrium:
    """Arrays (z, y, x) on ``SPACING``/``ORIGIN``; ``rel`` holds mm offsets from the ball centre."""

    image: np.ndarray
    cavity: np.ndarray
    wall: np.ndarray
    scar: np.ndarray
    rel: tuple[np.ndarray, np.ndarray, np.ndarray]
    centre_world: np.ndarray
    spacing: tuple = SPACING
    origin: tuple = ORIGIN


def _tube(zyx, p, axis, radius, length):
    z, y, x = zyx
    d = np.stack([z - p[0], y - p[1], x - p[2]])
    t = np.tensordot(np.asarray(axis, float), d, axes=1)
    perp = np.sqrt(np.maximum((d**2).sum(0) - t**2, 0))
    return (perp < radius) & (t >= 0) & (t <= length)


def make_atrium(patch_value: float = 150.0) -> Atrium:
    """Ball body (r 14 mm), two posterior veins (+y) left (+x) and right, an anterior-left
    appendage, a 2 mm wall, and a scar patch (``patch_value``) in the wall where x > 8 mm
    and y < 0 (anterior-lateral); blood 100, wall 30, outside 10."""
    centre = np.asarray(SHAPE) // 2
    z, y, x = np.meshgrid(
        *((np.arange(n) - c) * s for n, c, s in zip(SHAPE, centre, SPACING, strict=True)), indexing="ij"
    )
    r = np.sqrt(z**2 + y**2 + x**2)
    cavity = r < 14.0
    for side in (1, -1):
        cavity |= _tube((z, y, x), (4.0, 8.0, side * 7.0), (0.0, 1.0, 0.0), 4.0, 16.0)
    cavity |= _tube((z, y, x), (6.0, -8.0, 7.0), (0.3, -0.5, 0.8), 4.5, 14.0)
    from scipy.ndimage import distance_transform_edt

    wall = ~cavity & (distance_transform_edt(~cavity, sampling=SPACING) <= 2.0)
    scar = wall & (x > 8.0) & (y < 0) & (r < 17)
    image = np.full(SHAPE, 10.0, np.float32)
    image[cavity] = 100.0
    image[wall] = 30.0
    image[scar] = patch_value
    centre_world = np.asarray(ORIGIN) + centre * np.asarray(SPACING)
    return Atrium(image, cavity, wall, scar, (z, y, x), centre_world)


@pytest.fixture(scope="session")
def atrium() -> Atrium:
    return make_atrium()
