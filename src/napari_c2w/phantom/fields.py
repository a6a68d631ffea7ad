"""Grids, signed-distance primitives and smooth random fields for the phantom (pure numpy).

All positions are in millimetres in (z, y, x) order. Primitives take broadcastable
coordinate arrays (``z[:, None, None]``, ``y[None, :, None]``, ``x[None, None, :]``) or
point columns of equal length, and return float32 arrays. Signed distances are negative
inside.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..masks.geometry import Box

F32 = np.float32


@dataclasses.dataclass(frozen=True)
class Grid:
    """A regular voxel grid: voxel ``i`` of axis ``a`` sits at ``origin[a] + i * spacing[a]`` mm."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    def axis(self, a: int, sl: slice | None = None) -> np.ndarray:
        """Voxel-centre coordinates (mm, float32) along axis ``a``, optionally sliced."""
        idx = np.arange(self.shape[a])[sl if sl is not None else slice(None)]
        return (self.origin[a] + idx * self.spacing[a]).astype(F32)

    def coords(self, box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable (z, y, x) coordinate arrays of the voxels in ``box``."""
        z, y, x = (self.axis(a, box[a]) for a in range(3))
        return z[:, None, None], y[None, :, None], x[None, None, :]

    def box(self, lo, hi) -> Box | None:
        """Voxel slices covering the mm box [lo, hi], clipped to the grid; None if empty."""
        out = []
        for a in range(3):
            i0 = int(np.floor((lo[a] - self.origin[a]) / self.spacing[a]))
            i1 = int(np.ceil((hi[a] - self.origin[a]) / self.spacing[a])) + 1
            i0, i1 = max(i0, 0), min(i1, self.shape[a])
            if i1 <= i0:
                return None
            out.append(slice(i0, i1))
        return tuple(out)

    @property
    def extent(self) -> np.ndarray:
        """Field of view in mm per axis (shape times spacing)."""
        return np.asarray(self.shape, float) * np.asarray(self.spacing, float)

    @property
    def centre(self) -> np.ndarray:
        half = (np.asarray(self.shape, float) - 1) / 2
        return np.asarray(self.origin, float) + half * np.asarray(self.spacing)


def occupancy(sdf: np.ndarray, width: float) -> np.ndarray:
    """Partial-volume occupancy of the inside of ``sdf``: a linear ramp ``width`` mm wide."""
    occ = np.multiply(sdf, F32(-1.0 / width), dtype=F32)
    occ += F32(0.5)
    return np.clip(occ, 0.0, 1.0, out=occ)


def ellipsoid_sdf(z, y, x, centre, radii, rot: np.ndarray | None = None) -> np.ndarray:
    """Approximate signed distance to an ellipsoid (exact on the surface, good nearby).

    ``rot`` (3x3) maps world offsets into the ellipsoid frame (rows are its axes).
    """
    d = [z - F32(centre[0]), y - F32(centre[1]), x - F32(centre[2])]
    if rot is not None:
        r = np.asarray(rot, F32)
        d = [r[i, 0] * d[0] + r[i, 1] * d[1] + r[i, 2] * d[2] for i in range(3)]
    k0 = sum((di / F32(ri)) ** 2 for di, ri in zip(d, radii, strict=False))
    k1 = sum((di / F32(ri * ri)) ** 2 for di, ri in zip(d, radii, strict=False))
    k0 = np.sqrt(k0, dtype=F32)
    k1 = np.sqrt(k1, dtype=F32)
    k1 += F32(1e-6)
    return (k0 * (k0 - F32(1.0)) / k1).astype(F32, copy=False)


def segment_sdf(z, y, x, a, b, ra: float, rb: float) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance to a tapered capsule from ``a`` (radius ``ra``) to ``b`` (``rb``).

    Returns (sdf, t) where t in [0, 1] is the position of the closest axis point.
    """
    a = np.asarray(a, F32)
    ab = np.asarray(b, F32) - a
    inv = F32(1.0 / max(float(ab @ ab), 1e-9))
    dz, dy, dx = z - a[0], y - a[1], x - a[2]
    t = (dz * ab[0] + dy * ab[1] + dx * ab[2]) * inv
    np.clip(t, 0.0, 1.0, out=t)
    ez, ey, ex = dz - t * ab[0], dy - t * ab[1], dx - t * ab[2]
    dist = np.sqrt(ez * ez + ey * ey + ex * ex, dtype=F32)
    dist -= F32(ra) + t * F32(rb - ra)
    return dist, t


def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (a fillet of about ``k`` mm where the two meet)."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / F32(k), 0.0, 1.0).astype(F32)
    return (b + h * (a - b) - F32(k) * h * (1 - h)).astype(F32, copy=False)


def rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    """A random rotation matrix whose angle is at most ``max_deg`` degrees."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    ang = np.deg2rad(rng.uniform(-max_deg, max_deg))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(ang) * k + (1 - np.cos(ang)) * (k @ k)


def unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


@dataclasses.dataclass
class Field:
    """A smooth random field: a sum of random plane waves with unit variance.

    ``f(p) = sqrt(2/n) * sum_j cos(k_j . p + phase_j)``, wavelengths around ``wavelength`` mm.
    """

    k: np.ndarray  # (n, 3) rad/mm
    phase: np.ndarray  # (n,)

    @classmethod
    def random(cls, rng: np.random.Generator, wavelength: float, n: int = 12) -> Field:
        dirs = rng.normal(size=(n, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        lam = wavelength * rng.uniform(0.7, 1.4, size=(n, 1))
        return cls(k=dirs * (2 * np.pi / lam), phase=rng.uniform(0, 2 * np.pi, size=n))

    def at(self, points: np.ndarray) -> np.ndarray:
        """Field values at (N, 3) mm points."""
        arg = np.asarray(points, F32) @ self.k.T.astype(F32) + self.phase.astype(F32)
        return (np.cos(arg).sum(axis=1) * F32(np.sqrt(2.0 / len(self.phase)))).astype(F32)


def interp_matrix(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """(len(fine), len(coarse)) linear-interpolation weights from a uniform coarse axis."""
    step = coarse[1] - coarse[0] if len(coarse) > 1 else 1.0
    pos = np.clip((np.asarray(fine, float) - coarse[0]) / step, 0, len(coarse) - 1)
    i0 = np.minimum(np.floor(pos).astype(int), len(coarse) - 1)
    i1 = np.minimum(i0 + 1, len(coarse) - 1)
    w = pos - i0
    m = np.zeros((len(fine), len(coarse)), F32)
    np.add.at(m, (np.arange(len(fine)), i0), 1 - w)
    np.add.at(m, (np.arange(len(fine)), i1), w)
    return m


def upsample(values: np.ndarray, coarse: list[np.ndarray], fine: list[np.ndarray]) -> np.ndarray:
    """Separable linear interpolation of a coarse 3D array onto fine axes (matrix products)."""
    wz, wy, wx = (interp_matrix(f, c) for f, c in zip(fine, coarse, strict=False))
    out = np.tensordot(values.astype(F32), wx, axes=([2], [1]))  # (cz, cy, nx)
    out = np.einsum("yj,ijx->iyx", wy, out, optimize=True)  # (cz, ny, nx)
    nz = wz.shape[0]
    out = (wz @ out.reshape(out.shape[0], -1)).reshape(nz, out.shape[1], out.shape[2])
    return np.ascontiguousarray(out, dtype=F32)


def smooth_field(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A very smooth random 3D field on ``shape`` (4 x 4 x 3 normal knots, cubic interpolation):
    the shape of a coil's bias field."""
    from scipy import ndimage

    coarse = rng.normal(size=(3, 4, 4)).astype(F32)
    field = ndimage.zoom(coarse, np.divide(shape, coarse.shape), order=3, grid_mode=True, mode="nearest")
    return field[: shape[0], : shape[1], : shape[2]]
