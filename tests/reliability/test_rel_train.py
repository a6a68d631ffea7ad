"""Training errors: clean messages, reusable never-trained runs, portable split.json, loss after resume."""

from __future__ import annotations

import csv
import json
import os

import pytest
import yaml

from napari_c2w.train import load_config
from napari_c2w.train.api import train
from napari_c2w.train.cli import main as train_main
from testutils import SMALL_TRAIN, small_train_config, write_phantom_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_phantom_dataset(tmp_path_factory.mktemp("phantoms"), [1, 2, 3])


def _args(dataset, out, tmp_path, *extra):
    cfg = tmp_path / "small.yaml"
    cfg.write_text(yaml.safe_dump({"threads": 1, "data": SMALL_TRAIN["data"]}))
    return ["--stage", "cavity", "--preset", "tiny", "--data", str(dataset), "--output", str(out),
            "--iterations", "2", "--val-every", "2", "--config", str(cfg), *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--val-every", "0", "val_every must be at least 1"),
        ("--iterations", "0", "iterations must be at least 1"),
        ("--preset", "huge", "unknown preset 'huge'"),
    ],
)
def test_bad_settings_are_clean_errors(dataset, tmp_path, capsys, flag, value, message):  # noqa: PLR0917
    args = _args(dataset, tmp_path / "r", tmp_path)
    args[args.index(flag) + 1] = value
    assert train_main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cuda_without_a_gpu_is_a_clean_error(dataset, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert train_main(_args(dataset, tmp_path / "r", tmp_path, "--device", "cuda")) == 2
    assert "--device: device 'cuda' was requested but is not available" in capsys.readouterr().err


def test_ctrl_c_during_data_preparation_leaves_a_reusable_run(dataset, tmp_path, capsys, monkeypatch):
    from napari_c2w.train import api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "prepare_all", interrupted)
    out = tmp_path / "r"
    assert train_main(_args(dataset, out, tmp_path)) == 130
    assert "interrupted before training started" in capsys.readouterr().err
    monkeypatch.undo()
    assert train_main(["--resume", "--output", str(out)]) == 0  # resumable ...
    assert (out / "best.pt").is_file()
    out2 = tmp_path / "r2"
    monkeypatch.setattr(api, "prepare_all", interrupted)
    assert train_main(_args(dataset, out2, tmp_path)) == 130
    monkeypatch.undo()
    assert train_main(_args(dataset, out2, tmp_path)) == 0  # ... or reusable with the same command


def test_split_json_paths_resolve_from_anywhere(dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(dataset.parent)
    train(small_train_config("cavity", iterations=2, val_every=2), dataset.name, tmp_path / "r", stop_after=1)
    split = json.loads((tmp_path / "r" / "split.json").read_text())
    assert all(os.path.isabs(p) for p in split["train"] + split["val"])
    monkeypatch.chdir(tmp_path)
    resumed = train(load_config(tmp_path / "r" / "config.yaml"), None, tmp_path / "r", resume=True)
    assert resumed.status == "completed"


def test_loss_column_after_resume_matches_an_uninterrupted_run(dataset, tmp_path):
    config = dict(iterations=6, val_every=3, amp="off")
    train(small_train_config("cavity", **config), dataset, tmp_path / "full")
    train(small_train_config("cavity", **config), dataset, tmp_path / "part", stop_after=4)
    train(load_config(tmp_path / "part" / "config.yaml"), None, tmp_path / "part", resume=True)

    def losses(run):
        return [r["loss"] for r in csv.DictReader(open(tmp_path / run / "metrics.csv"))]

    assert losses("part") == losses("full")
