"""Anatomically implausible annotation: scar outside the wall band, wall far from the cavity.

Post-ablation scar lies in the LA wall, so scar voxels outside the wall band
(:mod:`.band`) are implausible: *beyond the wall* when they are outside the cavity,
*deep in the cavity* when inside it. Wall voxels farther than ``wall_max_distance_mm``
from the cavity are flagged as *wall far from cavity*. Flagged voxels are grouped into
3D connected components (26-connectivity by default) and each component is described
by a :class:`Finding`; :class:`Findings` also holds a label image of the components
for display.

Only crops are processed (the band's crop, the scar's and the wall's bounding boxes),
so a full 88x576x576 case takes a fraction of a second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from ..masks.band import Band
from ..masks.geometry import Box, bbox, offset, relative, union
from ..quantify.band import BandSpec

#: Wall voxels farther than this from the cavity (mm) are flagged by default.
WALL_MAX_MM = 6.0
KINDS = ("beyond wall", "deep in cavity", "wall far from cavity")
Progress = Callable[[float, str], None]


@dataclasses.dataclass
class Finding:
    """One connected component of implausible voxels.

    Attributes:
        id: component id (its value in :attr:`Findings.labels`), from 1.
        structure: ``"scar"`` or ``"wall"``.
        kind: one of :data:`KINDS`.
        voxels: number of voxels.
        volume_mm3: volume in mm³.
        centroid_voxel: centroid as a (z, y, x) voxel index (float).
        centroid_mm: centroid in world mm, ``origin + index * spacing`` (napari's frame).
        bbox: (start, stop) voxel indices per axis (z, y, x).
        z: the axial slice to show (the one holding most of the component).
        min_distance_mm: smallest distance of its voxels to the band (for wall: to the
            band without the wall label).
        max_distance_mm: largest such distance.
    """

    id: int
    structure: str
    kind: str
    voxels: int
    volume_mm3: float
    centroid_voxel: tuple[float, float, float]
    centroid_mm: tuple[float, float, float]
    bbox: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
    z: int
    min_distance_mm: float
    max_distance_mm: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Findings:
    """All implausible components of a case, with their label image (on a crop).

    Attributes:
        items: the components, scar first, each sorted by decreasing size.
        labels: int32 component ids on the crop ``box`` (0 = nothing flagged).
        box: the crop of ``labels`` in the full grid.
        shape: the full grid's shape.
        spacing: voxel size in mm.
        band: the wall band used.
    """

    items: list[Finding]
    labels: np.ndarray
    box: Box
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    band: Band

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def get(self, component_id: int) -> Finding:
        for f in self.items:
            if f.id == component_id:
                return f
        raise KeyError(f"no finding with id {component_id}")

    def select(self, structure: str | None = None, kind: str | None = None) -> list[Finding]:
        return [
            f
            for f in self.items
            if (structure is None or f.structure == structure) and (kind is None or f.kind == kind)
        ]

    def voxels(self, structure: str | None = None, kind: str | None = None) -> int:
        return sum(f.voxels for f in self.select(structure, kind))

    def label_image(self) -> np.ndarray:
        """The component ids on the full grid (int32), e.g. for a napari Labels layer."""
        out = np.zeros(self.shape, dtype=np.int32)
        out[self.box] = self.labels
        return out

    def mask(self, ids: Sequence[int] | None = None, structure: str | None = None) -> np.ndarray:
        """Full-grid boolean mask of the given components (default: all, or all of ``structure``)."""
        if ids is None:
            ids = [f.id for f in self.select(structure)]
        out = np.zeros(self.shape, dtype=bool)
        out[self.box] = np.isin(self.labels, np.asarray(list(ids), dtype=np.int32))
        return out

    def summary(self) -> dict:
        """Counts and voxels per kind, JSON-friendly."""
        out = {}
        for kind in KINDS:
            sel = [f for f in self.items if f.kind == kind]
            out[kind] = {
                "components": len(sel),
                "voxels": sum(f.voxels for f in sel),
                "volume_mm3": float(sum(f.volume_mm3 for f in sel)),
            }
        return out

    def table(self) -> list[dict]:
        return [f.as_dict() for f in self.items]


def _structure(connectivity: int) -> np.ndarray:
    from scipy.ndimage import generate_binary_structure

    if connectivity not in (1, 2, 3):
        raise ValueError(f"connectivity must be 1 (6-), 2 (18-) or 3 (26-neighbours), not {connectivity}")
    return generate_binary_structure(3, connectivity)


def _describe(
    flag: np.ndarray,
    box: Box,
    structure: str,
    *,
    band: Band,
    first_id: int,
    conn: np.ndarray,
    origin: np.ndarray,
    kind_of: Callable[[np.ndarray, np.ndarray], list[str]],
    distance: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, list[Finding]]:
    """Label ``flag`` (a crop at ``box``) into components and describe each."""
    from scipy.ndimage import find_objects, label

    lab, n = label(flag, structure=conn)
    if n == 0:
        return lab.astype(np.int32), []
    local = np.argwhere(lab)
    ids = lab[tuple(local.T)]
    index = local + np.asarray(offset(box))
    counts = np.bincount(ids, minlength=n + 1)[1:]
    centroid = np.stack([np.bincount(ids, weights=index[:, a], minlength=n + 1)[1:] for a in range(3)], 1)
    centroid /= counts[:, None]
    dist = distance(index)
    order = np.argsort(ids, kind="stable")
    starts = np.searchsorted(ids[order], np.arange(1, n + 1))
    dmin, dmax = np.minimum.reduceat(dist[order], starts), np.maximum.reduceat(dist[order], starts)
    kinds = kind_of(ids, index)
    nz = flag.shape[0]
    per_slice = np.bincount(ids * nz + local[:, 0], minlength=(n + 1) * nz).reshape(n + 1, nz)[1:]
    zs = per_slice.argmax(axis=1) + box[0].start
    spacing = np.asarray(band.spacing)
    objects = find_objects(lab)
    rank = np.argsort(-counts, kind="stable")
    new_ids = np.zeros(n + 1, dtype=np.int32)
    new_ids[rank + 1] = np.arange(first_id, first_id + n, dtype=np.int32)
    items = []
    for i in rank:
        sl = objects[i]
        items.append(
            Finding(
                id=int(new_ids[i + 1]),
                structure=structure,
                kind=kinds[i],
                voxels=int(counts[i]),
                volume_mm3=float(counts[i] * np.prod(spacing)),
                centroid_voxel=tuple(float(c) for c in centroid[i]),
                centroid_mm=tuple(float(c) for c in origin + centroid[i] * spacing),
                bbox=tuple(
                    (int(s.start + b.start), int(s.stop + b.start)) for s, b in zip(sl, box, strict=True)
                ),
                z=int(zs[i]),
                min_distance_mm=float(dmin[i]),
                max_distance_mm=float(dmax[i]),
            )
        )
    return new_ids[lab], items


def find_implausible(  # noqa: PLR0917 (the documented positional order)
    cavity: np.ndarray,
    spacing: Sequence[float],
    scar: np.ndarray | None = None,
    wall: np.ndarray | None = None,
    band_spec: BandSpec | None = None,
    wall_max_distance_mm: float = WALL_MAX_MM,
    *,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    band: Band | None = None,
    connectivity: int = 3,
    progress: Progress | None = None,
) -> Findings:
    """Find implausible scar and wall voxels, grouped into connected components.

    Args:
        cavity: (z, y, x) LA cavity mask.
        spacing: voxel size in mm (z, y, x).
        scar: scar mask; its voxels outside the band are flagged.
        wall: wall mask; united with the band, and its voxels farther than
            ``wall_max_distance_mm`` from the cavity are flagged.
        band_spec: the band's reach (default :class:`napari_c2w.quantify.BandSpec`).
        wall_max_distance_mm: largest plausible distance (mm) of a wall voxel from the cavity.
        origin: world position (mm) of voxel (0, 0, 0), for the centroids in mm.
        band: a band already computed for this cavity (and wall), to reuse.
        connectivity: 1, 2 or 3 (6-, 18- or 26-connected components).
        progress: called with (fraction done, step name).

    Returns:
        The :class:`Findings`: scar components (ids 1..) then wall components.
    """
    conn = _structure(connectivity)
    for name, mask in (("scar", scar), ("wall", wall)):
        if mask is not None and mask.shape != cavity.shape:
            raise ValueError(f"the {name} mask has shape {mask.shape} but the cavity has {cavity.shape}")
    origin = np.asarray(origin, dtype=float)
    if band is None:
        band = (band_spec or BandSpec()).band(cavity, spacing, wall=wall)
    _report(progress, 0.4, "band")
    sbox, wbox = bbox(scar), bbox(wall)
    box = union(sbox, wbox) or (slice(0, 0),) * 3
    labels = np.zeros(tuple(s.stop - s.start for s in box), dtype=np.int32)
    items: list[Finding] = []
    if sbox is not None:
        lab, found = _scar_outside_band(scar, sbox, band, conn, origin)
        labels[relative(sbox, box)] = lab
        items += found
    _report(progress, 0.7, "scar")
    if wbox is not None:
        lab, found = _wall_far_from_cavity(
            wall, wbox, band, conn, origin, wall_max_distance_mm, len(items) + 1
        )
        rel = relative(wbox, box)
        labels[rel] = np.where(lab > 0, lab, labels[rel])
        items += found
    _report(progress, 1.0, "wall")
    return Findings(items=items, labels=labels, box=box, shape=band.shape, spacing=band.spacing, band=band)


def _report(progress: Progress | None, fraction: float, step: str) -> None:
    if progress:
        progress(fraction, step)


def _scar_outside_band(
    scar: np.ndarray, sbox: Box, band: Band, conn, origin
) -> tuple[np.ndarray, list[Finding]]:
    """Scar components outside the band, each called deep in the cavity or beyond the wall."""
    flag = (np.asarray(scar[sbox]) != 0) & ~band.on(sbox)

    def scar_kind(ids, index):
        votes = np.bincount(ids, weights=band.in_cavity(index), minlength=ids.max() + 1)[1:]
        sizes = np.bincount(ids)[1:]
        return ["deep in cavity" if v * 2 > s else "beyond wall" for v, s in zip(votes, sizes, strict=True)]

    return _describe(
        flag,
        sbox,
        "scar",
        band=band,
        first_id=1,
        conn=conn,
        origin=origin,
        kind_of=scar_kind,
        distance=band.distance_to_band,
    )


def _wall_far_from_cavity(  # noqa: PLR0917 (private step of find_implausible)
    wall: np.ndarray, wbox: Box, band: Band, conn, origin, max_mm: float, first_id: int
) -> tuple[np.ndarray, list[Finding]]:
    """Wall voxels outside the band and the cavity farther than ``max_mm`` from the cavity."""
    cand = (np.asarray(wall[wbox]) != 0) & ~band.on(wbox, "core") & ~band.on(wbox, "cavity")
    flag = np.zeros_like(cand)
    if cand.any():
        local = np.argwhere(cand)
        far = band.signed_distance(local + np.asarray(offset(wbox))) > max_mm
        flag[tuple(local[far].T)] = True

    def wall_kind(ids, index):
        return ["wall far from cavity"] * int(ids.max())

    return _describe(
        flag,
        wbox,
        "wall",
        band=band,
        first_id=first_id,
        conn=conn,
        origin=origin,
        kind_of=wall_kind,
        distance=lambda index: band.distance_to_band(index, core=True),
    )
