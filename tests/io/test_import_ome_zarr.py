"""``napari-c2w import`` takes any tool's 3D OME-Zarr image, as napari-c2w's reader opens it.

The stores are written by ome-zarr-py, as other tools write them: NGFF 0.4 on zarr v2 and NGFF 0.5
on zarr v3, with label images named after the structures.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.io.store import read_case_store


def write_ome_zarr(path, case, labels: dict[str, np.ndarray], version: str = "0.4"):
    """An OME-Zarr image with ``labels`` (name -> array), written by ome-zarr-py."""
    import zarr
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_multiscale, write_multiscale_labels

    fmt, zarr_format = (FormatV04(), 2) if version == "0.4" else (FormatV05(), 3)
    ct = [
        [
            {"type": "scale", "scale": list(case.image.spacing)},
            {"type": "translation", "translation": list(case.image.origin)},
        ]
    ]
    root = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    write_multiscale([case.image.array], root, fmt=fmt, axes="zyx", coordinate_transformations=ct)
    for name, data in labels.items():
        write_multiscale_labels([data], root, name=name, fmt=fmt, axes="zyx", coordinate_transformations=ct)
    return path


def _labels(case):
    vessels = np.zeros(case.image.shape, np.uint8)
    vessels[2:4, 5:9, 5:9] = 7
    return {
        "cavity": case.labels["cavity"].astype(np.uint8),  # 0/1
        "scar": case.labels["scar"].astype(np.uint8) * 3,  # 0/3: the value of napari-c2w's scar layer
        "vessels": vessels,  # no structure of ours
    }


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_import_takes_a_generic_ome_zarr_image_with_its_labels(tmp_path, small_case, version, caplog):
    """0.4 was refused as 'holds no DICOM series'; 0.5 as a damaged case store."""
    src = write_ome_zarr(tmp_path / "scan.ome.zarr", small_case, _labels(small_case), version)
    assert main(["import", str(src), "-o", str(tmp_path / "ds")]) == 0
    case = read_case_store(tmp_path / "ds" / "scan.ome.zarr")
    assert case.case_id == "scan"
    np.testing.assert_array_equal(case.image.array, small_case.image.array)
    np.testing.assert_allclose(case.image.spacing, small_case.image.spacing)
    np.testing.assert_allclose(case.image.origin, small_case.image.origin)
    assert set(case.labels) == {"cavity", "scar"}
    for s in ("cavity", "scar"):
        np.testing.assert_array_equal(case.labels[s] > 0, small_case.labels[s])
    assert case.sources["image"] == str(src)
    assert "vessels" in caplog.text  # said what was left out


def test_import_takes_a_folder_of_ome_zarr_images(tmp_path, small_case):
    for name, version in (("a.ome.zarr", "0.4"), ("b.zarr", "0.5")):
        write_ome_zarr(tmp_path / "in" / name, small_case, {"wall": small_case.labels["wall"]}, version)
    assert main(["import", str(tmp_path / "in"), "-o", str(tmp_path / "ds")]) == 0
    for case_id in ("a", "b"):
        case = read_case_store(tmp_path / "ds" / f"{case_id}.ome.zarr")
        np.testing.assert_array_equal(case.labels["wall"] > 0, small_case.labels["wall"])


def test_a_structure_label_with_several_values_is_refused_by_name(tmp_path, small_case, capsys):
    wall = small_case.labels["wall"].astype(np.uint8)
    wall[small_case.labels["scar"] > 0] = 2
    src = write_ome_zarr(tmp_path / "two.ome.zarr", small_case, {"wall": wall})
    assert main(["import", str(src), "-o", str(tmp_path / "ds")]) == 1
    err = capsys.readouterr().err
    assert "two.ome.zarr" in err and "'wall'" in err and "--label-value" in err
    assert main(["import", str(src), "-o", str(tmp_path / "ds"), "--label-value", "2"]) == 0
    case = read_case_store(tmp_path / "ds" / "two.ome.zarr")
    np.testing.assert_array_equal(case.labels["wall"] > 0, small_case.labels["scar"])


def test_import_still_refuses_a_non_3d_ome_zarr_by_name(tmp_path, small_case, capsys):
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_multiscale

    root = zarr.open_group(str(tmp_path / "czyx.ome.zarr"), mode="w", zarr_format=2)
    write_multiscale([small_case.image.array[None]], root, fmt=FormatV04(), axes="czyx")
    assert main(["import", str(tmp_path / "czyx.ome.zarr"), "-o", str(tmp_path / "ds")]) == 1
    assert "is not a 3D (z, y, x) OME-Zarr image" in capsys.readouterr().err
