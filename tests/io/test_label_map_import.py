"""Multi-label maps coming in: ``import --labels FILE --label-map`` and nnU-Net raw datasets."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.errors import InputError
from napari_c2w.io.export import export_cases
from napari_c2w.io.importer import Source
from napari_c2w.io.labelmap import parse_label_map, split_label_map
from napari_c2w.io.store import list_case_stores, read_case_store
from testutils import write_sitk


def _multi(case, values=(1, 2, 3)):
    out = np.zeros(case.image.shape, np.uint8)
    for s, v in zip(("cavity", "wall", "scar"), values, strict=True):
        out[case.labels[s] != 0] = v
    return out


def test_parse_label_map():
    assert parse_label_map("1=cavity, 2=wall,3=scar") == {1: "cavity", 2: "wall", 3: "scar"}
    assert parse_label_map("3=cavity,4=wall,1=ignore") == {3: "cavity", 4: "wall", 1: "ignore"}
    for bad in ("1:cavity", "0=cavity", "1=atrium", "1=cavity,1=wall", "1=ignore"):
        with pytest.raises(ValueError, match="label map"):
            parse_label_map(bad)


def test_split_refuses_values_the_map_does_not_name(small_case):
    with pytest.raises(InputError, match=r"values 3, which the label map 1=cavity,2=wall does not name"):
        split_label_map(_multi(small_case), {1: "cavity", 2: "wall"})


def test_import_a_multi_label_file_with_the_default_map(tmp_path, small_case):
    image = write_sitk(
        small_case.image.array, tmp_path / "scan.nii.gz", small_case.image.spacing, small_case.image.origin
    )
    seg = write_sitk(
        _multi(small_case), tmp_path / "seg.nii.gz", small_case.image.spacing, small_case.image.origin
    )
    assert main(["import", str(image), "--labels", str(seg), "-o", str(tmp_path / "ds")]) == 0
    case = read_case_store(tmp_path / "ds" / "scan.ome.zarr")
    assert case.structures == ["cavity", "wall", "scar"]  # not all cavity
    np.testing.assert_array_equal(case.labels["wall"], small_case.labels["wall"] & ~small_case.labels["scar"])
    np.testing.assert_array_equal(case.labels["scar"], small_case.labels["scar"])


def test_import_an_mbas_style_map(tmp_path, small_case):
    """Another tool's values: 3 LA cavity, 4 LA wall, 1 and 2 other structures left out."""
    arr = _multi(small_case, values=(3, 4, 4))
    arr[0, :3, :3] = 1
    image = write_sitk(
        small_case.image.array,
        tmp_path / "mbas_001_gt.nrrd",
        small_case.image.spacing,
        small_case.image.origin,
    )
    seg = write_sitk(arr, tmp_path / "mbas_001_label.nrrd", small_case.image.spacing, small_case.image.origin)
    argv = ["import", str(image), "--labels", str(seg), "-o", str(tmp_path / "ds")]
    assert main([*argv, "--label-map", "3=cavity,4=wall"]) == 1  # value 1 not named: refused
    assert list_case_stores(tmp_path / "ds") == []
    assert main([*argv, "--label-map", "3=cavity,4=wall,1=ignore"]) == 0
    case = read_case_store(tmp_path / "ds" / "mbas_001_gt.ome.zarr")
    assert case.structures == ["cavity", "wall"]
    np.testing.assert_array_equal(case.labels["wall"], small_case.labels["wall"] | small_case.labels["scar"])
    assert {e.get("label_map") for e in case.provenance} >= {"1=ignore,3=cavity,4=wall"}


def test_nnunet_case_ids_lose_the_channel_suffix(tmp_path):
    assert Source(tmp_path / "la_007_0000.nii.gz").name == "la_007"
    assert Source(tmp_path / "la_007.nii.gz").name == "la_007"


def test_nnunet_raw_dataset_round_trip(tmp_path, small_case):
    from napari_c2w.io import Case

    cases = [Case(small_case.image, dict(small_case.labels), case_id=f"la_{k:03d}") for k in range(2)]
    raw = tmp_path / "Dataset505_LA"
    export_cases(cases, raw, "nnunet")
    assert main(["import", str(raw), "-o", str(tmp_path / "back")]) == 0
    stores = list_case_stores(tmp_path / "back")
    assert [p.name for p in stores] == ["la_000.ome.zarr", "la_001.ome.zarr"]
    case = read_case_store(stores[0])
    assert case.structures == ["cavity", "wall", "scar"]
    np.testing.assert_array_equal(case.labels["scar"], small_case.labels["scar"])
    np.testing.assert_allclose(case.image.spacing, small_case.image.spacing, rtol=1e-6)
