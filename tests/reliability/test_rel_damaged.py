"""Defect 4: damaged stores are listed failures with reasons; ``napari-c2w check`` finds them."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.errors import InputError
from napari_c2w.io.store import read_case_store
from napari_c2w.io.storewrite import write_case_store


@pytest.fixture
def dataset(tmp_path, tiny_case):
    for name in ("a", "b", "c"):
        tiny_case.case_id = name
        write_case_store(tiny_case, tmp_path / f"{name}.ome.zarr")
    return tmp_path


def test_invalid_zarr_json_is_a_listed_failure(dataset, capsys):
    (dataset / "b.ome.zarr" / "zarr.json").write_text("{not json")
    assert main(["review", str(dataset)]) == 1
    err = capsys.readouterr().err
    assert "2 case(s) done, 1 failed" in err and "FAILED b.ome.zarr" in err and "zarr.json" in err


def test_deeply_nested_zarr_json_does_not_abort_the_batch(dataset, capsys):
    (dataset / "b.ome.zarr" / "zarr.json").write_text("[" * 100_000 + "]" * 100_000)
    assert main(["review", str(dataset)]) == 1
    err = capsys.readouterr().err
    assert "2 case(s) done, 1 failed" in err and "RecursionError" in err


def test_missing_chunk_files_are_damage_not_zeros(dataset):
    path = dataset / "a.ome.zarr"
    chunks = sorted(p for p in (path / "labels" / "cavity").rglob("c/*/*/*") if p.is_file())
    assert chunks
    for c in chunks:
        c.unlink()
    with pytest.raises(InputError, match=r"a\.ome\.zarr: is damaged: .* chunk files of labels/cavity"):
        read_case_store(path)


def test_check_command(dataset, capsys):
    assert main(["check", str(dataset)]) == 0
    next((dataset / "c.ome.zarr" / "s0").rglob("c/*/*/*")).unlink()
    (dataset / "b.ome.zarr" / "zarr.json").write_text("{not json")
    assert main(["check", str(dataset)]) == 1
    out = capsys.readouterr().out
    assert "OK   a.ome.zarr" in out and "FAIL b.ome.zarr" in out and "FAIL c.ome.zarr" in out
    assert "chunk files of s0 are missing" in out


def test_check_finds_label_off_the_grid_and_bad_values(dataset, capsys):
    import zarr

    grp = zarr.open_group(str(dataset / "a.ome.zarr" / "labels" / "scar"), mode="r+")
    ome = grp.attrs["ome"]
    ome["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"] = [9.0, 9.0, 9.0]
    grp.attrs["ome"] = ome
    arr = zarr.open_array(str(dataset / "b.ome.zarr" / "labels" / "cavity" / "s0"), mode="r+")
    data = arr[...]
    data[0, 0, 0] = 7
    arr[...] = data
    assert main(["check", str(dataset)]) == 1
    out = capsys.readouterr().out
    assert "scar label is not on the image grid" in out
    assert "cavity label holds values [0, 1, 7]" in out
    assert np.asarray(read_case_store(dataset / "c.ome.zarr").labels["cavity"]).any()
