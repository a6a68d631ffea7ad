"""Measurements for the quantification panel: rows, thickness map, agreement with a reference."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from napari_c2w.review.measure import measure


def test_measure_ball(ball):
    m = measure(ball.spacing, ball.cavity, ball.wall, ball.scar, reference=ball.scar, compared="scar")
    rows = dict(m.rows())
    ml = np.prod(ball.spacing) / 1000
    assert rows["cavity volume"] == f"{ball.cavity.sum() * ml:.2f} mL"
    assert rows["scar Dice"] == "1.000" and rows["scar HD95"] == "0.00 mm"
    assert "scar surface Dice 1 mm" in rows
    assert m.thickness.shape == ball.cavity.shape and (m.thickness[ball.wall & ~ball.cavity] > 0).all()
    assert 1.5 < m.quantities.thickness["mean"] < 2.6  # a 2 mm shell


def test_measure_without_wall_or_reference(ball):
    m = measure(ball.spacing, ball.cavity, scar=ball.scar)
    rows = m.rows()
    assert m.thickness is None and m.agreement is None
    assert (
        dict(rows)["wall volume"] == "n/a"
        and ("note", "no wall label: wall volume and thickness not measured") in rows
    )
    with pytest.raises(ValueError, match="no wall mask"):
        measure(ball.spacing, ball.cavity, reference=ball.wall, compared="wall")


def test_measure_by_an_intensity_method(ball):
    """The chosen scar method's scar is measured: here IIR on an image where the scar is bright."""
    image = np.where(ball.cavity, 100.0, 30.0).astype(np.float32)
    image[ball.scar] = 150.0
    m = measure(ball.spacing, ball.cavity, ball.wall, image=image, method="iir", params={"iir": 1.2})
    rows = dict(m.rows())
    assert np.array_equal(m.scar, ball.scar & ball.wall & ~ball.cavity)
    assert m.quantities.scar_burden_pct == pytest.approx(
        100 * m.scar.sum() / (ball.wall & ~ball.cavity).sum()
    )
    assert "IIR scar burden (% of wall)" in rows
    with pytest.raises(ValueError, match="needs the image"):
        measure(ball.spacing, ball.cavity, ball.wall, method="sd")


@pytest.mark.parametrize("method", ["network", "iir"])
@pytest.mark.parametrize("with_wall", [True, False])
def test_measure_on_a_large_grid_equals_the_full_grid_computation(noisy_phantoms, method, with_wall):
    """The measure works in a box around the labels (so that it does not stall napari's viewer);
    its numbers and maps equal those of the quantify functions run on the whole grid."""
    from napari_c2w.metrics import compare_masks
    from napari_c2w.quantify import method_scar, quantify, wall_thickness

    p = noisy_phantoms[0]
    pad = ((6, 10), (40, 3), (0, 50))  # the labels off-centre, one side at the grid's edge
    image = np.pad(p.image.array, pad)
    cavity, wall, scar = (np.pad(p.labels[s], pad) for s in ("cavity", "wall", "scar"))
    wall = wall if with_wall else None
    reference = np.pad(p.labels["cavity"], pad)
    reference[:, :, : reference.shape[2] // 2] = 0
    m = measure(
        p.image.spacing,
        cavity,
        wall,
        scar,
        image=image,
        method=method,
        reference=reference,
        compared="cavity",
    )
    by_method = None
    if method != "network":
        by_method = method_scar(method, image, cavity, p.image.spacing, wall).mask
        assert np.array_equal(m.scar, by_method)
    full = quantify(cavity, p.image.spacing, wall, scar if by_method is None else by_method)
    assert same(dataclasses.asdict(m.quantities), dataclasses.asdict(full))
    if with_wall:
        assert np.array_equal(m.thickness, wall_thickness(cavity, wall, p.image.spacing))
    else:
        assert m.thickness is None
    assert same(m.agreement, compare_masks(cavity, reference, p.image.spacing))


def test_measure_refuses_volumes_on_different_grids(ball):
    with pytest.raises(ValueError, match="share one grid"):
        measure(ball.spacing, ball.cavity, np.pad(ball.wall, 1))


def same(a, b) -> bool:
    """Equal, with NaN equal to NaN (nested dicts and lists)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b
