"""Every export format, read back with the library of the tool it is for."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_c2w.errors import InputError
from napari_c2w.io import Case
from napari_c2w.io.export import FORMATS, export_cases, multilabel
from napari_c2w.io.slicer import ijk_to_lps


@pytest.fixture
def overlapping(small_case):
    """The small case with the wall grown one voxel into the cavity (as annotations overlap)."""
    from scipy.ndimage import binary_dilation

    lab = small_case.labels
    wall = binary_dilation(lab["wall"]) & (lab["wall"] | lab["cavity"])
    case = Case(
        small_case.image, {"cavity": lab["cavity"], "wall": wall, "scar": lab["scar"]}, case_id="ball"
    )
    assert (case.labels["cavity"] & case.labels["wall"]).any() and (case.labels["scar"] & wall).any()
    return case


def _expected(case):
    lab = {s: case.labels[s] != 0 for s in case.labels}
    return np.where(lab["scar"], 3, np.where(lab["wall"], 2, np.where(lab["cavity"], 1, 0))).astype(np.uint8)


def test_multilabel_precedence_and_overlap_counts(overlapping):
    labels, overlaps = multilabel(overlapping)
    np.testing.assert_array_equal(labels, _expected(overlapping))
    lab = overlapping.labels
    assert overlaps == {
        "wall over cavity": int((lab["wall"] & lab["cavity"]).sum()),
        "scar over wall": int((lab["scar"] & lab["wall"]).sum()),
    }


def test_nifti_read_back_with_nibabel(tmp_path, overlapping):
    import nibabel as nib

    (done,) = export_cases([overlapping], tmp_path, "nifti")
    img = nib.load(tmp_path / "ball_labels.nii.gz")
    np.testing.assert_array_equal(np.asarray(img.dataobj).transpose(2, 1, 0), _expected(overlapping))
    np.testing.assert_allclose(img.header.get_zooms(), overlapping.image.spacing[::-1], rtol=1e-6)
    lps_to_ras = np.diag([-1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(img.affine, lps_to_ras @ ijk_to_lps(overlapping.image), atol=1e-4)
    image = nib.load(tmp_path / "ball_image.nii.gz")
    np.testing.assert_array_equal(np.asarray(image.dataobj).transpose(2, 1, 0), overlapping.image.array)
    doc = json.loads((tmp_path / "label_map.json").read_text())
    assert doc["values"] == {"background": 0, "cavity": 1, "wall": 2, "scar": 3}
    assert doc["cases"]["ball"]["overlaps"] == done.overlaps and done.overlaps["wall over cavity"] > 0


def test_nrrd_read_back_with_simpleitk(tmp_path, overlapping):
    import SimpleITK as sitk

    export_cases([overlapping], tmp_path, "nrrd")
    img = sitk.ReadImage(str(tmp_path / "ball_labels.nrrd"))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img), _expected(overlapping))
    np.testing.assert_allclose(img.GetOrigin(), overlapping.image.origin[::-1])
    np.testing.assert_allclose(img.GetSpacing(), overlapping.image.spacing[::-1])


def test_slicer_segmentation_read_back_with_slicerio(tmp_path, overlapping):
    import slicerio

    export_cases([overlapping], tmp_path, "seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "ball.seg.nrrd"))
    assert slicerio.segment_names(seg) == ["cavity", "wall", "scar"]
    for s in ("cavity", "wall", "scar"):  # exact, overlaps included (Slicer's layers)
        mask = slicerio.segment_mask(seg, s).transpose(2, 1, 0)
        np.testing.assert_array_equal(mask, overlapping.labels[s] != 0)
    np.testing.assert_allclose(seg["ijkToLPS"], ijk_to_lps(overlapping.image), atol=1e-6)
    wall = slicerio.segment_from_name(seg, "wall")
    np.testing.assert_allclose(wall["color"], np.asarray([60, 170, 255]) / 255, atol=1e-3)
    assert (tmp_path / "ball.nrrd").is_file()


LEFT_ATRIUM = ["SCT", "82471001", "Left atrium"]


def test_slicer_segments_carry_dicom_terminology(tmp_path, overlapping):
    """Slicer showed three untyped segments; each now has its DICOM/SNOMED CT terminology entry."""
    import nrrd
    import slicerio

    export_cases([overlapping], tmp_path, "seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "ball.seg.nrrd"))
    terms = {s["id"]: s["terminology"] for s in seg["segments"]}
    assert set(terms) == {"cavity", "wall", "scar"}
    for term in terms.values():
        assert term["contextName"] == "Segmentation category and type - DICOM master list"
    anatomy = ["SCT", "123037004", "Anatomical Structure"]
    assert terms["cavity"]["category"] == anatomy and terms["cavity"]["type"] == LEFT_ATRIUM
    assert terms["wall"]["category"] == anatomy
    assert terms["wall"]["type"] == ["SCT", "74281007", "Myocardium"]
    assert terms["scar"]["category"] == ["SCT", "85756007", "Tissue"]
    assert terms["scar"]["type"] == ["SCT", "12402003", "Scar tissue"]
    for s in ("wall", "scar"):  # of the left atrium
        assert terms[s]["anatomicContextName"] == "Anatomic codes - DICOM master list"
        assert terms[s]["anatomicRegion"] == LEFT_ATRIUM
    # the tag as Slicer parses it (category~type~modifier~anatomic context~region~region modifier)
    header = nrrd.read_header(str(tmp_path / "ball.seg.nrrd"))
    cavity = next(k for k, v in header.items() if k.endswith("_ID") and v == "cavity").removesuffix("_ID")
    assert (
        "TerminologyEntry:Segmentation category and type - DICOM master list~SCT^123037004^Anatomical "
        "Structure~SCT^82471001^Left atrium~^^~Anatomic codes - DICOM master list~^^~^^"
    ) in header[f"{cavity}_Tags"].split("|")


def _cases(small_case, n):
    return [Case(small_case.image, dict(small_case.labels), case_id=f"la_{k:03d}") for k in range(n)]


def _check_nnunet_raw(folder):
    """The checks of nnU-Net v2's dataset format (documentation/dataset_format.md and
    verify_dataset_integrity): keys, consecutive labels, one file per channel and case,
    labels on the image grid holding only declared values."""
    import nibabel as nib

    ds = json.loads((folder / "dataset.json").read_text())
    assert {"channel_names", "labels", "numTraining", "file_ending"} <= set(ds)
    values = sorted(ds["labels"].values())
    assert ds["labels"]["background"] == 0 and values == list(range(len(values)))
    labels = sorted((folder / "labelsTr").glob("*" + ds["file_ending"]))
    assert len(labels) == ds["numTraining"]
    ids = [p.name.removesuffix(ds["file_ending"]) for p in labels]
    for case_id in ids:
        images = [
            folder / "imagesTr" / f"{case_id}_{int(c):04d}{ds['file_ending']}" for c in ds["channel_names"]
        ]
        assert all(p.is_file() for p in images)
        img, lab = nib.load(images[0]), nib.load(folder / "labelsTr" / f"{case_id}{ds['file_ending']}")
        assert img.shape == lab.shape
        np.testing.assert_allclose(img.affine, lab.affine, atol=1e-5)
        assert set(np.unique(np.asarray(lab.dataobj))) <= set(values)
    return ds, ids


def test_nnunet_raw_dataset(tmp_path, small_case):
    out = tmp_path / "Dataset501_LeftAtrium"
    export_cases(_cases(small_case, 7), out, "nnunet")
    ds, ids = _check_nnunet_raw(out)
    assert ds["labels"] == {"background": 0, "cavity": 1, "wall": 2, "scar": 3}
    splits = json.loads((out / "splits_final.json").read_text())
    assert len(splits) == 5
    vals = [v for s in splits for v in s["val"]]
    assert sorted(vals) == sorted(ids)  # every case validated exactly once
    assert all(set(s["train"]).isdisjoint(s["val"]) for s in splits)


def test_nnunet_subset_of_structures_is_renumbered(tmp_path, small_case):
    import nibabel as nib

    out = tmp_path / "Dataset502_Scar"
    export_cases(_cases(small_case, 2), out, "nnunet", structures=("cavity", "scar"))
    ds, _ids = _check_nnunet_raw(out)
    assert ds["labels"] == {"background": 0, "cavity": 1, "scar": 2}
    lab = np.asarray(nib.load(out / "labelsTr" / "la_000.nii.gz").dataobj).transpose(2, 1, 0)
    np.testing.assert_array_equal(lab == 2, small_case.labels["scar"])


def test_nnunet_refuses_a_bad_folder_name_and_a_case_missing_a_structure(tmp_path, small_case):
    with pytest.raises(InputError, match="DatasetNNN_Name"):
        export_cases(_cases(small_case, 1), tmp_path / "la", "nnunet")
    partial = Case(small_case.image, {"cavity": small_case.labels["cavity"]}, case_id="part")
    with pytest.raises(InputError, match="part has no wall, scar"):
        export_cases([partial], tmp_path / "Dataset503_LA", "nnunet")


def test_export_refuses_to_overwrite_and_unknown_formats(tmp_path, small_case):
    export_cases([small_case], tmp_path, "nifti")
    with pytest.raises(InputError, match=r"ball_image\.nii\.gz: exists"):
        export_cases([small_case], tmp_path, "nifti")
    export_cases([small_case], tmp_path, "nifti", overwrite=True)
    with pytest.raises(InputError, match="unknown export format 'stl'"):
        export_cases([small_case], tmp_path, "stl")
    assert set(FORMATS) >= {"nifti", "nrrd", "seg.nrrd", "nnunet"}


def test_export_command(tmp_path, small_case, capsys):
    import nibabel as nib

    from napari_c2w.cli import main
    from napari_c2w.io.storewrite import write_case_store

    dataset = tmp_path / "dataset"
    for k, status in enumerate(["approved", "unreviewed", "approved"]):
        case = Case(small_case.image, dict(small_case.labels), case_id=f"la_{k:03d}", status=status)
        write_case_store(case, dataset / f"la_{k:03d}.ome.zarr")
    out = tmp_path / "Dataset504_LA"
    argv = ["export", str(dataset), "--format", "nnunet", "-o", str(out), "--status", "approved"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "la_001" in captured.err and "left out by --status" in captured.err
    assert str(out / "dataset.json") in captured.out.splitlines()
    ds, ids = _check_nnunet_raw(out)
    assert ids == ["la_000", "la_002"] and ds["numTraining"] == 2
    assert nib.load(out / "imagesTr" / "la_000_0000.nii.gz").shape == small_case.image.shape[::-1]
    assert main(["export", str(dataset), "--format", "seg.nrrd", "-o", str(tmp_path / "slicer")]) == 0
    assert len(list((tmp_path / "slicer").glob("*.seg.nrrd"))) == 3


def test_surface_format_is_registered_and_read_back_with_vtk(tmp_path):
    pytest.importorskip("vtkmodules", reason="surface meshes need the [surface] extra (VTK)")
    from napari_c2w.phantom import generate_phantom
    from napari_c2w.surface.export import read_mesh

    case = generate_phantom(0, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25)).to_case()
    (done,) = export_cases([case], tmp_path, "surface")
    assert {p.suffix for p in done.files} >= {".vtk", ".vtp", ".ply"}
    for suffix in (".vtk", ".vtp", ".ply"):
        points, faces, arrays = read_mesh(tmp_path / f"phantom_0000{suffix}")
        assert len(points) > 100 and len(faces) > 100 and arrays


def test_export_format_vtk_writes_the_legacy_surface_for_cemrgapp(tmp_path):
    pytest.importorskip("vtkmodules", reason="surface meshes need the [surface] extra (VTK)")
    from napari_c2w.cli import main
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom

    case = generate_phantom(0, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25)).to_case()
    write_case_store(case, store_path(tmp_path / "ds", case.case_id))
    assert main(["export", str(tmp_path / "ds"), "--format", "vtk", "-o", str(tmp_path / "out")]) == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["phantom_0000.vtk", "phantom_0000_regions.csv"]
    head = (tmp_path / "out" / "phantom_0000.vtk").read_bytes()[:100].split(b"\n")
    assert head[0] == b"# vtk DataFile Version 4.2" and head[3] == b"DATASET POLYDATA"
    from vtkmodules.vtkIOLegacy import vtkPolyDataReader

    reader = vtkPolyDataReader()  # what MITK/CemrgApp read it with
    reader.SetFileName(str(tmp_path / "out" / "phantom_0000.vtk"))
    reader.Update()
    data = reader.GetOutput().GetPointData()
    names = {data.GetArrayName(i) for i in range(data.GetNumberOfArrays())}
    assert {"max_iir", "region", "thickness_mm"} <= names
