"""Writing a surface map: VTK legacy (.vtk), VTK XML PolyData (.vtp), PLY, and the region CSV.

Points are in patient (x, y, z) mm (the volume's origin and direction applied), the
convention of ParaView, CemrgApp and openCARP; every per-vertex array travels as a point
array. ``.vtk`` (legacy ASCII/binary POLYDATA, what CemrgApp reads) and ``.ply`` go
through meshio, a light, pure-Python, maintained mesh I/O library (pyvista would pull the
~100 MB VTK wheel in); meshio has no ``.vtp`` writer, so that file is written here as
VTK XML PolyData with ASCII data arrays (a short, documented format:
https://docs.vtk.org/en/latest/design_documents/VTKFileFormats.html).
"""

from __future__ import annotations

import errno
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._fs import AtomicFiles, confined
from ..io.export import Exported, ExportFormat, register
from .build import REGION_COLUMNS, SurfaceMap

FORMATS = ("vtk", "vtp", "ply", "csv")


def _point_data(surface: SurfaceMap) -> dict[str, np.ndarray]:
    out = {}
    for name, arr in surface.arrays.items():
        a = np.asarray(arr)
        out[name] = a.astype(np.int32) if a.dtype.kind in "iub" else a.astype(np.float32)
    return out


def _write_vtp(path: Path, points: np.ndarray, faces: np.ndarray, point_data: dict[str, np.ndarray]) -> None:
    def array(parent, name: str | None, values: np.ndarray, dtype: str, components: int = 1):
        el = ET.SubElement(parent, "DataArray", type=dtype, format="ascii")
        if name:
            el.set("Name", name)
        if components > 1:
            el.set("NumberOfComponents", str(components))
        el.text = " ".join(np.char.mod("%.7g" if dtype.startswith("Float") else "%d", values.ravel()))
        return el

    root = ET.Element("VTKFile", type="PolyData", version="0.1", byte_order="LittleEndian")
    piece = ET.SubElement(
        ET.SubElement(root, "PolyData"),
        "Piece",
        NumberOfPoints=str(len(points)),
        NumberOfPolys=str(len(faces)),
    )
    pd = ET.SubElement(piece, "PointData")
    for name, arr in point_data.items():
        array(pd, name, arr, "Float32" if arr.dtype.kind == "f" else "Int32")
    array(ET.SubElement(piece, "Points"), None, points.astype(np.float32), "Float32", 3)
    polys = ET.SubElement(piece, "Polys")
    array(polys, "connectivity", faces.astype(np.int64), "Int64")
    array(polys, "offsets", 3 * np.arange(1, len(faces) + 1, dtype=np.int64), "Int64")
    ET.ElementTree(root).write(path, xml_declaration=True, encoding="utf-8")


def write_region_csv(surface: SurfaceMap, path: str | Path, files: AtomicFiles | None = None) -> Path:
    """The per-region table (:data:`.build.REGION_COLUMNS`) as CSV; NaN is an empty cell.

    With ``files`` the CSV joins that set of files (:func:`napari_c2w.review.report.write_csv`).
    """
    from ..review.report import write_csv

    return write_csv(surface.region_table(), path, REGION_COLUMNS, overwrite=True, files=files)


def write_surface(
    surface: SurfaceMap,
    out_stem: str | Path,
    formats: Sequence[str] = FORMATS,
    overwrite: bool = False,
    files: AtomicFiles | None = None,
) -> list[Path]:
    """Write the surface as ``out_stem.vtk/.vtp/.ply`` and its region table as ``out_stem_regions.csv``.

    Every file is written under a temporary name, read back and renamed into place with the
    others (:class:`napari_c2w._fs.AtomicFiles`): a kill or a full disk leaves all of them or
    none of the new ones, never a truncated mesh under its final name.

    Args:
        surface: from :func:`.build.build_surface` or :func:`.build.case_surface`.
        out_stem: path without suffix (its folder is created).
        formats: any of ``"vtk"``, ``"vtp"``, ``"ply"``, ``"csv"``.
        overwrite: replace existing files (with ``files``, that set's setting counts).
        files: a set of files to join; the files are committed with it, not before.

    Returns:
        The written paths, in the order of ``formats``.

    Raises:
        ValueError: an unknown format.
        FileExistsError: a file exists and ``overwrite`` is False.
        OSError: a file could not be written whole (e.g. a full disk); none is left.
    """

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown surface format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    stem = Path(out_stem)
    paths = [
        stem.with_name(stem.name + ("_regions.csv" if f == "csv" else f".{f}"))
        for f in dict.fromkeys(formats)
    ]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not (files.overwrite if files is not None else overwrite):
        raise FileExistsError(f"{', '.join(existing)} exist(s); pass --overwrite (overwrite=True) to replace")
    if files is None:
        with AtomicFiles(overwrite=overwrite) as own:
            return write_surface(surface, out_stem, formats, files=own)
    points = surface.patient_points()
    faces = np.asarray(surface.mesh.faces)
    data = _point_data(surface)
    for path in paths:
        kind = path.suffix.lstrip(".")
        if kind == "csv":
            write_region_csv(surface, path, files=files)
            continue
        tmp = files.temp(path, keep_name=True, verify=lambda p: _check_mesh(p, len(points), len(faces)))
        if kind == "vtp":
            _write_vtp(tmp, points, faces, data)
        else:
            _write_meshio(tmp, points, faces, data, kind)
    return paths


def _write_meshio(path: Path, points: np.ndarray, faces: np.ndarray, data: dict, kind: str) -> None:
    import meshio

    mesh = meshio.Mesh(points, [("triangle", faces)], point_data=data)
    meshio.write(path, mesh, file_format="vtk42" if kind == "vtk" else kind, binary=False)


def _check_mesh(path: Path, n_points: int, n_faces: int) -> None:
    """Raise unless the written mesh file reads back with all its points and triangles."""
    if path.suffix == ".vtp":
        piece = ET.parse(path).getroot().find("PolyData/Piece")
        held = (int(piece.get("NumberOfPoints")), int(piece.get("NumberOfPolys")))
    else:
        import meshio

        mesh = meshio.read(path)
        held = (len(mesh.points), sum(len(c.data) for c in mesh.cells if c.type == "triangle"))
    if held != (n_points, n_faces):
        raise OSError(errno.EIO, f"it reads back {held[0]} points and {held[1]} triangles", str(path))


def export_case_surface(case, out_stem: str | Path, formats: Sequence[str] = FORMATS, **kwargs) -> list[Path]:
    """Build a case's surface (:func:`.build.case_surface`) and write it (:func:`write_surface`).

    ``overwrite``, ``files`` (see :func:`write_surface`) and the :func:`.build.build_surface`
    options go in ``kwargs``.
    """
    from .build import case_surface

    overwrite = kwargs.pop("overwrite", False)
    files = kwargs.pop("files", None)
    return write_surface(case_surface(case, **kwargs), out_stem, formats, overwrite=overwrite, files=files)


class SurfaceFormat(ExportFormat):
    """``napari-c2w export --format surface|vtk|vtp|ply``: each case's endocardial surface with its
    scar and region point arrays (``surface``: ``<case>.vtk``, ``.vtp`` and ``.ply``; the others
    one mesh format) and its region table (``<case>.csv``)."""

    def __init__(self, name: str, kinds: Sequence[str], help: str) -> None:
        self.name, self.kinds, self.help = name, tuple(kinds), help

    def write_case(self, case, out: Path, structures: Sequence[str], overwrite: bool) -> Exported:
        with AtomicFiles(overwrite=overwrite, crash="export") as files:
            paths = export_case_surface(
                case, confined(out, case.case_id), (*self.kinds, "csv"), overwrite=overwrite, files=files
            )
        return Exported(case.case_id, [s for s in ("cavity", "wall", "scar") if s in case.labels], paths)

    def finish(self, out: Path, exported: list[Exported], structures: Sequence[str]) -> list[Path]:
        return []


register(
    SurfaceFormat(
        "surface",
        ("vtk", "vtp", "ply"),
        "atrial surface with scar/region point arrays: <case>.vtk, .vtp, .ply + region table .csv",
    )
)
register(SurfaceFormat("vtk", ("vtk",), "atrial surface as legacy VTK (CemrgApp) <case>.vtk + region .csv"))
register(SurfaceFormat("vtp", ("vtp",), "atrial surface as VTK XML polydata <case>.vtp + region .csv"))
register(SurfaceFormat("ply", ("ply",), "atrial surface as PLY <case>.ply + region .csv"))
