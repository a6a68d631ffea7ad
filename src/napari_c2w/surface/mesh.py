"""The endocardial surface: a triangle mesh of the LA cavity's boundary in physical coordinates.

The cavity (on its bounding box, padded) is smoothed with a Gaussian of ``smooth_mm``
(in mm, so anisotropic voxels are smoothed alike in every direction) and its 0.5 level set
is extracted with scikit-image's marching cubes at the image's spacing. Decimation samples
the smoothed mask every ``round(edge_mm / spacing)`` voxels per axis (the Gaussian has
removed what that sampling would alias), so edges are about ``edge_mm`` long; a real atrium
then has some 15 thousand triangles, smooth to rotate in napari. A few Taubin
(λ/μ) smoothing passes then remove the staircase of thick slices without shrinking it.

Vertices are in napari's world coordinates of the volume, ``origin + index * spacing``
(z, y, x, mm), so a Surface layer without scale lies on the image and labels layers;
:func:`to_patient` turns them into patient (x, y, z) coordinates with the direction
matrix for export. Normals point out of the cavity (into the wall).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..masks.geometry import bbox

SMOOTH_MM = 1.0
EDGE_MM = 1.5
TAUBIN_ITERATIONS = 10


@dataclasses.dataclass
class Mesh:
    """A triangle mesh: (N, 3) float vertices (z, y, x world mm), (M, 3) int faces, unit normals."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    def vertex_areas(self) -> np.ndarray:
        """Area (mm²) belonging to each vertex: a third of each adjacent triangle's area."""
        v = self.vertices
        tri = v[self.faces]
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        out = np.zeros(len(v))
        np.add.at(out, self.faces.ravel(), np.repeat(area / 3.0, 3))
        return out


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (orientation follows the faces' winding)."""
    tri = vertices[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _adjacency(n: int, faces: np.ndarray):
    """Row-normalised vertex adjacency (sparse), for umbrella smoothing."""
    from scipy.sparse import coo_matrix

    i = faces[:, [0, 1, 2, 1, 2, 0]].ravel()
    j = faces[:, [1, 2, 0, 0, 1, 2]].ravel()
    a = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    a.data[:] = 1.0  # duplicate edges were summed
    deg = np.asarray(a.sum(axis=1)).ravel()
    deg[deg == 0] = 1.0
    from scipy.sparse import diags

    return diags(1.0 / deg) @ a


def taubin_smooth(
    vertices: np.ndarray, faces: np.ndarray, iterations: int = TAUBIN_ITERATIONS, lam: float = 0.5, mu=-0.53
) -> np.ndarray:
    """Taubin λ/μ smoothing (Taubin 1995): low-pass filtering of the vertices without shrinkage."""
    if iterations <= 0 or len(faces) == 0:
        return vertices
    w = _adjacency(len(vertices), faces)
    v = vertices.copy()
    for _ in range(iterations):
        v += lam * (w @ v - v)
        v += mu * (w @ v - v)
    return v


def endocardial_mesh(
    cavity: np.ndarray,
    spacing: Sequence[float],
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    *,
    smooth_mm: float = SMOOTH_MM,
    edge_mm: float = EDGE_MM,
    taubin_iterations: int = TAUBIN_ITERATIONS,
) -> Mesh:
    """Triangle mesh of the cavity boundary in world mm (z, y, x).

    Args:
        cavity: (z, y, x) cavity mask.
        spacing: voxel size in mm (z, y, x).
        origin: world position of voxel (0, 0, 0) in mm (z, y, x).
        smooth_mm: Gaussian sigma (mm) applied to the mask before marching cubes.
        edge_mm: target edge length (mm), by sampling the smoothed mask this coarsely.
        taubin_iterations: Taubin smoothing passes after extraction.

    Raises:
        ValueError: not 3D, bad spacing, or an empty cavity.
    """
    from scipy.ndimage import gaussian_filter
    from skimage.measure import marching_cubes

    spacing = np.asarray([float(s) for s in spacing])
    if np.ndim(cavity) != 3:
        raise ValueError(f"the cavity must be a 3D (z, y, x) mask, not {np.ndim(cavity)}D")
    if spacing.size != 3 or spacing.min() <= 0:
        raise ValueError(f"spacing must be 3 positive numbers (mm), not {tuple(spacing)}")
    box = bbox(np.asarray(cavity))
    if box is None:
        raise ValueError("the cavity is empty: the endocardial surface needs a cavity label")
    sigma = smooth_mm / spacing if smooth_mm > 0 else np.zeros(3)
    pad = np.ceil(3 * sigma).astype(int) + 2
    crop = np.pad((np.asarray(cavity[box]) != 0).astype(np.float32), [(p, p) for p in pad])
    if smooth_mm > 0:
        crop = gaussian_filter(crop, sigma, truncate=3.0)
    # decimate by sampling the smoothed mask every ``f`` voxels per axis (about ``edge_mm``)
    f = np.maximum(np.round(edge_mm / spacing).astype(int), 1)
    crop = crop[:: f[0], :: f[1], :: f[2]]
    verts, faces, _, _ = marching_cubes(crop, level=0.5, spacing=tuple(spacing * f), allow_degenerate=False)
    corner = (np.asarray([s.start for s in box]) - pad) * spacing + np.asarray(origin, dtype=float)
    verts = verts + corner
    verts = taubin_smooth(verts, faces, taubin_iterations)
    normals = vertex_normals(verts, faces)
    # marching cubes' winding makes normals point down the gradient (out of the cavity);
    # check on the whole mesh and flip if a library change ever reverses it.
    if np.sum(np.einsum("ij,ij->i", normals, verts - verts.mean(axis=0))) < 0:
        faces = faces[:, ::-1]
        normals = -normals
    return Mesh(verts, faces.astype(np.int64), normals)


def to_patient(
    vertices: np.ndarray, origin: Sequence[float], direction: Sequence[float] | None = None
) -> np.ndarray:
    """World (z, y, x) mm vertices as patient (x, y, z) mm with the volume's direction matrix.

    ``p = origin_xyz + D @ (index_xyz * spacing_xyz)`` as ITK defines physical points; with
    the identity direction this only reverses the axes. ``direction`` is ITK's 9 numbers
    (row major, x, y, z).
    """
    o = np.asarray(origin, dtype=float)
    rel = (np.asarray(vertices, dtype=float) - o)[:, ::-1]
    d = np.eye(3) if direction is None else np.asarray(direction, dtype=float).reshape(3, 3)
    return o[::-1] + rel @ d.T
