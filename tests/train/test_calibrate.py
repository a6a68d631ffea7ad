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


def test_under_shift_the_threshold_is_best_on_the_worst_shift():
    """A network sure of itself on clean cases (best at 0.7) but unsure under a contrast change
    (best at 0.4, falling off above) gets the threshold that holds under both."""
    from napari_c2w.train.calibrate import choose_threshold

    thresholds = (0.4, 0.5, 0.6, 0.7)
    clean = [{"case": "a", "dice": [0.80, 0.81, 0.82, 0.83]}]
    shifted = [{"case": "a", "shift": "contrast_remap", "dice": [0.60, 0.60, 0.55, 0.45]}]
    assert choose_threshold(clean, thresholds)["threshold"] == 0.7
    record = choose_threshold(clean + shifted, thresholds)
    assert record["threshold"] == 0.5 and record["criterion"] == "worst shift"
    assert record["mean_dice"] == pytest.approx(0.60) and record["cases"] == ["a"]
    assert set(record["curves"]) == {"none", "contrast_remap"}
    assert record["curves"]["none"]["0.70"] == pytest.approx(0.83)


def test_shifted_cases_change_only_the_image_once_per_training_intensity_shift():
    import numpy as np

    from napari_c2w.train.calibrate import INTENSITY_SHIFTS, shifted_cases
    from napari_c2w.train.config import default_augment
    from napari_c2w.train.data import Prepared

    rng = np.random.default_rng(0)
    image = rng.normal(size=(8, 16, 16)).astype(np.float32)
    labels = {"scar": (image > 1).astype(np.uint8)}
    case = Prepared("c", image, labels, (1.0, 1.0, 1.0), (4.0, 8.0, 8.0), (1.0, 1.0, 1.0))
    assert set(INTENSITY_SHIFTS) <= set(default_augment())
    for name in INTENSITY_SHIFTS:
        (copy,) = shifted_cases([case], name)
        assert copy.image.shape == image.shape and copy.image.dtype == np.float32
        assert not np.allclose(copy.image, image), f"{name} left the image as it was"
        assert copy.labels is labels and copy.case_id == "c"
        again = shifted_cases([case], name)[0].image
        assert np.array_equal(again, copy.image), f"{name} is not reproducible"
    assert np.array_equal(case.image, image), "the validation case itself is untouched"


def test_the_scar_calibrates_under_shift_by_default_and_other_stages_do_not():
    from napari_c2w.train.config import default_config, load_config

    assert default_config("scar").calibrate_under_shift
    assert not default_config("cavity").calibrate_under_shift
    assert not default_config("wall").calibrate_under_shift
    assert not load_config(None, "scar", {"calibrate_under_shift": False}).calibrate_under_shift


def test_calibrate_cli_under_shift_records_every_shift_curve(dataset, cavity_run, tmp_path, capsys):
    from napari_c2w.train.calibrate import INTENSITY_SHIFTS, THRESHOLDS

    out = tmp_path / "robust.pt"
    args = ["--calibrate", str(cavity_run / "best.pt"), "--data", str(dataset), "--output", str(out)]
    assert train_main([*args, "--device", "cpu", "--under-shift"]) == 0
    err = capsys.readouterr().err
    assert all(f"under {s}:" in err for s in ("none", *INTENSITY_SHIFTS)), err
    record = read_checkpoint(out)["meta"]["threshold_calibration"]
    assert record["criterion"] == "worst shift" and set(record["curves"]) == {"none", *INTENSITY_SHIFTS}
    worst = {t: min(c[t] for c in record["curves"].values()) for t in record["curve"]}
    assert record["curve"] == pytest.approx(worst)
    assert record["threshold"] in THRESHOLDS and record["mean_dice"] == pytest.approx(
        max(worst.values()), abs=0.002
    )


def test_the_bundled_scar_carries_its_threshold_chosen_under_shift():
    from napari_c2w.train.calibrate import INTENSITY_SHIFTS, choose_threshold
    from napari_c2w.weights import bundled_checkpoint

    meta = read_checkpoint(bundled_checkpoint("scar"))["meta"]
    record = meta["threshold_calibration"]
    assert record["criterion"] == "worst shift" and set(record["curves"]) == {"none", *INTENSITY_SHIFTS}
    assert meta["threshold"] == record["threshold"] == 0.5
    assert record["cases"] == meta["training_data"]["val_cases"]
    # the recorded curves give the recorded choice back
    thresholds = tuple(float(t) for t in record["curve"])
    rows = [{"case": "-", "shift": s, "dice": list(c.values())} for s, c in record["curves"].items()]
    assert choose_threshold(rows, thresholds)["threshold"] == meta["threshold"]
