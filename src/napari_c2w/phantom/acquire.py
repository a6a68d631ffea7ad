"""Acquisition effects: slice profile, coil bias field, Rician noise and output scaling."""

from __future__ import annotations

import concurrent.futures

import numpy as np

from .anatomy import Anatomy
from .fields import F32, Field, Grid, upsample

SUBSLICE_MM = 1.25  # thicker slices are rendered as sub-slices this thin, then averaged


def render_grid(grid: Grid) -> tuple[Grid, int]:
    """The grid the signal is rendered on: each slice split into ``k`` sub-slices across its thickness."""
    k = max(1, int(np.ceil(grid.spacing[0] / SUBSLICE_MM - 1e-6)))
    if k == 1:
        return grid, 1
    sz = grid.spacing[0] / k
    origin = (grid.origin[0] - grid.spacing[0] / 2 + sz / 2, *grid.origin[1:])
    return Grid((grid.shape[0] * k, *grid.shape[1:]), (sz, *grid.spacing[1:]), origin), k


def slab_average(img: np.ndarray, k: int) -> np.ndarray:
    """Average each run of ``k`` sub-slices into one slice (a box slice profile)."""
    if k == 1:
        return img
    return img.reshape(img.shape[0] // k, k, *img.shape[1:]).mean(axis=1, dtype=F32)


def bias_field(a: Anatomy, grid: Grid, seed: int, strength: float) -> np.ndarray:
    """A smooth multiplicative receive-coil bias, 1 at the LA centre, about +-``strength``.

    A few very long random waves plus an anterior/posterior coil term (brighter near the
    chest and back), evaluated every ~10 mm and interpolated.
    """
    rng = np.random.default_rng([int(seed), 6])
    waves = Field.random(rng, rng.uniform(180, 350), n=6)
    (cy, _), (ry, _) = a.thorax["body_centre"], a.thorax["body_radii"]
    coil = rng.uniform(0.3, 0.8)

    def g(points: np.ndarray) -> np.ndarray:
        prox = ((points[:, 1] - cy) / ry) ** 2 - 0.3
        return 0.8 * waves.at(points) + coil * prox * 2.0

    step = 10.0
    axes = [np.arange(grid.axis(k)[0] - step, grid.axis(k)[-1] + 2 * step, step) for k in range(3)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    vals = g(pts).reshape([len(ax) for ax in axes]) - g(a.centre[None])[0]
    coarse = np.exp(strength * np.clip(vals, -2.0, 2.0)).astype(F32)
    return upsample(coarse, axes, [grid.axis(k) for k in range(3)])


def rician(signal: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Magnitude of ``signal`` plus complex white Gaussian noise (in place on a new array)."""
    children = np.random.SeedSequence([int(seed), 7]).spawn(2)

    def draw(ss):
        out = np.random.default_rng(ss).standard_normal(signal.shape, dtype=F32)
        out *= F32(sigma)
        return out

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        re, im = pool.map(draw, children)
    re += signal
    np.square(re, out=re)
    np.square(im, out=im)
    re += im
    del im
    return np.sqrt(re, out=re)


def acquire(signal: np.ndarray, a: Anatomy, grid: Grid, look: dict, seed: int) -> np.ndarray:
    """Bias, noise and scaling of the noise-free relative signal into a 0-255-like float32 image."""
    acq, c = look["acquisition"], look["contrast"]
    signal *= bias_field(a, grid, seed, acq["bias_strength"])
    img = rician(signal, acq["noise_sigma_rel"] * c["blood"], seed)
    img *= F32(acq["blood_level"] / c["blood"])
    return np.clip(img, 0.0, 255.0, out=img)
