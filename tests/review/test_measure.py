"""Measurements for the quantification panel: rows, thickness map, agreement with a reference."""

from __future__ import annotations

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
