"""Bad user files give an error naming the file and the fix, never a traceback (issue 31, item 11).

Each test builds one kind of bad file that used to end in a traceback: store attributes of the
wrong type, nnU-Net ``dataset.json`` files napari-c2w cannot map, a checkpoint whose stored
architecture would need hundreds of gigabytes, a run folder killed between ``config.yaml`` and
``split.json``, and the smaller ones found by reading the JSON/YAML parsers of io/ and train/.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_c2w.cli import main
from napari_c2w.errors import InputError
from napari_c2w.io import Volume
from napari_c2w.io.store import read_case_store, read_store_attrs, store_path
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.io.volumewrite import write_volume


def _set_attribute(store, key, value) -> None:
    meta = store / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["napari_c2w"][key] = value
    meta.write_text(json.dumps(doc))


# --------------------------------------------------------------------------- a. store attributes


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("provenance", 5),
        ("attrs", 5),
        ("sources", [1]),
        ("versions", 5),
        ("direction", 5),
        ("provenance", [1]),
    ],
)
def test_check_reports_a_store_with_attributes_of_the_wrong_type_and_goes_on(
    tiny_case, tmp_path, capsys, key, value
):
    ds = tmp_path / "ds"
    bad = write_case_store(tiny_case, store_path(ds, "bad"))
    write_case_store(tiny_case, store_path(ds, "good"))
    _set_attribute(bad, key, value)
    assert main(["check", str(ds)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL bad.ome.zarr\n     problem: its napari_c2w attribute {key!r}" in out
    assert "OK   good.ome.zarr" in out


@pytest.mark.parametrize(("key", "value"), [("provenance", 5), ("attrs", 5), ("versions", {"scar": 3})])
def test_other_commands_refuse_a_store_with_attributes_of_the_wrong_type(
    tiny_case, tmp_path, capsys, key, value
):
    store = write_case_store(tiny_case, store_path(tmp_path / "ds", "t"))
    _set_attribute(store, key, value)
    for read in (read_case_store, read_store_attrs):
        with pytest.raises(InputError, match=f"its napari_c2w attribute {key!r}") as info:
            read(store)
        assert info.value.path == store
    assert main(["review", str(store), "--clean"]) == 1  # the batch lists it as failed
    err = capsys.readouterr().err
    assert f"t.ome.zarr: its napari_c2w attribute {key!r}" in err and "Traceback" not in err


# --------------------------------------------------------------------------- b. nnU-Net dataset.json


def _nnunet(tmp_path, meta) -> str:
    folder = tmp_path / "Dataset001_LA"
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    rng = np.random.default_rng(0)
    write_volume(
        Volume(rng.integers(0, 200, (6, 20, 24)).astype(np.uint8)), folder / "imagesTr" / "a_0000.nrrd"
    )
    lab = np.zeros((6, 20, 24), np.uint8)
    lab[2:4, 5:10, 5:10] = 1
    write_volume(Volume(lab), folder / "labelsTr" / "a.nrrd")
    (folder / "dataset.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return str(folder)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (
            {"labels": {"background": 0, "cavity": [1, 2], "wall": 2}, "file_ending": ".nrrd"},
            "region-based training",
        ),
        ({"labels": {"background": 0, "cavity": 1}, "file_ending": 5}, "'file_ending' 5 is not"),
        (
            {"labels": {"background": 0, "cavity": 1}, "file_ending": "/../x.nrrd"},
            "'file_ending' '/../x.nrrd'",
        ),
    ],
)
def test_unusable_nnunet_dataset_json_is_a_clear_error(tmp_path, capsys, meta, message):
    folder = _nnunet(tmp_path, meta)
    assert main(["import", folder, "-o", str(tmp_path / "out")]) in (1, 2)
    err = capsys.readouterr().err
    assert "Dataset001_LA/dataset.json: " in err and message in err, err
    assert "Traceback" not in err
    assert "--label-map" in err or "file_ending" in message


def test_region_based_dataset_json_imports_with_a_label_map(tmp_path):
    folder = _nnunet(
        tmp_path, {"labels": {"background": 0, "cavity": [1, 2], "wall": 2}, "file_ending": ".nrrd"}
    )
    assert main(["import", folder, "-o", str(tmp_path / "out"), "--label-map", "1=cavity"]) == 0
    assert read_case_store(tmp_path / "out" / "a.ome.zarr").labels["cavity"].sum() == 50


# --------------------------------------------------------------------------- c. huge checkpoints


def test_checkpoint_asking_for_hundreds_of_gigabytes_is_refused_before_building(tmp_path):
    import torch

    from napari_c2w.models import build_model, load_checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path / "ok.pt", build_model("tiny"), {"stage": "cavity", "preset": "tiny"})
    payload = torch.load(path, weights_only=True)
    payload["meta"]["architecture"]["features"] = [2_000_000] * len(
        payload["meta"]["architecture"]["features"]
    )
    torch.save(payload, tmp_path / "huge.pt")
    with pytest.raises(InputError, match=r"huge\.pt: its stored architecture has .* parameters") as info:
        load_checkpoint(tmp_path / "huge.pt")
    assert "GB" in str(info.value)


def test_checkpoint_with_absurdly_many_blocks_is_refused_quickly(tmp_path):
    import torch

    from napari_c2w.models import build_model, load_checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path / "ok.pt", build_model("tiny"), {"stage": "cavity", "preset": "tiny"})
    payload = torch.load(path, weights_only=True)
    payload["meta"]["architecture"]["blocks"] = [10**9] * len(payload["meta"]["architecture"]["blocks"])
    torch.save(payload, tmp_path / "deep.pt")
    with pytest.raises(InputError, match=r"deep\.pt: its stored architecture has .* blocks"):
        load_checkpoint(tmp_path / "deep.pt")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("spacing", "abc", "'spacing' 'abc' is not 3 positive numbers"),
        ("roi", None, "'roi' None is not 3 positive whole numbers"),
        ("patch", [1, 2], "'patch' [1, 2] is not 3 positive whole numbers"),
        ("threshold", "high", "'threshold' 'high' is not a number between 0 and 1"),
        ("training_data", 5, "'training_data' 5 is not a mapping"),
        ("intensity_normalisation", [1], "'intensity_normalisation' [1] is not a mapping"),
    ],
)
def test_checkpoint_meta_of_the_wrong_type_is_refused_on_load(tmp_path, key, value, message):
    import torch

    from napari_c2w.models import build_model, load_checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path / "ok.pt", build_model("tiny"), {"stage": "cavity", "preset": "tiny"})
    payload = torch.load(path, weights_only=True)
    payload["meta"][key] = value
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(InputError, match=r"bad\.pt: its meta ") as info:
        load_checkpoint(tmp_path / "bad.pt")
    assert message in str(info.value)


# --------------------------------------------------------------------------- d. run folders


def test_resume_of_a_run_killed_between_config_and_split_is_a_clear_error(tmp_path, capsys):
    from napari_c2w.train import load_config
    from napari_c2w.train.cli import main as train_main
    from napari_c2w.train.config import dump_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_config(load_config(stage="cavity")))
    assert train_main(["--resume", "--output", str(run)]) == 2
    err = capsys.readouterr().err
    assert "run: holds config.yaml but no split.json" in err and "--data" in err, err


def test_resume_after_a_real_kill_between_config_and_split(tmp_path):
    """napari-c2w-train killed right after config.yaml is committed (crash point text-committed)."""
    import subprocess
    import sys

    from relutils import child_env

    from testutils import write_phantom_dataset

    data = write_phantom_dataset(tmp_path / "data", [1, 2])
    run = tmp_path / "run"
    start = [sys.executable, "-m", "napari_c2w.train.cli", "--stage", "cavity", "--preset", "tiny"]
    start += ["--data", str(data), "--output", str(run), "--iterations", "1", "--val-every", "1"]
    killed = subprocess.run(
        start,
        env=child_env(NAPARI_C2W_CRASH_AT="text-committed:1"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    assert (run / "config.yaml").is_file() and not (run / "split.json").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "napari_c2w.train.cli", "--resume", "--output", str(run)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 2 and "Traceback" not in resumed.stderr, resumed.stderr
    assert "holds config.yaml but no split.json" in resumed.stderr


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ('{"train": [', "could not be read as JSON"),
        ('{"train": []}', "has no 'val' list"),
        ("[1]", "not a mapping"),
    ],
)
def test_resume_with_an_unreadable_split_is_a_clear_error(tmp_path, capsys, split, message):
    from napari_c2w.train import load_config
    from napari_c2w.train.cli import main as train_main
    from napari_c2w.train.config import dump_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_config(load_config(stage="cavity")))
    (run / "split.json").write_text(split)
    assert train_main(["--resume", "--output", str(run)]) == 2
    err = capsys.readouterr().err
    assert "split.json: " in err and message in err, err


# --------------------------------------------------------------------------- e. other parsers

FIELDS = "iteration,phase,step,loss,lr,dice,seconds"


def _row(i: int) -> dict:
    return {
        "iteration": i,
        "phase": "train",
        "step": "",
        "loss": 0.5,
        "lr": 0.001,
        "dice": 0.8,
        "seconds": 1.5,
    }


@pytest.mark.parametrize(
    "tail",
    [
        "6,train,,0.41",  # a kill while the row was appended: no line end
        "x,y\n",  # an edited or damaged row
        "6,train,,0.41,0.001,0.8,1.5,extra,fields\n",
    ],
)
def test_resume_drops_a_metrics_row_cut_short_by_a_kill(tmp_path, tail):
    import csv

    from napari_c2w.train.rundir import RunDir

    run = RunDir(tmp_path)
    (tmp_path / "metrics.csv").write_text(
        f"{FIELDS}\n2,train,,0.5,0.001,0.8,1.5\n4,train,,0.5,0.001,0.8,1.5\n{tail}"
    )
    run.truncate_metrics(6)
    run.log_metrics(_row(6))
    with open(tmp_path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["iteration"] for r in rows] == ["2", "4", "6"]
    assert all(None not in r and None not in r.values() for r in rows)


@pytest.mark.parametrize("text", ["itera", ""])
def test_a_metrics_file_killed_while_its_header_was_written_gets_a_new_one(tmp_path, text):
    import csv

    from napari_c2w.train.rundir import RunDir

    run = RunDir(tmp_path)
    (tmp_path / "metrics.csv").write_text(text)
    run.truncate_metrics(4)
    run.log_metrics(_row(2))
    with open(tmp_path / "metrics.csv", newline="") as fh:
        assert [r["iteration"] for r in csv.DictReader(fh)] == ["2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: 5\n", "'data' must be a mapping"),
        ("augment:\n  blur: 5\n", "'augment.blur' must be a mapping"),
        ("augment: [blur]\n", "'augment' must be a mapping"),
    ],
)
def test_training_config_of_the_wrong_shape_is_a_clear_error(tmp_path, capsys, text, message):
    from napari_c2w.train.cli import main as train_main

    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    assert train_main(["--dump-config", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: " in err and message in err, err


@pytest.mark.parametrize("doc", ["[1, 2]", '{"attributes": 5}', '{"attributes": {"ome": 5}}'])
def test_zarr_json_of_the_wrong_shape_is_not_an_image(tmp_path, doc):
    from napari_c2w._reader import napari_get_reader
    from napari_c2w.io.omezarr import is_3d_ome_zarr

    folder = tmp_path / "x.ome.zarr"
    folder.mkdir()
    (folder / "zarr.json").write_text(doc)
    assert not is_3d_ome_zarr(folder)
    reader = napari_get_reader(str(folder))
    if reader is not None:
        with pytest.raises(InputError):
            reader(str(folder))
