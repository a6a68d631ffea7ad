"""The surface map of a case: mesh, per-vertex values, regions and their table (one function).

:func:`build_surface` is the one computation behind the Surface widget, ``napari-c2w report
--surface-dir`` and the Python API; :func:`case_surface` calls it on a
:class:`~napari_c2w.io.case.Case`.

Per-vertex arrays (:func:`point_arrays`):

* ``max_iir``: maximum IIR along the normal, -1..+3 mm (CemrgApp's projection);
* ``scar_<method>`` for each image method of :data:`napari_c2w.quantify.METHODS` (``scar_iir``,
  ``scar_sd``): 1 where the method flags the maximum intensity along the normal;
* ``network_scar``: the network's scar (probability, or the binary mask interpolated)
  projected the same way (absent without a scar label);
* ``thickness_mm``: wall thickness at the vertex (NaN where the segment meets no wall;
  absent without a wall label);
* ``region``: the region id (:data:`.regions.REGIONS`).

Surface burdens are :func:`napari_c2w.quantify.burden_pct` weighted by the vertices' areas.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ..quantify.blood import ERODE_MM, BloodPool, blood_pool
from ..quantify.burden import burden_pct
from ..quantify.methods import METHODS, default_params
from .mesh import EDGE_MM, SMOOTH_MM, Mesh, endocardial_mesh, to_patient
from .project import project_max
from .regions import REGIONS, parcellate


def point_arrays() -> tuple[str, ...]:
    """Names of the per-vertex arrays a surface can carry, in order."""
    image = tuple(f"scar_{m.name}" for m in METHODS.values() if m.source == "image")
    return ("max_iir", *image, "network_scar", "thickness_mm", "region")


def region_columns() -> tuple[str, ...]:
    """Columns of :meth:`SurfaceMap.region_table` (and of the exported region CSV)."""
    burdens = tuple(f"{m}_burden_pct" for m in METHODS)
    return ("region_id", "region", "vertices", "area_mm2", *burdens, "thickness_mean_mm", "max_iir_mean")


@dataclasses.dataclass
class SurfaceMap:
    """The endocardial surface of a case with its per-vertex arrays.

    Attributes:
        mesh: vertices in world mm (z, y, x), faces, outward normals.
        arrays: per-vertex arrays by name (see the module docstring).
        blood: blood-pool statistics the IIR is relative to.
        params: the scar methods' parameters.
        origin: world position of voxel (0, 0, 0) (z, y, x, mm).
        direction: the volume's ITK direction (9 numbers).
        flags: each method's scar flags per vertex (methods that could run).
    """

    mesh: Mesh
    arrays: dict[str, np.ndarray]
    blood: BloodPool
    params: dict[str, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...] | None = None
    flags: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def patient_points(self) -> np.ndarray:
        """Vertices in patient (x, y, z) mm, for export."""
        return to_patient(self.mesh.vertices, self.origin, direction=self.direction)

    def burdens(self, areas: np.ndarray | None = None, where: np.ndarray | None = None) -> dict[str, float]:
        """Area-weighted scar burden (%) of each method on the surface (or on ``where``); NaN for a
        method that could not run."""
        a = self.mesh.vertex_areas() if areas is None else areas
        sel = np.ones(len(a), bool) if where is None else where
        return {m: burden_pct(self.flags[m], sel, a) if m in self.flags else math.nan for m in METHODS}

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
                    **{f"{m}_burden_pct": v for m, v in b.items()},
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
    params: dict[str, float] | None = None,
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
        params: the scar methods' parameters (:func:`napari_c2w.quantify.default_params` for
            those missing).
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
    params = {**default_params(), **(params or {})}
    if blood is None:
        blood = blood_pool(image, cavity, spacing, erode_mm)
    if blood.mean <= 0:
        raise ValueError(f"the blood pool's mean intensity is {blood.mean:g}; the IIR needs a positive one")
    mesh = endocardial_mesh(cavity, spacing, origin, smooth_mm=smooth_mm, edge_mm=edge_mm)
    peak = project_max(image, mesh, spacing, origin)
    arrays: dict[str, np.ndarray] = {"max_iir": (peak / blood.mean).astype(np.float32)}
    network = None if scar is None else project_max(scar, mesh, spacing, origin)
    flags = _method_flags(peak, network, blood, params)
    arrays.update({f"scar_{m}": flags[m].astype(np.uint8) for m in flags if METHODS[m].source == "image"})
    if network is not None:
        arrays["network_scar"] = network
    if thickness is None and wall is not None and np.any(wall):
        from ..quantify.thickness import wall_thickness

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
        params,
        tuple(float(o) for o in origin),
        None if direction is None else tuple(float(d) for d in direction),
        flags,
    )


def _method_flags(
    peak: np.ndarray, network: np.ndarray | None, blood: BloodPool, params: dict[str, float]
) -> dict[str, np.ndarray]:
    """Each method's flags on the vertices: image methods on the projected maximum intensity,
    network methods on the projected network scar (when there is one)."""
    flags = {}
    for m in METHODS.values():
        if m.source == "image":
            flags[m.name] = m.flag(peak, blood, params)
        elif network is not None:
            flags[m.name] = m.flag(network, None, params)
    return flags


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
