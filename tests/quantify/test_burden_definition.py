"""One burden: the report's, the scar methods', the surface's and the widgets' share one region."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_c2w.io.case import Case
from napari_c2w.phantom import generate_phantom
from napari_c2w.quantify import BandSpec, burden_pct, quantify
from napari_c2w.review.report import case_row
from napari_c2w.surface.report import method_row


@pytest.fixture(scope="module")
def phantom():
    return generate_phantom(0, shape=(48, 112, 112), spacing=(1.25, 0.625, 0.625))


@pytest.mark.parametrize("keep", [("cavity", "wall", "scar"), ("cavity", "scar")])
def test_report_and_scar_methods_share_one_burden(phantom, keep):
    """Before the quantify package, without a wall the report counted the band reaching 3 mm into
    the cavity (1.99 % on this phantom) and the scar methods the outer band (3.55 %)."""
    lab = phantom.labels
    case = Case(phantom.to_case().image, {k: lab[k] for k in keep})
    q = quantify(lab["cavity"], phantom.image.spacing, wall=case.labels.get("wall"), scar=lab["scar"])
    row, _ = method_row(case, ["network"])
    assert q.scar_burden_pct == pytest.approx(row["scar_burden_network_pct"])
    assert case_row(case)["scar_burden_pct"] == pytest.approx(q.scar_burden_pct)
    assert q.burden_basis == row["scar_region"] == ("wall" if "wall" in keep else "band")
    if "wall" not in keep:
        assert q.scar_burden_pct == pytest.approx(3.554, abs=0.01)


def test_the_scar_region_leaves_the_blood_out():
    shape, spacing = (20, 20, 20), (1.0, 1.0, 1.0)
    cavity = np.zeros(shape, bool)
    cavity[5:15, 5:15, 5:15] = True
    region, basis = BandSpec(inner_mm=3.0, outer_mm=2.0).scar_region(cavity, spacing)
    assert basis == "band" and not (region & cavity).any()
    assert region[10, 10, 16] and not region[10, 10, 17]  # 2 mm out, not 3
    wall = np.zeros(shape, bool)
    wall[4:16, 4:16, 4:16] = True  # a wall label overlapping the cavity: only its outside counts
    region, basis = BandSpec().scar_region(cavity, spacing, wall)
    assert basis == "wall" and np.array_equal(region, wall & ~cavity)
    with pytest.raises(ValueError, match="spacing"):
        BandSpec().scar_region(cavity, None)
    with pytest.raises(ValueError, match=">= 0 mm"):
        BandSpec(outer_mm=-1.0)


def test_burden_counts_voxels_or_weights():
    region = np.array([1, 1, 1, 1, 0], bool)
    scar = np.array([1, 0, 0, 0, 1], bool)  # the last one lies outside the region
    assert burden_pct(scar, region) == pytest.approx(25.0)
    assert burden_pct(scar, region, weights=np.array([3.0, 1.0, 1.0, 1.0, 9.0])) == pytest.approx(50.0)
    assert math.isnan(burden_pct(scar, region & False))
