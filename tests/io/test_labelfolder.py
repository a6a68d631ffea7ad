"""The export registry lists every format without importing it, and the label folder
(``predict --format nifti|nrrd``) is committed whole by the one commit of ``io/commit.py``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from napari_c2w.io.export import FORMATS, export_cases


def test_registry_lists_surface_without_importing_it():
    code = (
        "import sys; from napari_c2w.io.export import FORMATS; "
        "print(','.join(FORMATS)); print('napari_c2w.surface' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names, imported = done.stdout.split()
    assert {"surface", "vtk", "vtp", "ply", "nifti-folder", "nrrd-folder"} <= set(names.split(","))
    assert imported == "False"  # listed lazily: the surface (VTK) floor is not imported
    assert "vtk" in FORMATS.help("surface")


def test_label_folder_writes_one_file_a_structure_read_back(tmp_path, small_case):
    import SimpleITK as sitk

    (done,) = export_cases([small_case], tmp_path, "nifti-folder")
    folder = tmp_path / small_case.case_id
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{s}.nii.gz" for s in small_case.structures] + ["prediction.json"]
    )
    for s in small_case.structures:
        back = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / f"{s}.nii.gz")))
        np.testing.assert_array_equal(back, small_case.labels[s])
    assert json.loads((folder / "prediction.json").read_text())["case_id"] == small_case.case_id
    assert set(done.files) == set(folder.iterdir())


def test_label_folder_failing_mid_write_leaves_the_old_folder_and_no_temporaries(
    tmp_path, small_case, monkeypatch
):
    from napari_c2w.io import labelfolder

    export_cases([small_case], tmp_path, "nrrd-folder")
    before = {p.name: p.read_bytes() for p in (tmp_path / small_case.case_id).iterdir()}
    calls = []
    write = labelfolder.write_volume

    def fail_second(volume, path, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return write(volume, path, **kwargs)

    monkeypatch.setattr(labelfolder, "write_volume", fail_second)
    with pytest.raises(OSError, match="No space"):
        export_cases([small_case], tmp_path, "nrrd-folder", overwrite=True)
    after = {p.name: p.read_bytes() for p in (tmp_path / small_case.case_id).iterdir()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == [small_case.case_id]
