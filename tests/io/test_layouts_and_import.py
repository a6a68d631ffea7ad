"""Challenge case folders, `napari-c2w import`, and the real la2018 cases."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.errors import InputError
from napari_c2w.io import detect_layout, read_case_folder, write_case_folder
from napari_c2w.io.store import list_case_stores, read_case_store
from testutils import LA2018, needs_la2018, write_sitk


def test_utah_folder_round_trip(tmp_path, small_case):
    folder = write_case_folder(small_case, tmp_path / "c1", "utah")
    assert sorted(p.name for p in folder.iterdir()) == ["laendo.nrrd", "lawall.nrrd", "lgemri.nrrd"]
    assert detect_layout(folder) == "utah"
    case = read_case_folder(folder)
    assert case.structures == ["cavity", "wall"]  # the 2018 layout has no scar file
    np.testing.assert_array_equal(case.labels["wall"], small_case.labels["wall"])
    np.testing.assert_allclose(case.image.spacing, small_case.image.spacing)
    np.testing.assert_allclose(case.image.origin, small_case.image.origin)
    assert {e["structure"] for e in case.provenance} == {"cavity", "wall"}


def test_lascarqs_folder_round_trip(tmp_path, small_case):
    folder = write_case_folder(small_case, tmp_path / "c2", "lascarqs")
    assert detect_layout(folder) == "lascarqs"
    case = read_case_folder(folder)
    assert case.structures == ["cavity", "scar"]
    np.testing.assert_array_equal(case.labels["scar"], small_case.labels["scar"])


def test_case_folder_with_mismatched_label_names_the_file(tmp_path, small_case):
    folder = write_case_folder(small_case, tmp_path / "c3", "utah")
    write_sitk(np.zeros((12, 40, 47), np.uint8), folder / "lawall.nrrd")
    with pytest.raises(InputError, match=r"lawall.nrrd: has shape"):
        read_case_folder(folder)


def test_import_mixed_sources_goes_on_past_a_bad_case(tmp_path, small_case, capsys):
    write_case_folder(small_case, tmp_path / "src" / "good_utah", "utah")
    write_case_folder(small_case, tmp_path / "src" / "good_lascarqs", "lascarqs")
    bad = write_case_folder(small_case, tmp_path / "src" / "bad", "utah")
    (bad / "lgemri.nrrd").write_bytes(b"NRRD0004\ntruncated")
    image = write_sitk(
        small_case.image.array, tmp_path / "single.nii.gz", small_case.image.spacing, small_case.image.origin
    )
    cav = write_sitk(
        small_case.labels["cavity"],
        tmp_path / "seg.nii.gz",
        small_case.image.spacing,
        small_case.image.origin,
    )
    out = tmp_path / "dataset"
    rc = main(["import", str(tmp_path / "src"), "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "2 case(s) done, 1 failed" in err and "FAILED bad" in err and "lgemri.nrrd" in err
    assert [p.name for p in list_case_stores(out)] == ["good_lascarqs.ome.zarr", "good_utah.ome.zarr"]
    rc = main(["import", str(image), "--cavity", str(cav), "--case-id", "single", "-o", str(out)])
    assert rc == 0
    case = read_case_store(out / "single.ome.zarr")
    assert case.structures == ["cavity"]
    np.testing.assert_allclose(case.image.spacing, small_case.image.spacing)
    assert any(e.get("source", "").endswith("seg.nii.gz") for e in case.provenance)


def test_import_refuses_label_files_with_several_sources(tmp_path, capsys):
    rc = main(["import", "a.nrrd", "b.nrrd", "--cavity", "c.nrrd", "-o", str(tmp_path)])
    assert rc == 2 and "exactly one image" in capsys.readouterr().err


@needs_la2018()
@pytest.mark.realdata
def test_real_la2018_cases_open_and_import(tmp_path):
    cases = sorted(p for p in LA2018.iterdir() if p.is_dir())[:2]
    for folder in cases:
        case = read_case_folder(folder)
        assert case.image.array.dtype == np.uint8 and case.image.shape[0] == 88
        assert case.image.spacing == pytest.approx((0.625, 0.625, 0.625))
        frac = case.labels["cavity"].mean()
        assert 0.01 < frac < 0.5 and set(np.unique(case.labels["cavity"])) == {0, 1}
        # blood pool is brighter than its surroundings in LGE
        img = case.image.array
        assert img[case.labels["cavity"] > 0].mean() > img[case.labels["cavity"] == 0].mean()
    assert main(["import", *map(str, cases), "--output", str(tmp_path / "ds")]) == 0
    stores = list_case_stores(tmp_path / "ds")
    assert [p.name.split(".")[0] for p in stores] == [c.name for c in cases]
    back = read_case_store(stores[0])
    np.testing.assert_array_equal(back.labels["cavity"], read_case_folder(cases[0]).labels["cavity"])
