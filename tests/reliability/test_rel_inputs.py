"""Issue 31 item 12 (inputs): odd case ids, over-long names, complex voxels, ambiguous nnU-Net
label maps and repeated imports are refused or harmless, each as one clear failure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.errors import InputError
from napari_c2w.io.store import read_store_attrs


@pytest.fixture
def image_file(tmp_path):
    import SimpleITK as sitk

    array = np.random.default_rng(0).integers(1, 200, (6, 20, 24)).astype(np.uint8)
    path = tmp_path / "img.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    return path


@pytest.mark.parametrize("case_id", [" ", "a\u202egpj.exe", "del\x7fete", " padded", "x" * 201, "tab\tin"])
def test_odd_case_ids_are_refused(image_file, tmp_path, capsys, case_id):
    out = tmp_path / "out"
    assert main(["import", str(image_file), "-o", str(out), "--case-id", case_id]) in (1, 2)
    err = capsys.readouterr().err
    assert f"{image_file}: case id" in err and "is not a plain name" in err
    assert not list(tmp_path.rglob("*.ome.zarr"))


def test_a_layer_name_holding_a_path_becomes_a_plain_case_id():
    from napari_c2w.layers import case_from_layers

    image = np.random.default_rng(0).integers(1, 200, (6, 20, 24)).astype(np.uint8)
    assert case_from_layers((image, {"name": "scan 1/2"}), []).case_id == "scan 1_2"
    assert case_from_layers((image, {"name": ".."}), []).case_id == "case"


def test_ordinary_unicode_case_ids_are_kept(image_file, tmp_path):
    out = tmp_path / "out"
    assert main(["import", str(image_file), "-o", str(out), "--case-id", "Müller 07_b.2"]) == 0
    assert read_store_attrs(out / "Müller 07_b.2.ome.zarr")["case_id"] == "Müller 07_b.2"


def test_a_too_long_file_name_is_one_failed_case(image_file, tmp_path, capsys):
    import SimpleITK as sitk

    long_but_valid = tmp_path / ("y" * 245 + ".nrrd")  # a file name the system allows
    sitk.WriteImage(sitk.ReadImage(str(image_file)), str(long_but_valid))
    too_long = tmp_path / ("x" * 300 + ".nrrd")  # a name no file can have
    out = tmp_path / "out"
    assert main(["import", str(image_file), str(too_long), str(long_but_valid), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "import: 1 case(s) done, 2 failed" in err
    assert "File name too long" in err and "bytes long (at most 200)" in err
    assert [p.name for p in out.glob("*.ome.zarr")] == ["img.ome.zarr"]


def test_complex_voxels_are_refused(tmp_path):
    import SimpleITK as sitk

    from napari_c2w.io.volume import read_volume

    rng = np.random.default_rng(1)
    array = (rng.normal(size=(6, 20, 24)) + 1j * rng.normal(size=(6, 20, 24))).astype(np.complex64)
    path = tmp_path / "complex.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    with pytest.raises(InputError, match=r"complex\.nii\.gz: holds complex voxels"):
        read_volume(path)


def _nnunet(tmp_path, labels) -> object:
    import SimpleITK as sitk

    folder = tmp_path / "Dataset501_LA"
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    rng = np.random.default_rng(2)
    sitk.WriteImage(
        sitk.GetImageFromArray(rng.integers(1, 200, (6, 20, 24)).astype(np.uint8)),
        str(folder / "imagesTr" / "c1_0000.nii.gz"),
    )
    label = np.zeros((6, 20, 24), np.uint8)
    label[2:4, 5:15, 5:15] = 1
    sitk.WriteImage(sitk.GetImageFromArray(label), str(folder / "labelsTr" / "c1.nii.gz"))
    doc = {"channel_names": {"0": "LGE"}, "labels": labels, "numTraining": 1, "file_ending": ".nii.gz"}
    (folder / "dataset.json").write_text(json.dumps(doc))
    return folder


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        ({"background": 0, "cavity": 1, "wall": 1}, "gives the value 1 to both cavity and wall"),
        ({"background": 0, "cavity": [1, 2]}, "is not a whole number"),
    ],
)
def test_ambiguous_nnunet_label_values_are_refused(tmp_path, capsys, labels, problem, image_file):
    folder = _nnunet(tmp_path, labels)
    out = tmp_path / "out"
    assert main(["import", str(folder), str(image_file), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'dataset.json'}: " in err and problem in err
    assert [p.name for p in out.glob("*.ome.zarr")] == ["img.ome.zarr"]  # the other source went on


def test_unreadable_dataset_json_names_the_file(tmp_path, capsys):
    folder = _nnunet(tmp_path, {"background": 0, "cavity": 1})
    (folder / "dataset.json").write_text("{not json")
    assert main(["import", str(folder), "-o", str(tmp_path / "out")]) == 1
    assert f"{folder / 'dataset.json'}: is not valid JSON" in capsys.readouterr().err


def test_reimporting_an_identical_case_changes_nothing(image_file, tmp_path):
    import SimpleITK as sitk

    label = np.zeros((6, 20, 24), np.uint8)
    label[1:5, 4:16, 4:18] = 1
    cavity = tmp_path / "cav.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(label), str(cavity))
    out = tmp_path / "out"
    args = ["import", str(image_file), "--cavity", str(cavity), "-o", str(out)]
    assert main(args) == 0
    first = read_store_attrs(out / "img.ome.zarr")
    assert main(args) == 0
    assert main([*args, "--overwrite"]) == 0
    again = read_store_attrs(out / "img.ome.zarr")
    assert again["provenance"] == first["provenance"] and again["revision"] == first["revision"]
    label[1, 4, 4] = 0  # a changed label is still written (with --overwrite), with its provenance
    sitk.WriteImage(sitk.GetImageFromArray(label), str(cavity))
    assert main([*args, "--overwrite"]) == 0
    assert len(read_store_attrs(out / "img.ome.zarr")["provenance"]) > len(first["provenance"])
