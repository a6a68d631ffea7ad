"""The surface map of a case: mesh, per-vertex values, regions and their table (one function).

:func:`build_surface` is the one computation behind the Surface widget, ``napari-c2w report
--surface-dir`` and the Python API; :func:`case_surface` calls it on a
:class:`~napari_c2w.io.case.Case`.

Per-vertex arrays (:data:`POINT_ARRAYS`):

* ``max_iir``: maximum IIR along the normal, -1..+3 mm (CemrgApp's projection);
* ``scar_iir`` / ``scar_sd``: 1 where ``max_iir`` exceeds the IIR threshold / where the
  maximum intensity exceeds the blood pool's mean + k·SD;
* ``network_scar``: the network's scar (probability, or the binary mask interpolated)
  projected the same way (absent without a scar label);
* ``thickness_mm``: wall thickness at the vertex (NaN where the segment meets no wall;
  absent without a wall label);
* ``region``: the region id (:data:`.regions.REGIONS`).

Surface burdens are area-weighted shares of flagged vertices.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from .mesh import EDGE_MM, SMOOTH_MM, Mesh, endocardial_mesh, to_patient
from .project import area_burden_pct, project_max
from .regions import REGIONS, parcellate
from .scar_intensity import ERODE_MM, IIR_FIBROSIS, SD_K, BloodPool, blood_pool

POINT_ARRAYS = ("max_iir", "scar_iir", "scar_sd", "network_scar", "thickness_mm", "region")
NETWORK_THRESHOLD = 0.5
REGION_COLUMNS = (
    "region_id",
    "region",
    "vertices",
    "area_mm2",
    "iir_burden_pct",
    "sd_burden_pct",
    "network_burden_pct",
    "thickness_mean_mm",
    "max_iir_mean",
)


@dataclasses.dataclass
class SurfaceMap:
    """The endocardial surface of a case with its per-vertex arrays.

    Attributes:
        mesh: vertices in world mm (z, y, x), faces, outward normals.
        arrays: per-vertex arrays by name (see the module docstring).
        blood: blood-pool statistics the IIR is relative to.
        iir: IIR threshold of ``scar_iir``.
        sd_k: k of ``scar_sd``.
        origin: world position of voxel (0, 0, 0) (z, y, x, mm).
        direction: the volume's ITK direction (9 numbers).
    """

    mesh: Mesh
    arrays: dict[str, np.ndarray]
    blood: BloodPool
    iir: float
    sd_k: float
    origin: tuple[float, float, float]
    direction: tuple[float, ...] | None = None

    def patient_points(self) -> np.ndarray:
        """Vertices in patient (x, y, z) mm, for export."""
        return to_patient(self.mesh.vertices, self.origin, direction=self.direction)

    def burdens(self, areas: np.ndarray | None = None, where: np.ndarray | None = None) -> dict[str, float]:
        """Area-weighted scar burden (%) of each method on the surface (or on ``where``)."""
        a = self.mesh.vertex_areas() if areas is None else areas
        sel = np.ones(len(a), bool) if where is None else where
        out = {
            "iir": area_burden_pct(self.arrays["scar_iir"][sel] > 0, a[sel]),
            "sd": area_burden_pct(self.arrays["scar_sd"][sel] > 0, a[sel]),
            "network": math.nan,
        }
        if "network_scar" in self.arrays:
            out["network"] = area_burden_pct(self.arrays["network_scar"][sel] >= NETWORK_THRESHOLD, a[sel])
        return out

    def region_table(self) -> list[dict]:
        """One row per region: vertices, area, burden per method, mean thickness and IIR."""
        areas = self.mesh.vertex_areas()
        region = self.arrays["region"]
        rows = []
        for rid, name in REGIONS.items():
            sel = region == rid
            b = self.burdens(areas, sel)
            th = self.arrays.get("thickness_mm")
            th_sel = th[sel][np.isfinite(th[sel])] if th is not None else np.zeros(0)
            rows.append(
                {
                    "region_id": rid,
                    "region": name,
                    "vertices": int(sel.sum()),
                    "area_mm2": float(areas[sel].sum()),
                    "iir_burden_pct": b["iir"],
                    "sd_burden_pct": b["sd"],
                    "network_burden_pct": b["network"],
                    "thickness_mean_mm": float(th_sel.mean()) if th_sel.size else math.nan,
                    "max_iir_mean": float(self.arrays["max_iir"][sel].mean()) if sel.any() else math.nan,
                }
            )
        return rows


def build_surface(
    image: np.ndarray,
    cavity: np.ndarray,
    spacing: Sequence[float],
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    direction: Sequence[float] | None = None,
    *,
    wall: np.ndarray | None = None,
    scar: np.ndarray | None = None,
    thickness: np.ndarray | None = None,
    iir: float = IIR_FIBROSIS,
    sd_k: float = SD_K,
    erode_mm: float = ERODE_MM,
    smooth_mm: float = SMOOTH_MM,
    edge_mm: float = EDGE_MM,
    with_regions: bool = True,
    blood: BloodPool | None = None,
) -> SurfaceMap:
    """Mesh the cavity and project the image, network scar and wall thickness onto it.

    Args:
        image: the LGE volume (z, y, x).
        cavity: cavity mask on the image grid.
        spacing, origin: the grid (mm, z, y, x).
        direction: ITK direction of the volume (for regions and export); None is identity.
        wall: wall mask; with it and no ``thickness``, the thickness map is computed.
        scar: the network's scar probability or mask (projected as ``network_scar``).
        thickness: a wall-thickness map already computed (mm at wall voxels).
        iir: IIR threshold of ``scar_iir``.
        sd_k: k of ``scar_sd`` (mean + k·SD of the blood pool).
        erode_mm: cavity erosion giving the blood pool.
        smooth_mm, edge_mm: mesh smoothing and edge length (see :func:`.mesh.endocardial_mesh`).
        with_regions: parcellate (else every vertex gets region 0).
        blood: blood-pool statistics already computed.

    Raises:
        ValueError: shapes differ from the image's, an empty cavity, or a bad threshold.
    """
    shape = np.shape(image)
    for name, arr in (("cavity", cavity), ("wall", wall), ("scar", scar), ("thickness", thickness)):
        if arr is not None and np.shape(arr) != shape:
            raise ValueError(f"the {name} has shape {np.shape(arr)} but the image has {shape}")
    if iir <= 0:
        raise ValueError(f"the IIR threshold must be > 0, not {iir}")
    if blood is None:
        blood = blood_pool(image, cavity, spacing, erode_mm)
    if blood.mean <= 0:
        raise ValueError(f"the blood pool's mean intensity is {blood.mean:g}; the IIR needs a positive one")
    mesh = endocardial_mesh(cavity, spacing, origin, smooth_mm=smooth_mm, edge_mm=edge_mm)
    peak = project_max(image, mesh, spacing, origin)
    arrays: dict[str, np.ndarray] = {
        "max_iir": (peak / blood.mean).astype(np.float32),
        "scar_iir": (peak > iir * blood.mean).astype(np.uint8),
        "scar_sd": (peak > blood.mean + sd_k * blood.sd).astype(np.uint8),
    }
    if scar is not None:
        arrays["network_scar"] = project_max(scar, mesh, spacing, origin)
    if thickness is None and wall is not None and np.any(wall):
        from ..review.quantify import wall_thickness

        thickness = wall_thickness(cavity, wall, spacing)
    if thickness is not None:
        th = project_max(thickness, mesh, spacing, origin, inside_mm=0.0, order=0)
        arrays["thickness_mm"] = np.where(th > 0, th, np.nan).astype(np.float32)
    arrays["region"] = (
        parcellate(mesh.vertices, cavity, spacing, origin, direction)
        if with_regions
        else np.zeros(mesh.n_vertices, np.int32)
    )
    return SurfaceMap(
        mesh,
        arrays,
        blood,
        float(iir),
        float(sd_k),
        tuple(float(o) for o in origin),
        None if direction is None else tuple(float(d) for d in direction),
    )


def case_surface(case, **kwargs) -> SurfaceMap:
    """:func:`build_surface` of a :class:`~napari_c2w.io.case.Case` (its cavity, wall and scar).

    Raises:
        ValueError: the case has no cavity label.
    """
    labels = case.labels
    if "cavity" not in labels:
        raise ValueError(f"case {case.case_id} has no cavity label; the surface is built from the cavity")
    vol = case.image
    return build_surface(
        vol.array,
        labels["cavity"],
        vol.spacing,
        vol.origin,
        vol.direction,
        wall=labels.get("wall"),
        scar=labels.get("scar"),
        **kwargs,
    )
