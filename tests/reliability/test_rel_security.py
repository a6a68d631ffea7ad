"""Issue 31 items 1-3: names and headers taken from files cannot reach outside their folders.

1. A store's ``case_id`` attribute is refused when it is no plain name (export, report
   --surface-dir and check), and every writer joining a name into an output folder is confined.
2. NRRD/MetaImage headers naming a data file outside their folder (or a device, or a file of
   another size) are refused before SimpleITK reads it.
3. Declared sizes are checked against memory and the compressed bytes, and a label's shape
   against the image's, before any voxel is read.
"""

from __future__ import annotations

import gzip
import json
import time

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.errors import InputError
from napari_c2w.io import Case, Volume
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.io.volume import read_volume
from napari_c2w.io.volumewrite import write_volume

# --------------------------------------------------------------------------- 1: case ids of stores


def _set_case_id(store, case_id) -> None:
    meta = store / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["napari_c2w"]["case_id"] = case_id
    meta.write_text(json.dumps(doc))


@pytest.fixture
def dataset(tmp_path, tiny_case):
    data = tmp_path / "data"
    for name in ("a", "b"):
        tiny_case.case_id = name
        write_case_store(tiny_case, data / f"{name}.ome.zarr")
    return data


def _bad_ids(tmp_path) -> list[str]:
    return [str(tmp_path / "elsewhere" / "x"), "../../x", "..", " ", "x\u202ey"]


@pytest.mark.parametrize("which", range(5))
def test_export_refuses_a_store_case_id_that_leaves_the_output(dataset, tmp_path, capsys, which):
    bad = _bad_ids(tmp_path)[which]
    _set_case_id(dataset / "b.ome.zarr", bad)
    out = tmp_path / "deep" / "er" / "out"
    assert main(["export", str(dataset), "--format", "nifti", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "1 case(s) done, 1 failed" in err
    assert "b.ome.zarr: has an unusable case id" in err and "case_id" in err
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.nii.gz"))
    assert [p.parent for p in written] == [out.relative_to(tmp_path)] * 2  # only a's two files


def test_check_reports_a_bad_case_id(dataset, tmp_path, capsys):
    _set_case_id(dataset / "b.ome.zarr", "../../x")
    assert main(["check", str(dataset)]) == 1
    out = capsys.readouterr().out
    assert "OK   a.ome.zarr" in out and "FAIL b.ome.zarr" in out and "case id '../../x'" in out


def test_report_surface_dir_stays_inside(dataset, tmp_path, capsys):
    _set_case_id(dataset / "b.ome.zarr", "../x")
    surf = tmp_path / "surf"
    args = ["-o", str(tmp_path / "r.csv"), "--surface-dir", str(surf), "--erode-mm", "1"]
    code = main(["report", str(dataset), *args])
    assert code == 1
    assert "b.ome.zarr: has an unusable case id" in capsys.readouterr().err
    assert not [p for p in tmp_path.glob("x*")]
    assert sorted(p.name for p in surf.iterdir()) == ["a.ply", "a.vtk", "a.vtp", "a_regions.csv"]


@pytest.mark.parametrize("fmt", ["nifti", "nrrd", "seg.nrrd", "nnunet", "vtk"])
def test_every_export_writer_is_confined(tiny_case, tmp_path, fmt):
    from napari_c2w.io.export import export_cases
    from napari_c2w.surface import export as _surface  # noqa: F401 (registers the surface formats)

    case = Case(tiny_case.image, dict(tiny_case.labels), case_id="../escaped")
    out = tmp_path / "o" / ("Dataset501_LA" if fmt == "nnunet" else "out")
    structures = ("cavity", "scar") if fmt == "nnunet" else ("cavity", "wall", "scar")
    with pytest.raises(InputError, match="is outside the output folder"):
        export_cases([case], out, fmt, structures=structures)
    assert not [p for p in tmp_path.rglob("escaped*")]


def test_confined():
    from pathlib import Path

    from napari_c2w._fs import confined

    assert confined(Path("/tmp/out"), "a_image.nii.gz") == Path("/tmp/out/a_image.nii.gz")
    for name in ("../a", "/etc/passwd", "..", "", "x/../../y"):
        with pytest.raises(InputError):
            confined(Path("/tmp/out"), name)


# --------------------------------------------------------------------------- 2: data files of headers

_NHDR = (
    "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 24 20 6\nspacings: 1 1 2\nencoding: {enc}\n"
    "endian: little\n{field}: {ref}\n"
)
_MHD = (
    "ObjectType = Image\nNDims = 3\nDimSize = 24 20 6\nElementType = MET_UCHAR\n"
    "ElementSpacing = 1 1 2\nElementDataFile = {ref}\n"
)


@pytest.fixture
def voxels():
    return np.random.default_rng(0).integers(1, 200, (6, 20, 24), dtype=np.uint8).tobytes()


@pytest.fixture
def secret(tmp_path, voxels):
    """A file outside the header's folder, of just the size the headers declare."""
    path = tmp_path / "secret.bin"
    path.write_bytes(voxels)
    return path


def _header(folder, name: str, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _refs(secret) -> dict[str, str]:
    return {"absolute": str(secret), "dotdot": "../secret.bin", "list": "LIST 3\n../secret.bin"}


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "list"])
@pytest.mark.parametrize("name", ["img.nhdr", "img.nrrd", "img.mhd"])
def test_header_cannot_pull_in_a_file_outside_its_folder(tmp_path, secret, capsys, kind, name):
    ref = _refs(secret)[kind]
    if name.endswith(".mhd"):
        text = _MHD.format(ref=ref)
    else:
        text = _NHDR.format(enc="raw", field="data file", ref=ref)
    header = _header(tmp_path / "in", name, text)
    out = tmp_path / "out"
    assert main(["import", str(header), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{header}: names the data file" in err and "secret.bin" in err and "outside" in err
    assert not list(out.glob("*.ome.zarr"))


def test_datafile_spelling_and_format_form_are_checked(tmp_path, secret):
    a = _header(tmp_path / "in", "a.nhdr", _NHDR.format(enc="raw", field="datafile", ref="../secret.bin"))
    with pytest.raises(InputError, match="outside the header's folder"):
        read_volume(a)
    ref = "../sl%02d.raw 0 5 1 2"
    b = _header(tmp_path / "in", "b.nhdr", _NHDR.format(enc="raw", field="data file", ref=ref))
    for k in range(6):
        (tmp_path / f"sl{k:02d}.raw").write_bytes(bytes(480))
    with pytest.raises(InputError, match=r"'\.\./sl00\.raw'.*outside"):
        read_volume(b)
    c = _header(tmp_path / "in", "c.nhdr", _NHDR.format(enc="raw", field="data file", ref="x%s 0 5 1"))
    with pytest.raises(InputError, match="a form napari-c2w cannot check"):
        read_volume(c)


def test_data_file_linked_to_a_device_is_refused(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "img.raw").symlink_to("/dev/urandom")
    header = _header(folder, "img.nhdr", _NHDR.format(enc="raw", field="data file", ref="img.raw"))
    started = time.monotonic()
    with pytest.raises(InputError, match=r"img\.nhdr: names the data file 'img\.raw'"):
        read_volume(header)
    assert time.monotonic() - started < 5


def test_data_file_of_another_size_is_refused(tmp_path, voxels):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "img.raw").write_bytes(voxels + b"more bytes than declared")
    header = _header(folder, "img.mhd", _MHD.format(ref="img.raw"))
    with pytest.raises(InputError, match=r"img\.mhd: declares 2880 bytes of voxel data but its data file"):
        read_volume(header)


def test_detached_headers_inside_their_folder_still_read(tmp_path, voxels):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "img.raw").write_bytes(voxels)
    (folder / "img.raw.gz").write_bytes(gzip.compress(voxels))
    expected = np.frombuffer(voxels, np.uint8).reshape(6, 20, 24)
    headers = [
        _header(folder, "a.nhdr", _NHDR.format(enc="raw", field="data file", ref="sub/img.raw")),
        _header(folder, "b.nhdr", _NHDR.format(enc="gzip", field="data file", ref="img.raw.gz")),
        _header(folder, "c.mhd", _MHD.format(ref="sub/img.raw")),
        _header(folder, "d.nhdr", _NHDR.format(enc="raw", field="data file", ref="LIST 3\nsub/img.raw")),
    ]
    for header in headers:
        assert np.array_equal(read_volume(header).array, expected), header.name


# --------------------------------------------------------------------------- 3: sizes before voxels


def test_small_gzip_nrrd_declaring_gigabytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.nrrd"
    head = b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 1200 1200 1200\nencoding: gzip\n\n"
    path.write_bytes(head + gzip.compress(bytes(100_000)))
    started = time.monotonic()
    with pytest.raises(
        InputError,
        match=r"bomb\.nrrd: declares 1(728000000 bytes of voxel data|\.7 GB of voxels, more than fits)",
    ):
        read_volume(path)
    assert time.monotonic() - started < 5


def test_declared_size_is_checked_against_available_memory(tmp_path, tiny_case, monkeypatch):
    from napari_c2w.io import filecheck

    path = write_volume(tiny_case.image, tmp_path / "img.nrrd")
    monkeypatch.setattr(filecheck, "available_memory", lambda: 4000)
    with pytest.raises(
        InputError, match=r"img\.nrrd: declares .* more than fits in the 0\.0 GB of memory available"
    ):
        read_volume(path)


def test_label_shape_is_compared_before_its_voxels_are_read(tmp_path, tiny_case, capsys, monkeypatch):
    import SimpleITK as sitk

    image = write_volume(tiny_case.image, tmp_path / "img.nrrd")
    big = Volume(np.zeros((12, 40, 48), np.uint8), tiny_case.image.spacing)
    label = write_volume(big, tmp_path / "cavity.nrrd")
    read = []
    real = sitk.ReadImage
    monkeypatch.setattr(sitk, "ReadImage", lambda p, *a, **k: read.append(str(p)) or real(p, *a, **k))
    assert main(["import", str(image), "--cavity", str(label), "-o", str(tmp_path / "out")]) == 1
    assert (
        "cavity.nrrd: has shape (12, 40, 48) (z, y, x) but img.nrrd has (6, 20, 24)"
        in capsys.readouterr().err
    )
    assert str(label) not in read


def test_check_compares_a_store_label_shape_before_reading_it(dataset, capsys, monkeypatch):
    import zarr

    from napari_c2w.io import store

    path = dataset / "a.ome.zarr" / "labels" / "cavity" / "s0"
    old = zarr.open_array(str(path), mode="r")
    arr = zarr.create_array(str(path), shape=(12, 20, 24), chunks=old.chunks, dtype="uint8", overwrite=True)
    arr[...] = 1
    read = []
    real = store.read_array
    monkeypatch.setattr(
        store, "read_array", lambda a, p, name, c: read.append((p.name, name)) or real(a, p, name, c)
    )
    assert main(["check", str(dataset)]) == 1
    assert "its cavity label has shape (12, 20, 24) but the image has (6, 20, 24)" in capsys.readouterr().out
    assert ("a.ome.zarr", "labels/cavity/s0") not in read and ("b.ome.zarr", "labels/cavity/s0") in read
