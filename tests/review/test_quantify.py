"""Volumes, wall thickness against the phantom's truth, scar burden, and MONAI agreement metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_c2w.metrics import compare_labels, compare_masks
from napari_c2w.quantify import quantify, thickness_summary, wall_thickness


def thickness_mae(ph) -> float:
    lab = ph.labels
    t = wall_thickness(lab["cavity"], lab["wall"], ph.image.spacing)
    wall = lab["wall"] > 0
    assert np.isfinite(t[wall]).all() and (t[~wall] == 0).all() and t.dtype == np.float32
    return float(np.abs(t[wall] - ph.thickness[wall]).mean())


def test_thickness_matches_phantom_isotropic():
    from napari_c2w.phantom import generate_phantom

    ph = generate_phantom(1, shape=(80, 112, 112), spacing=(0.625, 0.625, 0.625))
    mae = thickness_mae(ph)
    print(f"\nthickness MAE at 0.625 mm isotropic (seed 1): {mae:.3f} mm")
    assert mae < 0.3


def test_thickness_matches_phantom_anisotropic(noisy_phantoms):
    for ph in noisy_phantoms:
        mae = thickness_mae(ph)
        print(f"\nthickness MAE at {ph.image.spacing} (seed {ph.seed}): {mae:.3f} mm")
        assert mae < 0.3


@pytest.mark.parametrize("spacing", [(0.625, 0.625, 0.625), (1.25, 0.625, 0.625), (2.5, 0.625, 0.625)])
def test_thickness_of_a_flat_slab(spacing):
    """A wall n voxels thick along z measures n * spacing_z; along x, n * spacing_x."""
    shape = (20, 12, 24)
    cavity = np.zeros(shape, bool)
    wall = np.zeros(shape, bool)
    cavity[:8] = True
    wall[8:11] = True  # 3 voxels along z
    t = wall_thickness(cavity, wall, spacing, smooth_mm=0)
    assert np.allclose(t[wall], 3 * spacing[0])
    cavity, wall = np.zeros(shape, bool), np.zeros(shape, bool)
    cavity[:, :, :10] = True
    wall[:, :, 10:14] = True  # 4 voxels along x
    t = wall_thickness(cavity, wall, spacing, smooth_mm=0)
    assert np.allclose(t[wall], 4 * spacing[2])


def test_quantify_ball(ball):
    q = quantify(ball.cavity, ball.spacing, wall=ball.wall, scar=ball.noisy_scar)
    ml = np.prod(ball.spacing) / 1000
    assert q.cavity_ml == pytest.approx(ball.cavity.sum() * ml)
    assert q.wall_ml == pytest.approx(ball.wall.sum() * ml)
    assert q.scar_ml == pytest.approx(ball.noisy_scar.sum() * ml)
    assert q.scar_burden_pct == pytest.approx(100 * ball.scar.sum() / ball.wall.sum())
    assert q.burden_basis == "wall"
    assert q.implausible_scar_voxels == ball.beyond.sum() + ball.deep.sum()
    assert q.thickness["median"] == pytest.approx(2.0, abs=0.3)  # a 2 mm shell
    assert q.thickness["p5"] <= q.thickness["median"] <= q.thickness["p95"]
    row = q.as_row()
    assert row["thickness_mean_mm"] == q.thickness["mean"] and row["notes"] == ""


def test_quantify_without_wall_or_scar(ball):
    q = quantify(ball.cavity, ball.spacing, scar=ball.scar)
    assert q.burden_basis == "band" and math.isnan(q.wall_ml) and math.isnan(q.thickness["mean"])
    assert 0 < q.scar_burden_pct < 100 and q.implausible_scar_voxels == 0
    assert any("no wall" in n for n in q.notes)
    q = quantify(ball.cavity, ball.spacing)
    assert math.isnan(q.scar_ml) and math.isnan(q.scar_burden_pct)
    q = quantify(None, ball.spacing, wall=ball.wall, scar=ball.scar)
    assert q.cavity_ml == 0 and math.isnan(q.thickness["mean"]) and "no cavity label" in q.notes
    with pytest.raises(ValueError):
        quantify(None, ball.spacing)
    assert math.isnan(thickness_summary(np.array([]))["median"])


def cube(shape=(20, 40, 40), shift=0, axis=2):
    m = np.zeros(shape, bool)
    m[5:15, 10:30, 10:30] = True
    return np.roll(m, shift, axis=axis)


def test_monai_metrics_known_shapes():
    a = cube()
    same = compare_masks(a, a, (1.0, 1.0, 1.0))
    assert same["dice"] == pytest.approx(1.0) and same["surface_dice"] == pytest.approx(1.0)
    assert (
        same["hd95_mm"] == pytest.approx(0.0) and same["assd_mm"] == pytest.approx(0.0) and same["note"] == ""
    )
    shifted = compare_masks(a, cube(shift=2), (1.0, 1.0, 1.0))
    assert shifted["dice"] == pytest.approx(0.9)  # 18/20 of the columns overlap
    assert shifted["hd95_mm"] == pytest.approx(2.0)  # the moved faces are 2 voxels apart
    assert 0 < shifted["assd_mm"] < 2.0 and shifted["surface_dice"] < 1.0
    # the same shift at 0.5 mm voxels along x: 1 mm, within the surface Dice tolerance
    fine = compare_masks(a, cube(shift=2), (1.0, 1.0, 0.5))
    assert fine["hd95_mm"] == pytest.approx(1.0) and fine["surface_dice"] == pytest.approx(1.0)
    # a mask touching the array edge is handled (the crop is padded)
    edge = np.zeros((6, 8, 8), bool)
    edge[:3] = True
    assert compare_masks(edge, edge, (1, 1, 1))["hd95_mm"] == 0.0


def test_monai_metrics_empty_masks():
    a, empty = cube(), np.zeros((20, 40, 40), bool)
    one = compare_masks(empty, a, (1, 1, 1))
    assert one["dice"] == 0.0 and math.isnan(one["hd95_mm"]) and math.isnan(one["assd_mm"])
    assert "prediction empty" in one["note"]
    assert "reference empty" in compare_masks(a, empty, (1, 1, 1))["note"]
    both = compare_masks(empty, empty, (1, 1, 1))
    assert all(math.isnan(both[k]) for k in ("dice", "surface_dice", "hd95_mm", "assd_mm"))
    assert both["note"] == "both masks empty"
    out = compare_labels({"cavity": a, "scar": empty}, {"cavity": a, "wall": a}, (1, 1, 1))
    assert set(out) == {"cavity"}
    with pytest.raises(ValueError, match="shape"):
        compare_masks(a, a[:5], (1, 1, 1))
