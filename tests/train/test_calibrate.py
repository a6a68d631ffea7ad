"""Threshold calibration: the choice, the end of a training run, and napari-c2w-train --calibrate."""

from __future__ import annotations

import pytest

from napari_c2w.models import read_checkpoint
from napari_c2w.train.cli import main as train_main
from testutils import write_phantom_dataset


def test_choose_threshold_takes_the_best_mean_dice_but_keeps_0_5_without_a_real_gain():
    from napari_c2w.train.calibrate import choose_threshold

    thresholds = (0.4, 0.5, 0.6, 0.7)
    rows = [{"case": "a", "dice": [0.80, 0.85, 0.88, 0.87]}, {"case": "b", "dice": [0.70, 0.80, 0.84, 0.82]}]
    record = choose_threshold(rows, thresholds)
    assert record["threshold"] == 0.6 and record["mean_dice"] == pytest.approx(0.86)
    assert record["mean_dice_at_0.5"] == pytest.approx(0.825) and record["cases"] == ["a", "b"]
    flat = [{"case": "a", "dice": [0.80, 0.850, 0.851, 0.80]}]
    assert choose_threshold(flat, thresholds)["threshold"] == 0.5, "a 0.001 gain is noise"
    with pytest.raises(ValueError, match="no validation case"):
        choose_threshold([], thresholds)
    with pytest.raises(ValueError, match=r"include 0\.5"):
        choose_threshold(rows, (0.4, 0.6, 0.7, 0.8))


def test_runs_end_with_a_threshold_calibrated_on_their_validation_cases(cavity_run):
    import json

    from napari_c2w.train.calibrate import THRESHOLDS

    meta = read_checkpoint(cavity_run / "best.pt")["meta"]
    record = meta["threshold_calibration"]
    assert meta["threshold"] == record["threshold"] and meta["threshold"] in THRESHOLDS
    assert record["cases"] == meta["training_data"]["val_cases"]
    assert set(record["curve"]) == {f"{t:.2f}" for t in THRESHOLDS}
    assert record["mean_dice"] >= record["mean_dice_at_0.5"]
    assert json.loads((cavity_run / "run.json").read_text())["threshold_calibration"] == record
    assert not (cavity_run / "best.pt.prev").exists()


def test_calibrate_cli_writes_a_new_checkpoint_and_refuses_bad_requests(
    dataset, cavity_run, tmp_path, capsys
):
    source = cavity_run / "best.pt"
    before = source.read_bytes()
    out = tmp_path / "calibrated.pt"
    args = ["--calibrate", str(source), "--data", str(dataset), "--output", str(out), "--device", "cpu"]
    assert train_main(args) == 0
    printed = capsys.readouterr()  # status on stderr, the new checkpoint (the data) on stdout
    assert "mean validation Dice by threshold" in printed.err and printed.out.strip() == str(out)
    meta = read_checkpoint(out)["meta"]
    assert (
        meta["threshold_calibration"]["cases"]
        == read_checkpoint(source)["meta"]["training_data"]["val_cases"]
    )
    assert source.read_bytes() == before, "the source checkpoint is untouched"
    written = out.read_bytes()
    assert train_main(args) == 2 and "never overwrites" in capsys.readouterr().err
    assert out.read_bytes() == written
    empty = tmp_path / "other"
    write_phantom_dataset(empty, [9])
    assert train_main([*args[:3], str(empty), "--output", str(tmp_path / "x.pt")]) == 2
    assert "validation cases" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()
    assert train_main([*args[:2], "--output", str(tmp_path / "y.pt")]) == 2
