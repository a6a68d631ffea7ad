"""A simple parcellation of the endocardial surface into nine regions.

It uses only the cavity and the patient directions (DICOM LPS: +x patient left, +y
posterior, +z superior, through the volume's direction matrix), no atlas:

1. The LA *body* is the cavity opened by a ball of ``body_radius_mm``, by default 0.4 times
   the radius of the largest ball inscribed in the cavity (5-6.5 mm on la2018 cases): the
   veins and the appendage, narrower than that ball, are what the opening removes. The
   opening is computed with exact distance transforms on the cavity resampled to about
   ``grid_mm`` (1.25 mm) voxels.
2. Each removed component larger than ``min_ml`` is a *protrusion*. Relative to the body's
   centroid, a posterior one (``dy >= 0``) is a pulmonary vein, left or right by the sign
   of ``dx``; the largest anterior-left one (``dy < 0``, ``dx > 0``) is the appendage.
   Other protrusions are left to the body.
3. A vertex whose nearest cavity voxel is in a vein belongs to that side's *PV antrum*,
   as do body vertices within ``antrum_mm`` (5 mm) of such a vertex; vertices nearest to
   the appendage are the *appendage*.
4. Every other vertex goes to the body region of its dominant direction from the body
   centroid, each axis scaled by the body's extent along it: roof (+z), floor (-z),
   posterior (+y), anterior (-y), lateral (+x, patient left) or septal (-x).

Every vertex gets exactly one region id (1-9, :data:`REGIONS`). The mitral valve opening
is not a region of its own: its rim goes to the floor or the anterior wall.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..masks.geometry import bbox
from .mesh import to_patient

#: Region id -> name.
REGIONS: dict[int, str] = {
    1: "left PV antrum",
    2: "right PV antrum",
    3: "appendage",
    4: "roof",
    5: "floor",
    6: "posterior",
    7: "anterior",
    8: "septal",
    9: "lateral",
}
#: Opening radius as a share of the largest inscribed radius of the cavity.
BODY_RADIUS_SHARE = 0.4
ANTRUM_MM = 5.0
GRID_MM = 1.25
MIN_ML = 0.2


def _protrusion_regions(
    comp_of: np.ndarray, pts: np.ndarray, centre, n: int, *, voxel_ml: float, min_ml: float
) -> np.ndarray:
    """Region id (0: none) of each protrusion component: left/right PVs by side, the largest
    anterior-left one the appendage; components under the minimum volume get none."""
    kind = {}  # component -> region id
    appendage = None
    for c in range(1, n + 1):
        sel = comp_of == c
        size = int(sel.sum())
        if size * voxel_ml < min_ml:
            continue
        d = pts[sel].mean(axis=0) - centre
        if d[1] >= 0:
            kind[c] = 1 if d[0] > 0 else 2
        elif d[0] > 0 and (appendage is None or size > appendage[1]):
            appendage = (c, size)
    if appendage is not None:
        kind[appendage[0]] = 3
    lookup = np.zeros(n + 1, dtype=np.int64)
    for c, k in kind.items():
        lookup[c] = k
    return lookup


def parcellate(
    vertices: np.ndarray,
    cavity: np.ndarray,
    spacing: Sequence[float],
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    direction: Sequence[float] | None = None,
    *,
    body_radius_mm: float | None = None,
    antrum_mm: float = ANTRUM_MM,
    grid_mm: float = GRID_MM,
    min_ml: float = MIN_ML,
) -> np.ndarray:
    """Region id (1-9, see :data:`REGIONS`) of each surface vertex.

    Args:
        vertices: (N, 3) world mm (z, y, x), as :func:`.mesh.endocardial_mesh` gives them.
        cavity: the (z, y, x) cavity mask the mesh was built from.
        spacing, origin: the volume's grid (mm, z, y, x).
        direction: ITK direction (9 numbers); None is the identity.
        body_radius_mm: radius of the opening that separates the body from veins/appendage;
            None: :data:`BODY_RADIUS_SHARE` of the largest inscribed radius.
        antrum_mm: how far into the body the PV antra reach.
        grid_mm: resolution of the opening.
        min_ml: smallest protrusion considered.

    Raises:
        ValueError: an empty cavity.
    """
    from scipy.ndimage import distance_transform_edt, label
    from scipy.spatial import cKDTree

    sp = np.asarray(spacing, dtype=float)
    box = bbox(np.asarray(cavity))
    if box is None:
        raise ValueError("the cavity is empty: regions need a cavity label")
    f = np.maximum(np.round(grid_mm / sp).astype(int), 1)
    cav = np.pad(np.asarray(cavity[box])[:: f[0], :: f[1], :: f[2]] != 0, 1)
    csp = sp * f
    corner = np.asarray([s.start for s in box]) - f  # full-grid index of coarse voxel 0 (after the pad)
    depth = distance_transform_edt(cav, sampling=csp)
    if body_radius_mm is None:
        body_radius_mm = BODY_RADIUS_SHARE * float(depth.max())
    core = depth > body_radius_mm
    body = cav & (distance_transform_edt(~core, sampling=csp) <= body_radius_mm) if core.any() else cav
    comps, n = label(cav & ~body, structure=np.ones((3, 3, 3), bool))
    idx = np.argwhere(cav)
    world = (idx * f + corner) * sp + np.asarray(origin, dtype=float)
    pts = to_patient(world, origin, direction=direction)
    vpts = to_patient(np.asarray(vertices, dtype=float), origin, direction=direction)
    in_body = body[tuple(idx.T)]
    centre = pts[in_body].mean(axis=0) if in_body.any() else pts.mean(axis=0)
    extent = np.maximum(pts[in_body if in_body.any() else slice(None)].std(axis=0), 1e-6)
    comp_of = comps[tuple(idx.T)]
    lookup = _protrusion_regions(
        comp_of, pts, centre, n, voxel_ml=float(np.prod(csp)) / 1000.0, min_ml=min_ml
    )
    _, nearest = cKDTree(pts).query(vpts, workers=1)
    region = lookup[comp_of[nearest]]
    rel = (vpts - centre) / extent
    axis = np.argmax(np.abs(rel), axis=1)
    sign = np.sign(rel[np.arange(len(rel)), axis]) >= 0
    by_dir = np.select(
        [(axis == 2) & sign, axis == 2, (axis == 1) & sign, axis == 1, (axis == 0) & sign],
        [4, 5, 6, 7, 9],
        default=8,
    )
    antra = np.isin(region, (1, 2))
    rest = region == 0
    if antra.any() and antrum_mm > 0 and rest.any():
        dist, near = cKDTree(vpts[antra]).query(vpts[rest], distance_upper_bound=antrum_mm, workers=1)
        hit = np.isfinite(dist)
        sub = np.flatnonzero(rest)[hit]
        region[sub] = region[antra][near[hit]]
    rest = region == 0
    region[rest] = by_dir[rest]
    return region.astype(np.int32)
