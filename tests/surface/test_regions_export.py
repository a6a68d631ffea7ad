"""Regions cover the surface once and sit where they should; exported files read back with their arrays."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from napari_c2w.surface import REGIONS, build_surface, endocardial_mesh, parcellate, write_surface


@pytest.fixture(scope="module")
def surface(atrium):
    return build_surface(
        atrium.image, atrium.cavity, atrium.spacing, atrium.origin, wall=atrium.wall, scar=atrium.scar
    )


def test_regions_cover_the_surface_once(atrium):
    mesh = endocardial_mesh(atrium.cavity, atrium.spacing, atrium.origin)
    region = parcellate(mesh.vertices, atrium.cavity, atrium.spacing, atrium.origin)
    assert region.shape == (mesh.n_vertices,)
    assert set(np.unique(region)) <= set(REGIONS)
    assert np.all(np.isin(region, list(REGIONS)))
    # every region of this atrium is present
    assert set(np.unique(region)) == set(REGIONS)


def test_regions_follow_the_anatomy(atrium):
    mesh = endocardial_mesh(atrium.cavity, atrium.spacing, atrium.origin)
    region = parcellate(mesh.vertices, atrium.cavity, atrium.spacing, atrium.origin)
    rel = mesh.vertices - atrium.centre_world  # z superior, y posterior, x left
    names = {v: k for k, v in REGIONS.items()}
    far_left_vein = (rel[:, 1] > 20) & (rel[:, 2] > 3)
    far_right_vein = (rel[:, 1] > 20) & (rel[:, 2] < -3)
    assert np.all(region[far_left_vein] == names["left PV antrum"])
    assert np.all(region[far_right_vein] == names["right PV antrum"])
    tip = rel @ np.array([0.3, -0.5, 0.8]) > 22  # the appendage's far end
    assert tip.sum() > 5 and np.all(region[tip] == names["appendage"])
    top = rel[:, 0] > 13
    assert np.all(np.isin(region[top], [names["roof"], names["appendage"]]))  # the appendage rises
    assert np.mean(region[top] == names["roof"]) > 0.8
    bottom = rel[:, 0] < -13
    assert np.all(region[bottom] == names["floor"])


def test_direction_matrix_is_used(atrium):
    """With x flipped by the direction, left and right veins swap."""
    mesh = endocardial_mesh(atrium.cavity, atrium.spacing, atrium.origin)
    flip = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    plain = parcellate(mesh.vertices, atrium.cavity, atrium.spacing, atrium.origin)
    flipped = parcellate(mesh.vertices, atrium.cavity, atrium.spacing, atrium.origin, flip)
    assert np.array_equal(plain == 1, flipped == 2)


def test_vtk_ply_vtp_and_csv_read_back_with_their_arrays(surface, tmp_path):
    pytest.importorskip("vtkmodules", reason="surface meshes need the [surface] extra (VTK)")
    from napari_c2w.surface.export import read_mesh

    paths = write_surface(surface, tmp_path / "out" / "case7")
    assert [p.name for p in paths] == ["case7.vtk", "case7.vtp", "case7.ply", "case7_regions.csv"]
    points = surface.patient_points()
    for path in paths[:3]:
        got_points, faces, arrays = read_mesh(path)  # VTK's reader for the suffix
        assert np.allclose(got_points, points, atol=1e-3)
        assert np.array_equal(faces, surface.mesh.faces)
        if path.suffix == ".ply":
            assert set(arrays) == {"RGB"}
            continue
        assert set(arrays) == set(surface.arrays)
        for name, values in surface.arrays.items():
            assert np.allclose(arrays[name], values, atol=1e-4, equal_nan=True), name
    with open(paths[3]) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["region"] for r in rows] == list(REGIONS.values())
    assert sum(int(r["vertices"]) for r in rows) == surface.mesh.n_vertices


def test_export_refuses_to_overwrite_and_unknown_formats(surface, tmp_path):
    pytest.importorskip("vtkmodules", reason="surface meshes need the [surface] extra (VTK)")
    write_surface(surface, tmp_path / "s", formats=("vtk",))
    with pytest.raises(FileExistsError, match="overwrite"):
        write_surface(surface, tmp_path / "s", formats=("vtk",))
    write_surface(surface, tmp_path / "s", formats=("vtk",), overwrite=True)
    with pytest.raises(ValueError, match="unknown surface format"):
        write_surface(surface, tmp_path / "s", formats=("stl",))


def test_export_case_surface_builds_from_a_case(atrium, tmp_path):
    pytest.importorskip("vtkmodules", reason="surface meshes need the [surface] extra (VTK)")
    from napari_c2w.io import Case, Volume
    from napari_c2w.surface import export_case_surface
    from napari_c2w.surface.export import read_mesh

    flip_x = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    case = Case(
        Volume(atrium.image, atrium.spacing, atrium.origin, flip_x),
        {"cavity": atrium.cavity, "wall": atrium.wall},
        case_id="c",
    )
    (path,) = export_case_surface(case, tmp_path / "c", formats=("vtk",))
    points, _faces, arrays = read_mesh(path)
    assert "network_scar" not in arrays and "thickness_mm" in arrays
    # patient x runs against the array's x with this direction: the mesh lies at x <= origin x
    assert points[:, 0].max() <= atrium.origin[2] + 1e-6
    with pytest.raises(ValueError, match="no cavity"):
        export_case_surface(Case(case.image, {"wall": atrium.wall}), tmp_path / "d")
