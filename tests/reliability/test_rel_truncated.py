"""Defect 2: truncated NIfTI (and NRRD) files are refused by import, the reader and predict."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from relutils import run_cli

from napari_c2w.cli import main
from napari_c2w.errors import InputError
from napari_c2w.io import Volume
from napari_c2w.io.store import read_case_store
from napari_c2w.io.volume import read_volume
from napari_c2w.io.volumewrite import write_volume
from testutils import LA2018, needs_la2018


@pytest.fixture(params=[".nii", ".nii.gz", ".nrrd"])
def truncated(request, tmp_path):
    """An image file cut at 60% of its bytes (for .nii.gz: of the compressed stream)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(20, 48, 40)).astype(np.int16)
    good = tmp_path / f"ok{request.param}"
    write_volume(Volume(image, (2.0, 0.6, 0.6)), good)
    if request.param == ".nrrd":  # SimpleITK compresses NRRD; write a raw one by hand
        header = b"NRRD0004\ntype: short\ndimension: 3\nsizes: 40 48 20\nencoding: raw\nendian: little\n\n"
        good.write_bytes(header + image.astype("<i2").tobytes())
    elif request.param == ".nii":
        raw = good.read_bytes()
        good.write_bytes(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    data = good.read_bytes()
    bad = tmp_path / f"trunc{request.param}"
    bad.write_bytes(data[: int(len(data) * 0.6)])
    return good, bad


def test_read_volume_refuses_a_truncated_file(truncated):
    good, bad = truncated
    assert read_volume(good).shape == (20, 48, 40)
    with pytest.raises(InputError, match=rf"{bad.name}: .*(declares|gzip)"):
        read_volume(bad)


def test_import_refuses_a_truncated_file(truncated, tmp_path):
    _, bad = truncated
    result = run_cli("import", bad, "-o", tmp_path / "out")
    assert result.returncode == 1, result.stderr[-800:]
    assert f"FAILED {bad.name.split('.')[0]}" in result.stderr and "truncated" in result.stderr
    assert not list((tmp_path / "out").glob("*.ome.zarr"))


def test_reader_refuses_a_truncated_file(truncated):
    from napari_c2w._reader import read_layers

    with pytest.raises(InputError, match="truncated"):
        read_layers(str(truncated[1]))


def test_header_declaring_more_than_memory_is_refused_before_allocating(tmp_path):
    bad = tmp_path / "huge.nrrd"
    bad.write_bytes(b"NRRD0004\ntype: double\ndimension: 3\nsizes: 100000 100000 100000\nencoding: gzip\n\n")
    with pytest.raises(InputError, match=r"huge\.nrrd: declares .* GB of voxels, more than"):
        read_volume(bad)


def test_predict_refuses_a_truncated_file(tmp_path):
    rng = np.random.default_rng(0)
    good = write_volume(
        Volume(rng.integers(0, 255, size=(20, 48, 40)).astype(np.int16)), tmp_path / "ok.nii.gz"
    )
    bad = tmp_path / "trunc.nii.gz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    result = run_cli("predict", bad, "-o", tmp_path / "out", "--device", "cpu")
    assert result.returncode == 1 and "trunc.nii.gz" in result.stderr and "gzip" in result.stderr


@needs_la2018()
@pytest.mark.realdata
def test_real_case_cut_as_in_the_issue_is_refused(tmp_path):
    """A real la2018 image as .nii.gz cut with ``head -c``: refused; the whole file imports."""
    folder = sorted(p for p in LA2018.iterdir() if p.is_dir())[0]
    good = write_volume(read_volume(folder / "lgemri.nrrd"), tmp_path / "ok.nii.gz")
    bad = tmp_path / "trunc.nii.gz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size * 6 // 10])
    with pytest.raises(InputError, match=r"trunc\.nii\.gz: is a cut or damaged gzip stream"):
        read_volume(bad)
    assert main(["import", str(folder), "-o", str(tmp_path / "ds")]) == 0  # real 0/255 labels pass
    assert read_case_store(tmp_path / "ds" / f"{folder.name}.ome.zarr").labels["cavity"].any()
