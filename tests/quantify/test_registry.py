"""The scar-method registry: one registered entry is offered by every consumer."""

from __future__ import annotations

import csv

import pytest

from napari_c2w.cli import main
from napari_c2w.io.store import store_path
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.phantom import generate_phantom
from napari_c2w.quantify import METHODS, Param, ScarMethod, check_methods, default_params, register
from testutils import toy_scar_method


def test_the_builtin_methods_and_their_parameters():
    assert list(METHODS) == ["network", "iir", "sd"]
    assert default_params() == {"iir": 1.2, "sd_k": 3.0}
    assert check_methods(["sd", "iir", "sd"]) == ("sd", "iir")
    with pytest.raises(ValueError, match="already registered"):
        register(METHODS["iir"])
    clash = ScarMethod("iir2", "IIR 2", "image", METHODS["iir"].rule, (Param("iir", "t", 1.0, 0, 2, 0.1),))
    with pytest.raises(ValueError, match="already in use"):
        register(clash)
    with pytest.raises(ValueError, match="source"):
        register(ScarMethod("odd", "odd", "atlas", METHODS["network"].rule))
    assert "iir2" not in METHODS and "odd" not in METHODS


def test_a_registered_method_is_offered_by_the_report(tmp_path):
    case = generate_phantom(0, shape=(40, 96, 96), spacing=(1.25, 0.625, 0.625)).to_case()
    write_case_store(case, store_path(tmp_path / "ds", case.case_id))
    out = tmp_path / "r.csv"
    with toy_scar_method():
        args = ["report", str(tmp_path / "ds"), "--csv", str(out), "--scar-method", "toy", "iir"]
        assert main([*args, "--toy-level", "0.5", "--regions"]) == 0
    with open(out) as fh:
        row = next(csv.DictReader(fh))
    # level 0.5 of the blood pool flags more of the wall than IIR > 1.2
    assert float(row["scar_burden_toy_pct"]) > float(row["scar_burden_iir_pct"])
    assert "dice_toy_iir" in row and float(row["surface_toy_burden_pct"]) > 0
    assert "toy" not in METHODS
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path / "ds"), "--csv", str(out), "--scar-method", "toy"])
