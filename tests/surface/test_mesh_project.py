"""The endocardial mesh lies on the cavity boundary in world mm; projection finds an enhanced patch."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.surface import build_surface, endocardial_mesh, project_max, to_patient
from napari_c2w.surface.project import sample_offsets


def _index(points, atrium):
    return np.round((points - np.asarray(atrium.origin)) / np.asarray(atrium.spacing)).astype(int)


def test_mesh_lies_on_the_cavity_boundary_in_world_coordinates(atrium):
    mesh = endocardial_mesh(atrium.cavity, atrium.spacing, atrium.origin)
    assert 1000 < mesh.n_vertices < 50000
    assert mesh.faces.max() < mesh.n_vertices
    inside = _index(mesh.vertices - 0.8 * mesh.normals, atrium)
    outside = _index(mesh.vertices + 0.8 * mesh.normals, atrium)
    assert atrium.cavity[tuple(inside.T)].mean() > 0.95
    assert (~atrium.cavity[tuple(outside.T)]).mean() > 0.95
    # on the ball part, the radius is 14 mm and normals point away from the centre
    rel = mesh.vertices - atrium.centre_world
    radius = np.linalg.norm(rel, axis=1)
    ball = (rel[:, 1] < -3) & (rel[:, 2] < -3)  # anterior-right: no vein or appendage there
    assert np.median(radius[ball]) == pytest.approx(14.0, abs=0.6)
    assert np.all(np.einsum("ij,ij->i", mesh.normals[ball], rel[ball] / radius[ball, None]) > 0.8)


def test_projection_finds_the_enhanced_patch(atrium):
    mesh = endocardial_mesh(atrium.cavity, atrium.spacing, atrium.origin)
    peak = project_max(atrium.image, mesh, atrium.spacing, atrium.origin) / 100.0
    rel = mesh.vertices - atrium.centre_world
    radius = np.linalg.norm(rel, axis=1)
    on_ball = np.abs(radius - 14.0) < 1.0
    patch = on_ball & (rel[:, 2] > 10.0) & (rel[:, 1] < -2.0)
    clear = on_ball & (rel[:, 2] < 4.0)
    assert patch.sum() > 20 and clear.sum() > 200
    assert np.all(peak[patch] > 1.3)
    assert np.all(peak[clear] < 1.1)


def test_build_surface_arrays_thresholds_and_thickness(atrium):
    s = build_surface(
        atrium.image, atrium.cavity, atrium.spacing, atrium.origin, wall=atrium.wall, scar=atrium.scar
    )
    a = s.arrays
    assert s.blood.mean == pytest.approx(100.0)
    assert set(a) == {"max_iir", "scar_iir", "scar_sd", "network_scar", "thickness_mm", "region"}
    assert all(len(v) == s.mesh.n_vertices for v in a.values())
    assert np.array_equal(a["scar_iir"], (a["max_iir"] > 1.2).astype(np.uint8))
    # IIR and the projected scar mask flag the same vertices, nearly
    flag_net = a["network_scar"] >= 0.5
    agree = (flag_net == (a["scar_iir"] > 0)).mean()
    assert agree > 0.95
    th = a["thickness_mm"][np.isfinite(a["thickness_mm"])]
    assert np.median(th) == pytest.approx(2.0, abs=0.5)
    b = s.burdens()
    assert b["iir"] == pytest.approx(b["network"], abs=3.0)
    assert 0 < b["iir"] < 30


def test_to_patient_applies_origin_and_direction():
    v = np.array([[1.0, 2.0, 3.0]])  # world z, y, x
    assert np.allclose(to_patient(v, (0.0, 0.0, 0.0)), [[3.0, 2.0, 1.0]])
    flip_x = (-1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)
    assert np.allclose(to_patient(v, (1.0, 1.0, 1.0), direction=flip_x), [[1.0 - 2.0, 2.0, 1.0]])


def test_bad_inputs():
    with pytest.raises(ValueError, match="cavity is empty"):
        endocardial_mesh(np.zeros((8, 8, 8), bool), (1, 1, 1))
    with pytest.raises(ValueError, match="step"):
        sample_offsets(1.0, 3.0, 0.0)
    with pytest.raises(ValueError, match="shape"):
        build_surface(np.zeros((8, 8, 8)), np.ones((8, 8, 9), bool), (1, 1, 1))
