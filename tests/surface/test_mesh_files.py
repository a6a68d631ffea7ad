"""Surface meshes open in VTK itself (ParaView, pyvista, MITK/CemrgApp read through it).

Each file is read back with VTK's own readers (vtkXMLPolyDataReader, vtkPolyDataReader,
vtkPLYReader): points, triangles and every point array, a NaN thickness included.
"""

from __future__ import annotations

import re
import sys
import warnings

import numpy as np
import pytest

from napari_c2w.surface import build_surface, write_surface

pytest.importorskip("vtkmodules", reason="surface meshes need the [surface] extra (VTK)")


@pytest.fixture(scope="module")
def surface(atrium):
    s = build_surface(
        atrium.image, atrium.cavity, atrium.spacing, atrium.origin, wall=atrium.wall, scar=atrium.scar
    )
    s.arrays["thickness_mm"] = s.arrays["thickness_mm"].copy()
    s.arrays["thickness_mm"][::7] = np.nan  # as beyond the vein walls of real cases
    return s


def vtk_read(path):
    """(points, triangles, point arrays by name) as VTK's reader for the suffix sees them."""
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkIOLegacy import vtkPolyDataReader
    from vtkmodules.vtkIOPLY import vtkPLYReader
    from vtkmodules.vtkIOXML import vtkXMLPolyDataReader

    reader = {".vtp": vtkXMLPolyDataReader, ".vtk": vtkPolyDataReader, ".ply": vtkPLYReader}[path.suffix]()
    reader.SetFileName(str(path))
    reader.Update()
    poly = reader.GetOutput()
    assert poly is not None and poly.GetPoints() is not None, f"VTK reads no points from {path.name}"
    points = vtk_to_numpy(poly.GetPoints().GetData())
    polys = poly.GetPolys()
    offsets = vtk_to_numpy(polys.GetOffsetsArray())
    assert np.all(np.diff(offsets) == 3), "not all cells are triangles"
    faces = vtk_to_numpy(polys.GetConnectivityArray()).reshape(-1, 3)
    pd = poly.GetPointData()
    arrays = {pd.GetArrayName(i): vtk_to_numpy(pd.GetArray(i)) for i in range(pd.GetNumberOfArrays())}
    return points, faces, arrays


@pytest.mark.parametrize("fmt", ["vtp", "vtk"])
def test_vtk_reads_points_triangles_and_every_array_nan_included(surface, tmp_path, fmt):
    """The hand-written .vtp held ASCII 'nan' tokens, which VTK before 9.3 (ParaView 5.11, MITK,
    CemrgApp) cannot parse: it read an empty mesh. The .vtk was an UNSTRUCTURED_GRID that
    vtkPolyDataReader refuses."""
    (path,) = write_surface(surface, tmp_path / "case", formats=(fmt,))
    if fmt == "vtp":  # binary data (NaN is an IEEE value), no ASCII number for any parser to trip on
        head = path.read_bytes().split(b"<AppendedData", 1)[0].decode()
        formats = re.findall(r'<DataArray[^>]*format="(\w+)"', head)
        assert formats and set(formats) <= {"appended", "binary"}, formats
    points, faces, arrays = vtk_read(path)
    assert np.allclose(points, surface.patient_points(), atol=1e-3)
    assert np.array_equal(faces, surface.mesh.faces)
    assert set(arrays) == set(surface.arrays)
    for name, values in surface.arrays.items():
        np.testing.assert_allclose(arrays[name].ravel(), values, atol=1e-5, equal_nan=True, err_msg=name)
    assert np.array_equal(np.isnan(arrays["thickness_mm"]), np.isnan(surface.arrays["thickness_mm"]))


def test_legacy_vtk_is_polydata_version_4_2(surface, tmp_path):
    """MITK/CemrgApp read .vtk with vtkPolyDataReader; VTK 8 builds refuse the 5.1 layout."""
    from vtkmodules.vtkIOLegacy import vtkPolyDataReader

    (path,) = write_surface(surface, tmp_path / "case", formats=("vtk",))
    head = path.read_bytes()[:200].split(b"\n")
    assert head[0] == b"# vtk DataFile Version 4.2"
    assert head[2] == b"BINARY" and head[3] == b"DATASET POLYDATA"
    reader = vtkPolyDataReader()
    reader.SetFileName(str(path))
    assert reader.IsFilePolyData()


def test_ply_opens_in_vtk_with_the_scar_as_vertex_colours(surface, tmp_path):
    from napari_c2w.surface.export import PLY_OTHER_RGB, PLY_SCAR_RGB

    (path,) = write_surface(surface, tmp_path / "case", formats=("ply",))
    points, faces, arrays = vtk_read(path)
    assert np.allclose(points, surface.patient_points(), atol=1e-3)
    assert np.array_equal(faces, surface.mesh.faces)
    scar = surface.arrays["network_scar"] >= 0.5
    assert 0 < scar.sum() < len(scar)
    assert np.array_equal(arrays["RGB"][scar], np.tile(PLY_SCAR_RGB, (scar.sum(), 1)))
    assert np.array_equal(arrays["RGB"][~scar], np.tile(PLY_OTHER_RGB, ((~scar).sum(), 1)))


def test_export_prints_and_warns_nothing(surface, tmp_path, capfd):
    """meshio warned on every export ('VTK ASCII files are only meant for debugging', int64 PLY)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_surface(surface, tmp_path / "case")
    assert capfd.readouterr() == ("", "")


#: What VTK before 9.3 made of a 'nan' token: its ASCII parser stops there, the array is short.
VTP_CUT_AT_NAN = """<?xml version="1.0"?>
<VTKFile type="PolyData" version="0.1" byte_order="LittleEndian"><PolyData>
<Piece NumberOfPoints="3" NumberOfPolys="1"><PointData>
<DataArray type="Float32" Name="thickness_mm" format="ascii">1</DataArray></PointData>
<Points><DataArray type="Float32" NumberOfComponents="3" format="ascii">0 0 0 1 0 0 0 1 0</DataArray></Points>
<Polys><DataArray type="Int64" Name="connectivity" format="ascii">0 1 2</DataArray>
<DataArray type="Int64" Name="offsets" format="ascii">3</DataArray></Polys>
</Piece></PolyData></VTKFile>
"""


def test_read_back_check_uses_vtk(surface, tmp_path, capfd):
    """The check parsed the .vtp's XML (a file VTK reads as an empty mesh passed it) and let
    meshio read the others (a .vtk VTK refuses passed it)."""
    from napari_c2w.surface.export import _check_mesh, _point_data, _scar_rgb

    bad = tmp_path / "nan.vtp"
    bad.write_text(VTP_CUT_AT_NAN)
    tri = np.array([[0, 1, 2]])
    with pytest.raises(OSError, match="VTK"):
        _check_mesh(bad, np.zeros((3, 3)), tri)
    points, faces = surface.patient_points(), surface.mesh.faces
    for path in write_surface(surface, tmp_path / "case", formats=("vtk", "vtp", "ply")):
        arrays = {"RGB": _scar_rgb(surface)} if path.suffix == ".ply" else _point_data(surface)
        _check_mesh(path, points, faces, arrays)
        data = path.read_bytes()
        for keep in (0.2, 0.6, 0.99):  # VTK's PLY reader crashes on a truncated file: never handed one
            path.write_bytes(data[: int(len(data) * keep)])
            with pytest.raises(OSError):
                _check_mesh(path, points, faces, arrays)
    assert capfd.readouterr().err == ""  # VTK's own complaints become the error, not stderr noise


@pytest.fixture
def no_vtk(monkeypatch):
    for name in [m for m in sys.modules if m == "vtk" or m.split(".")[0] == "vtkmodules"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "vtkmodules", None)
    monkeypatch.setitem(sys.modules, "vtk", None)


def test_without_vtk_a_mesh_export_says_what_to_install(surface, tmp_path, no_vtk):
    from napari_c2w.errors import MissingDependency

    with pytest.raises(MissingDependency, match=r"pip install .napari-c2w\[surface\]"):
        write_surface(surface, tmp_path / "out" / "case", formats=("csv", "vtp"))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    (csv,) = write_surface(surface, tmp_path / "out" / "case", formats=("csv",))  # no VTK needed
    assert csv.name == "case_regions.csv"


def test_without_vtk_the_export_command_fails_before_writing(tmp_path, no_vtk, capsys):
    from napari_c2w.cli import main
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom

    case = generate_phantom(0, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25)).to_case()
    write_case_store(case, store_path(tmp_path / "ds", case.case_id))
    assert main(["export", str(tmp_path / "ds"), "--format", "vtp", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "napari-c2w[surface]" in err and "VTK" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_without_vtk_report_surface_dir_fails_before_reading_a_case(tmp_path, no_vtk, capsys):
    from napari_c2w.cli import main
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom

    case = generate_phantom(0, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25)).to_case()
    write_case_store(case, store_path(tmp_path / "ds", case.case_id))
    args = ["-o", str(tmp_path / "r.csv"), "--surface-dir", str(tmp_path / "surf")]
    assert main(["report", str(tmp_path / "ds"), *args]) == 2
    assert "napari-c2w[surface]" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "surf").exists()
