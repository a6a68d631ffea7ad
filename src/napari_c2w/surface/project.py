"""Per-vertex values of the endocardial surface: volumes projected along the vertex normals.

CemrgApp's projection: at each vertex, the volume is sampled along the outward normal from
``-1`` mm (inside the blood) to ``+3`` mm (through the wall) every ``step_mm`` (0.25 mm), with
trilinear interpolation, and the vertex takes the maximum. Applied to the image divided by
the blood-pool mean this is the vertex's maximum IIR; applied to the network's scar
probability (or its binary scar mask) it is the network's scar on the surface, so the two
can be compared vertex by vertex. Wall thickness takes the maximum of the thickness map
(mm at wall voxels, 0 elsewhere; nearest-neighbour, so values are not blended with the 0s
around the wall) along the same segment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .mesh import Mesh

INSIDE_MM = 1.0
OUTSIDE_MM = 3.0
STEP_MM = 0.25


def sample_offsets(inside_mm: float = INSIDE_MM, outside_mm: float = OUTSIDE_MM, step_mm: float = STEP_MM):
    """Distances (mm) along the normal at which the volume is sampled, ``-inside .. +outside``."""
    if inside_mm < 0 or outside_mm < 0 or step_mm <= 0:
        raise ValueError(
            f"the projection needs inside/outside >= 0 mm and a step > 0 mm, got "
            f"{inside_mm}, {outside_mm}, {step_mm}"
        )
    n = int(np.floor((inside_mm + outside_mm) / step_mm + 1e-9)) + 1
    return -inside_mm + step_mm * np.arange(n)


def project_max(
    volume: np.ndarray,
    mesh: Mesh,
    spacing: Sequence[float],
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    *,
    inside_mm: float = INSIDE_MM,
    outside_mm: float = OUTSIDE_MM,
    step_mm: float = STEP_MM,
    order: int = 1,
) -> np.ndarray:
    """Maximum of ``volume`` along each vertex normal from ``-inside_mm`` to ``+outside_mm``.

    Only the bounding box of the sampled points is read, so a full-grid ``volume`` costs
    no more than a crop. Points beyond the volume read 0.

    Args:
        volume: (z, y, x) array on the image grid.
        mesh: the surface (world mm, z, y, x) with outward normals.
        spacing: voxel size in mm (z, y, x).
        origin: world position of voxel (0, 0, 0) in mm.
        inside_mm, outside_mm, step_mm: the sampled segment.
        order: spline order of :func:`scipy.ndimage.map_coordinates` (1 trilinear, 0 nearest).

    Returns:
        float32 array of one value per vertex.
    """
    from scipy.ndimage import map_coordinates

    if np.ndim(volume) != 3:
        raise ValueError(f"the projected volume must be 3D (z, y, x), not {np.ndim(volume)}D")
    t = sample_offsets(inside_mm, outside_mm, step_mm)
    if mesh.n_vertices == 0:
        return np.zeros(0, np.float32)
    sp = np.asarray(spacing, dtype=float)
    pts = (mesh.vertices[:, None, :] + t[None, :, None] * mesh.normals[:, None, :]).reshape(-1, 3)
    idx = (pts - np.asarray(origin, dtype=float)) / sp
    lo = np.clip(np.floor(idx.min(axis=0)).astype(int) - 1, 0, None)
    hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 2, np.asarray(np.shape(volume)))
    if np.any(hi <= lo):
        return np.zeros(mesh.n_vertices, np.float32)
    crop = np.asarray(volume[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], dtype=np.float32)
    vals = map_coordinates(crop, (idx - lo).T, order=order, mode="constant", cval=0.0, prefilter=False)
    return vals.reshape(mesh.n_vertices, len(t)).max(axis=1).astype(np.float32)
