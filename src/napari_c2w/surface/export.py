"""Writing a surface map: VTK legacy (.vtk), VTK XML PolyData (.vtp), PLY, and the region CSV.

Points are in patient (x, y, z) mm (the volume's origin and direction applied), the
convention of ParaView, CemrgApp and openCARP. The meshes are written and read back by VTK's
own writers and readers (the optional ``vtk`` wheel: ``pip install "napari-c2w[surface]"``),
so every tool built on VTK (ParaView, pyvista, 3D Slicer, MITK/CemrgApp) opens them:

* ``.vtp``: VTK XML PolyData, binary (appended, zlib-compressed) arrays;
* ``.vtk``: legacy VTK **4.2** binary ``POLYDATA`` (``vtkPolyDataReader``, which MITK and
  CemrgApp use; VTK 8 refuses VTK 9's default 5.1 layout);
* ``.ply``: binary PLY with the scar as vertex colours (:data:`PLY_SCAR_RGB`, else
  :data:`PLY_OTHER_RGB`): VTK's PLY reader knows positions, normals, colours and texture
  coordinates only, so the named point arrays travel in ``.vtk`` and ``.vtp``.

Every per-vertex array of the surface map is a point array of ``.vtk`` and ``.vtp`` (floats as
Float32, flags and region ids as Int32; ``max_iir`` is the active scalar, what CemrgApp
colours by). NaN (``thickness_mm`` where the segment meets no wall) is an IEEE NaN in the
binary data, which VTK reads back as NaN; no ASCII ``nan`` token is written (VTK before 9.3
stopped parsing an ASCII array there and read an empty mesh).
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .._fs import AtomicFiles, confined
from ..errors import MissingDependency
from ..io.export import Exported, ExportFormat
from ..labels import COLORS
from .build import SurfaceMap, region_columns

FORMATS = ("vtk", "vtp", "ply", "csv")
#: The formats written with VTK (the ``[surface]`` extra).
MESH_FORMATS = ("vtk", "vtp", "ply")
#: Vertex colour of scar in ``.ply`` (the network's scar >= 0.5, else ``scar_iir``): the scar label's.
PLY_SCAR_RGB = tuple(COLORS["scar"][:3])
#: Vertex colour of the rest of the surface in ``.ply``.
PLY_OTHER_RGB = (200, 200, 200)
#: What to install for the meshes.
VTK_INSTALL = 'pip install "napari-c2w[surface]"'

_VTK_LOCK = threading.Lock()  # VTK's warning switch is global


def require_vtk(formats: Sequence[str] = MESH_FORMATS) -> None:
    """Raise unless VTK is importable when ``formats`` hold a mesh format.

    Raises:
        MissingDependency: saying what to install (before anything is written).
    """
    if not any(f in MESH_FORMATS for f in formats):
        return
    try:
        import vtkmodules.vtkIOLegacy
        import vtkmodules.vtkIOPLY
        import vtkmodules.vtkIOXML  # noqa: F401
    except ImportError as err:
        raise MissingDependency(
            f"surface meshes (.vtk, .vtp, .ply) are written with VTK, which is not installed ({err}). "
            f"Install it with: {VTK_INSTALL} (the vtk wheel, about 140 MB), or ask for the region "
            "table alone (--surface-format csv; formats=('csv',))."
        ) from err


@contextlib.contextmanager
def _vtk_quiet() -> Iterator[None]:
    """VTK prints its errors on stderr; ours name the file instead (the writer's error code, the
    points and arrays that read back)."""
    from vtkmodules.vtkCommonCore import vtkObject

    with _VTK_LOCK:
        shown = vtkObject.GetGlobalWarningDisplay()
        vtkObject.GlobalWarningDisplayOff()
        try:
            yield
        finally:
            vtkObject.SetGlobalWarningDisplay(shown)


def _point_data(surface: SurfaceMap) -> dict[str, np.ndarray]:
    out = {}
    for name, arr in surface.arrays.items():
        a = np.asarray(arr)
        out[name] = a.astype(np.int32) if a.dtype.kind in "iub" else a.astype(np.float32)
    return out


def _scar_rgb(surface: SurfaceMap) -> np.ndarray:
    """The ``.ply`` vertex colours: :data:`PLY_SCAR_RGB` where the surface is scar."""
    scar = surface.flags["network"] if "network" in surface.flags else surface.flags["iir"]
    rgb = np.empty((len(scar), 3), np.uint8)
    rgb[:] = PLY_OTHER_RGB
    rgb[scar] = PLY_SCAR_RGB
    return rgb


def _polydata(points: np.ndarray, faces: np.ndarray, point_data: dict[str, np.ndarray]):
    from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

    poly = vtkPolyData()
    pts = vtkPoints()
    pts.SetData(numpy_to_vtk(np.ascontiguousarray(points, np.float32), deep=True))
    poly.SetPoints(pts)
    cells = vtkCellArray()
    offsets = np.arange(0, 3 * len(faces) + 1, 3, dtype=np.int64)
    connectivity = np.ascontiguousarray(faces, np.int64).ravel()
    cells.SetData(
        numpy_to_vtkIdTypeArray(offsets, deep=True), numpy_to_vtkIdTypeArray(connectivity, deep=True)
    )
    poly.SetPolys(cells)
    for name, values in point_data.items():
        arr = numpy_to_vtk(np.ascontiguousarray(values), deep=True)
        arr.SetName(name)
        poly.GetPointData().AddArray(arr)
    if "max_iir" in point_data:
        poly.GetPointData().SetActiveScalars("max_iir")
    return poly


def _writer(kind: str):
    from vtkmodules.vtkIOLegacy import vtkPolyDataWriter
    from vtkmodules.vtkIOPLY import vtkPLYWriter
    from vtkmodules.vtkIOXML import vtkXMLPolyDataWriter

    if kind == "vtp":
        writer = vtkXMLPolyDataWriter()
        writer.SetDataModeToAppended()
        writer.EncodeAppendedDataOff()  # raw binary after the XML, as ParaView writes it
        writer.SetCompressorTypeToZLib()
    elif kind == "vtk":
        writer = vtkPolyDataWriter()
        writer.SetFileVersion(42)  # VTK 8 (MITK, CemrgApp builds) cannot read 5.1
        writer.SetFileTypeToBinary()
        writer.SetHeader("napari-c2w atrial surface, patient x y z mm")
    else:
        writer = vtkPLYWriter()
        writer.SetFileTypeToBinary()
        writer.SetArrayName("RGB")
        writer.SetColorModeToDefault()
        writer.AddComment("napari-c2w atrial surface, patient x y z mm")
        writer.AddComment(f"colour: {PLY_SCAR_RGB} scar (network >= 0.5, else IIR), {PLY_OTHER_RGB} the rest")
        writer.AddComment("the per-vertex arrays are in the .vtk/.vtp files")
    return writer


def _write_mesh(path: Path, kind: str, poly) -> None:
    """Write ``poly`` with VTK's writer for ``kind``; raise an OSError naming ``path`` if it fails."""
    from vtkmodules.vtkCommonMisc import vtkErrorCode

    writer = _writer(kind)
    writer.SetFileName(str(path))
    writer.SetInputData(poly)
    with _vtk_quiet():
        ok = writer.Write()
    code = writer.GetErrorCode()
    if not ok or code:
        why = vtkErrorCode.GetStringFromErrorCode(code) if code else "the writer failed"
        raise OSError(errno.EIO, f"VTK could not write it ({why})", str(path))


def write_region_csv(surface: SurfaceMap, path: str | Path, files: AtomicFiles | None = None) -> Path:
    """The per-region table (:func:`.build.region_columns`) as CSV; NaN is an empty cell.

    With ``files`` the CSV joins that set of files (:func:`napari_c2w.review.report.write_csv`).
    """
    from ..review.report import write_csv

    return write_csv(surface.region_table(), path, region_columns(), overwrite=True, files=files)


def write_surface(
    surface: SurfaceMap,
    out_stem: str | Path,
    formats: Sequence[str] = FORMATS,
    overwrite: bool = False,
    files: AtomicFiles | None = None,
) -> list[Path]:
    """Write the surface as ``out_stem.vtk/.vtp/.ply`` and its region table as ``out_stem_regions.csv``.

    Every file is written under a temporary name, read back with VTK and renamed into place
    with the others (:class:`napari_c2w._fs.AtomicFiles`): a kill or a full disk leaves all of
    them or none of the new ones, never a truncated mesh under its final name.

    Args:
        surface: from :func:`.build.build_surface` or :func:`.build.case_surface`.
        out_stem: path without suffix (its folder is created).
        formats: any of ``"vtk"``, ``"vtp"``, ``"ply"`` (these need VTK) and ``"csv"``.
        overwrite: replace existing files (with ``files``, that set's setting counts).
        files: a set of files to join; the files are committed with it, not before.

    Returns:
        The written paths, in the order of ``formats``.

    Raises:
        ValueError: an unknown format.
        MissingDependency: a mesh format without VTK installed (nothing is written).
        FileExistsError: a file exists and ``overwrite`` is False.
        OSError: a file could not be written whole (e.g. a full disk); none is left.
    """

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown surface format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    require_vtk(formats)
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
        arrays = {"RGB": _scar_rgb(surface)} if kind == "ply" else data
        tmp = files.temp(path, keep_name=True, verify=lambda p, a=arrays: _check_mesh(p, points, faces, a))
        _write_mesh(tmp, kind, _polydata(points, faces, arrays))
    return paths


def read_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A ``.vtk``, ``.vtp`` or ``.ply`` surface of triangles as VTK reads it: points, triangles
    and point arrays (a ``.ply``'s colours are its ``RGB`` array).

    Raises:
        MissingDependency: VTK is not installed.
        ValueError: another suffix.
        OSError: a binary PLY shorter than its header says (VTK's PLY reader crashes on one),
            no points, or cells that are not triangles.
    """
    require_vtk()
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkIOLegacy import vtkPolyDataReader
    from vtkmodules.vtkIOPLY import vtkPLYReader
    from vtkmodules.vtkIOXML import vtkXMLPolyDataReader

    path = Path(path)
    readers = {".vtp": vtkXMLPolyDataReader, ".vtk": vtkPolyDataReader, ".ply": vtkPLYReader}
    if path.suffix not in readers:
        raise ValueError(f"{path}: not a surface mesh; expected one of {', '.join(readers)}")
    if path.suffix == ".ply":
        _check_ply_size(path)
    reader = readers[path.suffix]()
    reader.SetFileName(str(path))
    with _vtk_quiet():
        reader.Update()
    poly = reader.GetOutput()
    if poly is None or poly.GetPoints() is None or poly.GetNumberOfPoints() == 0:
        raise OSError(errno.EIO, "VTK reads no points from it", str(path))
    cells = poly.GetPolys()
    offsets = vtk_to_numpy(cells.GetOffsetsArray())
    if np.any(np.diff(offsets) != 3) or poly.GetNumberOfCells() != cells.GetNumberOfCells():
        raise OSError(errno.EIO, "VTK reads cells that are not triangles", str(path))
    pd = poly.GetPointData()
    arrays = {pd.GetArrayName(i): vtk_to_numpy(pd.GetArray(i)) for i in range(pd.GetNumberOfArrays())}
    faces = vtk_to_numpy(cells.GetConnectivityArray()).reshape(-1, 3)
    return vtk_to_numpy(poly.GetPoints().GetData()), faces, arrays


_PLY_SIZES = {"char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2}
_PLY_SIZES |= {"uint16": 2, "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4}
_PLY_SIZES |= {"double": 8, "float64": 8}


def _check_ply_size(path: Path) -> None:
    """Raise unless a binary PLY holds at least what its header declares (lists of 3 or more)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    end = head.find(b"end_header\n")
    lines = head[:end].decode("ascii", "replace").splitlines()
    if end < 0 or not lines or lines[0] != "ply":
        raise OSError(errno.EIO, "its PLY header is incomplete", str(path))
    if not any(line.startswith("format binary") for line in lines):
        return
    need, count = 0, 0
    try:
        for words in (line.split() for line in lines):
            if words[:1] == ["element"]:
                count = int(words[2])
            elif words[:2] == ["property", "list"]:
                need += count * (_PLY_SIZES[words[2]] + 3 * _PLY_SIZES[words[3]])
            elif words[:1] == ["property"]:
                need += count * _PLY_SIZES[words[1]]
    except (KeyError, IndexError, ValueError):
        raise OSError(errno.EIO, "its PLY header is malformed", str(path)) from None
    if path.stat().st_size < end + len(b"end_header\n") + need:
        raise OSError(errno.EIO, "it is shorter than its PLY header says (truncated)", str(path))


def _check_mesh(
    path: Path, points: np.ndarray, faces: np.ndarray, arrays: dict[str, np.ndarray] | None = None
) -> None:
    """Raise unless VTK reads back the points, triangles and point arrays that were written."""
    got_points, got_faces, got = read_mesh(path)
    if (len(got_points), len(got_faces)) != (len(points), len(faces)):
        raise OSError(
            errno.EIO, f"VTK reads back {len(got_points)} points and {len(got_faces)} triangles", str(path)
        )
    if not np.array_equal(got_points, np.asarray(points, np.float32)) or not np.array_equal(got_faces, faces):
        raise OSError(errno.EIO, "VTK reads back other points or triangles than were written", str(path))
    for name, values in (arrays or {}).items():
        back = got.get(name)
        if back is None or not np.array_equal(back.reshape(values.shape), values, equal_nan=True):
            raise OSError(errno.EIO, f"VTK reads back another point array {name!r}", str(path))


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

    def __init__(self, name: str, kinds: Sequence[str]) -> None:
        self.name, self.kinds = name, tuple(kinds)

    def check_output(self, out: Path) -> None:
        require_vtk(self.kinds)

    def write_case(self, case, out: Path, structures: Sequence[str], overwrite: bool) -> Exported:
        with AtomicFiles(overwrite=overwrite, crash="export") as files:
            paths = export_case_surface(
                case, confined(out, case.case_id), (*self.kinds, "csv"), overwrite=overwrite, files=files
            )
        return Exported(case.case_id, [s for s in ("cavity", "wall", "scar") if s in case.labels], paths)

    def finish(self, out: Path, exported: list[Exported], structures: Sequence[str]) -> list[Path]:
        return []


#: The formats :data:`napari_c2w.io.export.FORMATS` lists lazily (``surface``, ``vtk``, ``vtp``, ``ply``).
SURFACE = SurfaceFormat("surface", ("vtk", "vtp", "ply"))
VTK = SurfaceFormat("vtk", ("vtk",))
VTP = SurfaceFormat("vtp", ("vtp",))
PLY = SurfaceFormat("ply", ("ply",))
