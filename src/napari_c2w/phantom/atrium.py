"""The left-atrium labels on a grid: cavity, wall (with its thickness) and scar.

Definitions (all distances in mm, voxel centres, ``scipy.ndimage.distance_transform_edt``
with ``sampling=spacing``):

* blood: the smooth union of the LA body, the four pulmonary veins, the appendage and the
  mitral orifice tube (analytic signed distance < 0);
* cavity: blood on the atrial side of the mitral valve plane (``s < 0``);
* wall: voxels outside the blood, on the atrial side of the valve plane, not beside the
  distal part of a vein, with ``d(x) = EDT_to_cavity(x) - h/2 < t(x)``, where ``h`` is the
  smallest voxel spacing (so ``d`` is the distance from the cavity's voxel-face surface) and
  ``t(x)`` in [1, 3] mm is the smooth random thickness field. The wall is ``round(t/h)``
  voxels thick across the surface, and the largest EDT-to-cavity inside it is about ``t``;
* scar: the wall voxels where a lesion field (antral rings around the vein ostia with gaps,
  a few patches elsewhere, a little fibrosis) exceeds its ``1 - f`` quantile, ``f`` being the
  seed's scar fraction of the wall (5-30 %).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage as ndi

from ..masks.geometry import Box, intersect, relative
from .anatomy import Anatomy, Tube
from .fields import F32, Field, Grid, ellipsoid_sdf, segment_sdf, smin, unit

CROP_PAD = 16.0  # mm around the LA complex: wall, noisy-annotation zone, blur


@dataclasses.dataclass
class Atrium:
    """LA label arrays on ``box`` (voxel slices of the grid they were computed on)."""

    box: Box
    blood: np.ndarray  # bool: LA blood incl. the orifice tube (also beyond the valve)
    cavity: np.ndarray  # bool
    wall: np.ndarray  # bool
    scar: np.ndarray  # bool, subset of wall
    thickness: np.ndarray  # float32, t(x) at wall voxels, 0 elsewhere
    edt_out: np.ndarray  # float32 EDT (mm) to the nearest cavity voxel
    info: dict


def body_sdf(a: Anatomy, z, y, x) -> np.ndarray:
    """Signed distance (approx.) to the perturbed LA body ellipsoid."""
    b = a.body
    d = [z - F32(b.centre[0]), y - F32(b.centre[1]), x - F32(b.centre[2])]
    r = b.rot.astype(F32)
    q = [r[i, 0] * d[0] + r[i, 1] * d[1] + r[i, 2] * d[2] for i in range(3)]
    norm = np.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2) + F32(1e-3)
    rho = np.ones_like(norm)
    k = a.bump_k.astype(F32)
    for j in range(len(a.bump_phase)):
        arg = (k[j, 0] * q[0] + k[j, 1] * q[1] + k[j, 2] * q[2]) / norm + F32(a.bump_phase[j])
        rho += F32(a.bump_amp) * np.cos(arg)
    q = [qi / rho for qi in q]
    return ellipsoid_sdf(q[0], q[1], q[2], (0, 0, 0), b.radii) * rho


def _tube_sdf(tube: Tube, z, y, x, cut: float | None = None, pad: float = 0.0):
    """Signed distance to a polyline tube; with ``cut``, also where the arc length exceeds it."""
    best, beyond = None, None
    arc = 0.0
    for i in range(len(tube.points) - 1):
        p, q = tube.points[i], tube.points[i + 1]
        seg, t = segment_sdf(z, y, x, p, q, tube.radii[i], tube.radii[i + 1])
        length = float(np.linalg.norm(q - p))
        if cut is not None and arc + length > cut:
            far = (seg < pad) & (arc + t * length > cut)
            beyond = far if beyond is None else beyond | far
        best = seg if best is None else np.minimum(best, seg)
        arc += length
    return best, beyond


def blood_sdf(a: Anatomy, grid: Grid, box, pad: float) -> tuple[np.ndarray, np.ndarray]:
    """LA blood signed distance on ``box`` and the mask where the vein wall is cut off."""
    shape = tuple(s.stop - s.start for s in box)
    phi = np.full(shape, 1e3, F32)
    nowall = np.zeros(shape, bool)
    lo, hi = a.body.lo_hi()
    lo, hi = a.centre + (lo - a.centre) * 1.3 - 5, a.centre + (hi - a.centre) * 1.3 + 5
    sb = intersect(grid.box(lo, hi), box)
    if sb is not None:
        phi[relative(sb, box)] = body_sdf(a, *grid.coords(sb))
    parts = [(t, a.vein_blend, a.vein_cut[n]) for n, t in a.veins.items()]
    parts += [(a.laa, 2.0 * a.scale, None), (a.orifice, 4.0 * a.scale, None)]
    for tube, k, cut in parts:
        tlo, thi = tube.lo_hi()
        tb = intersect(grid.box(tlo - pad - k, thi + pad + k), box)
        if tb is None:
            continue
        rel = relative(tb, box)
        sdf, beyond = _tube_sdf(tube, *grid.coords(tb), cut=cut, pad=pad)
        phi[rel] = smin(phi[rel], sdf, k)
        if beyond is not None:
            nowall[rel] |= beyond
    return phi, nowall


def valve_distance(a: Anatomy, grid: Grid, box) -> np.ndarray:
    """Signed distance to the mitral valve plane (> 0 on the ventricular side)."""
    z, y, x = grid.coords(box)
    n, m = a.mitral_normal.astype(F32), a.mitral_centre.astype(F32)
    return ((z - m[0]) * n[0] + (y - m[1]) * n[1] + (x - m[2]) * n[2]).astype(F32)


def la_box(a: Anatomy, grid: Grid, pad: float = CROP_PAD):
    return grid.box(a.la_lo - pad, a.la_hi + pad)


def atrium_labels(a: Anatomy, grid: Grid, seed: int, box=None) -> Atrium:
    """Cavity, wall, thickness and scar of anatomy ``a`` on ``grid`` (inside the LA box)."""
    box = box or la_box(a, grid)
    h = float(min(grid.spacing))
    phi, nowall = blood_sdf(a, grid, box, pad=3.5 + h)
    blood = phi < 0
    atrial = valve_distance(a, grid, box) < 0
    cavity = _largest_component(blood & atrial)
    blood &= cavity | ~atrial  # drop specks left by the smooth unions
    edt = ndi.distance_transform_edt(~cavity, sampling=grid.spacing).astype(F32)
    shell = (edt < 3.0 + h / 2) & ~blood & atrial & ~nowall
    idx = np.nonzero(shell)
    pts = _points(grid, box, idx)
    t = a.wall_thickness(pts)
    keep = edt[idx] - h / 2 < t
    idx = tuple(i[keep] for i in idx)
    wall = np.zeros_like(cavity)
    wall[idx] = True
    thickness = np.zeros(cavity.shape, F32)
    thickness[idx] = t[keep]
    scar = np.zeros_like(cavity)
    lesion = lesion_field(a, seed)(pts[keep])
    frac = float(np.random.default_rng([int(seed), 2]).uniform(0.05, 0.30))
    if lesion.size:
        thr = np.quantile(lesion, 1.0 - frac)
        sel = lesion > thr
        scar[tuple(i[sel] for i in idx)] = True
    info = {
        "scar_fraction_target": frac,
        "scar_fraction": float(scar.sum() / max(wall.sum(), 1)),
        "wall_voxels": int(wall.sum()),
    }
    return Atrium(box, blood, cavity, wall, scar, thickness, edt, info)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == np.argmax(sizes)


def _points(grid: Grid, box, idx) -> np.ndarray:
    return np.stack(
        [grid.origin[k] + (idx[k] + box[k].start) * grid.spacing[k] for k in range(3)], axis=1
    ).astype(F32)


def lesion_field(a: Anatomy, seed: int):
    """The ablation-lesion strength function of world points (N, 3) -> (N,)."""
    rng = np.random.default_rng([int(seed), 3])
    rings = []  # (centre, normal, radius, width)
    d = {n: unit(t.points[1] - t.points[0]) for n, t in a.veins.items()}
    for side in ("L", "R"):
        sup, inf = f"{side}SPV", f"{side}IPV"
        if rng.random() < 0.5:  # wide-area circumferential lesion around the ipsilateral pair
            nrm = unit(d[sup] + d[inf])
            c = (a.ostia[sup] + a.ostia[inf]) / 2 + rng.uniform(-3, 1) * nrm * a.scale
            rad = (
                np.linalg.norm(a.ostia[sup] - a.ostia[inf]) / 2
                + a.veins[sup].radii[1]
                + rng.uniform(2, 5) * a.scale
            )
            rings.append((c, nrm, rad, rng.uniform(3.0, 4.5) * a.scale))
        else:
            for v in (sup, inf):
                c = a.ostia[v] + rng.uniform(-3, 1) * d[v] * a.scale
                rad = a.veins[v].radii[1] + rng.uniform(2, 5) * a.scale
                rings.append((c, d[v], rad, rng.uniform(2.5, 4.0) * a.scale))
    blobs = []
    for _ in range(rng.integers(1, 5)):
        u = unit(rng.normal(size=3) + np.array([0.3, 0.8, 0.0]))
        blobs.append((a.centre + a.body_radius(u) * u, rng.uniform(4, 9) * a.scale, rng.uniform(0.5, 0.9)))
    gaps = Field.random(rng, 22 * a.scale, n=10)
    diffuse = Field.random(rng, 12 * a.scale, n=10)
    rough = Field.random(rng, 5 * a.scale, n=10)
    gap_bias = rng.uniform(0.3, 1.2)

    def strength(p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, float)
        ring = np.zeros(len(p))
        for c, nrm, rad, wd in rings:
            v = p - c
            hgt = v @ nrm
            rho = np.linalg.norm(v - hgt[:, None] * nrm, axis=1)
            ring = np.maximum(ring, np.exp(-((rho - rad) ** 2 + hgt**2) / wd**2))
        out = ring * (0.5 + 0.5 * np.tanh(2.0 * gaps.at(p) + gap_bias))
        for c, rad, amp in blobs:
            out = np.maximum(out, amp * np.exp(-np.sum((p - c) ** 2, axis=1) / rad**2))
        return out + 0.2 * diffuse.at(p) + 0.1 * rough.at(p)

    return strength
