"""Issue 31 item 10: every command verifies the labels it reads, not only ``check``.

A label on another grid (other spacing or origin than the image) or holding values other than
0/1 (or 0 and its structure's value) is refused by reading the store, naming the store, the
label and the fix; review, report and export list the case as failed and go on.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.errors import C2WError
from napari_c2w.io.store import read_case_store
from napari_c2w.labels import LABELS


def _set_label_transform(store, name, kind, value) -> None:
    import zarr

    grp = zarr.open_group(str(store / "labels" / name), mode="r+")
    ome = grp.attrs["ome"]
    for t in ome["multiscales"][0]["datasets"][0]["coordinateTransformations"]:
        if t["type"] == kind:
            t[kind] = value
            break
    else:
        ome["multiscales"][0]["datasets"][0]["coordinateTransformations"].append({"type": kind, kind: value})
    grp.attrs["ome"] = ome


def _set_label_values(store, name, values) -> None:
    import zarr

    arr = zarr.open_array(str(store / "labels" / name / "s0"), mode="r+")
    data = np.asarray(arr[...]).astype(np.uint8)
    arr[...] = np.where(data > 0, values[1], values[0]).astype(arr.dtype)


DAMAGE = {
    "other spacing": (lambda s: _set_label_transform(s, "scar", "scale", [2.5, 1.25, 1.25]), "scar", "grid"),
    "other origin": (lambda s: _set_label_transform(s, "cavity", "translation", [0, 4, 0]), "cavity", "grid"),
    "values 0 and 7": (lambda s: _set_label_values(s, "cavity", (0, 7)), "cavity", "7"),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_reading_a_damaged_label_is_refused(dataset, damage):
    make, label, word = DAMAGE[damage]
    store = dataset / "b.ome.zarr"
    make(store)
    with pytest.raises(C2WError) as info:
        read_case_store(store)
    message = str(info.value)
    assert "b.ome.zarr" in message and f"{label} label" in message and word in message, message
    assert "napari-c2w check" in message or "re-import" in message, message


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_commands_list_a_damaged_label_as_failed(dataset, damage, tmp_path, capsys):
    make, label, _ = DAMAGE[damage]
    make(dataset / "b.ome.zarr")
    commands = {
        "review": ["review", str(dataset)],
        "export": ["export", str(dataset), "--format", "nifti", "-o", str(tmp_path / "out")],
        "report": ["report", str(dataset), "-o", str(tmp_path / "report.csv")],
    }
    for name, args in commands.items():
        assert main(args) == 1, f"{name} used the damaged {label} label"
        err = capsys.readouterr().err
        assert "2 case(s) done, 1 failed" in err and "FAILED b.ome.zarr" in err, f"{name}: {err[-600:]}"
        assert f"{label} label" in err, err[-600:]
    assert not list((tmp_path / "out").glob("b*")), "export wrote the damaged case"


def test_napari_reader_refuses_a_damaged_label(dataset):
    from napari_c2w._reader import read_layers

    _set_label_values(dataset / "b.ome.zarr", "cavity", (0, 7))
    with pytest.raises(C2WError, match=r"b\.ome\.zarr.*cavity label"):
        read_layers(str(dataset / "b.ome.zarr"))


def test_training_refuses_a_damaged_label(dataset):
    from napari_c2w.train.config import TrainConfig
    from napari_c2w.train.data import prepare_case

    _set_label_transform(dataset / "b.ome.zarr", "scar", "scale", [2.5, 1.25, 1.25])
    with pytest.raises(C2WError, match=r"b\.ome\.zarr.*scar label"):
        prepare_case(dataset / "b.ome.zarr", TrainConfig())


def test_a_label_holding_its_structure_value_still_reads(dataset, capsys):
    """Other tools store a structure as 0/value (scar 0/3): legal, read as a 0/1 mask."""
    store = dataset / "a.ome.zarr"
    _set_label_values(store, "scar", (0, LABELS["scar"]))
    case = read_case_store(store)
    assert set(np.unique(case.labels["scar"]).tolist()) == {0, 1}
    assert main(["check", str(dataset)]) == 0, capsys.readouterr().out
