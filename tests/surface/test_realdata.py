"""The surface and intensity scar on a real 2018-challenge case (skipped without the data)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.quantify import method_scar
from napari_c2w.surface import REGIONS, build_surface
from testutils import LA2018

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not LA2018.is_dir(), reason="needs ../shared/data/la2018"),
]


def test_real_case_surface_and_band_scar():
    from napari_c2w.io.layouts import read_case_folder

    folder = sorted(p for p in LA2018.iterdir() if (p / "lgemri.nrrd").exists())[0]
    case = read_case_folder(folder)
    image, cavity, sp = case.image.array, case.labels["cavity"], case.image.spacing
    scar = method_scar("iir", image, cavity, sp, None, params={"iir": 1.2})
    assert scar.basis == "band"
    assert 0.0 <= scar.burden_pct < 60.0
    assert not (scar.mask & (cavity > 0)).any()
    s = build_surface(image, cavity, sp, case.image.origin, case.image.direction, blood=scar.blood)
    assert 2000 < s.mesh.n_vertices < 60000
    region = s.arrays["region"]
    assert np.all(np.isin(region, list(REGIONS)))
    # a real atrium has its veins on both sides and a body around them
    for rid in (1, 2, 4, 5, 6):
        assert (region == rid).sum() > 50, REGIONS[rid]
    assert np.median(s.arrays["max_iir"]) == pytest.approx(1.0, abs=0.35)
