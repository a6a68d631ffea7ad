"""A fine-tune says how its validation Dice compares with the network it started from, before it
is used (a 3-iteration fine-tune once lowered a real scan's cavity from 0.90 to 0.83 silently)."""

from __future__ import annotations

import json
import types

from testutils import small_train_config


def test_a_fine_tune_records_and_prints_before_and_after(dataset, cavity_run, tmp_path, capsys):
    from napari_c2w.train.cli import main
    from napari_c2w.train.config import dump_config

    path = tmp_path / "ft.yaml"
    path.write_text(
        dump_config(small_train_config("cavity", init=str(cavity_run), iterations=2, val_every=2))
    )
    assert main(["--config", str(path), "--data", str(dataset), "--output", str(tmp_path / "ft")]) == 0
    record = json.loads((tmp_path / "ft" / "run.json").read_text())["before_after"]
    assert record["cases"] >= 1 and 0 <= record["dice_before"] <= 1 and 0 <= record["dice_after"] <= 1
    assert record["worse"] == (record["dice_after"] < record["dice_before"] - 0.005)
    err = capsys.readouterr().err
    assert f"before {record['dice_before']:.3f}" in err and f"after {record['dice_after']:.3f}" in err


def test_a_fine_tune_that_ended_worse_says_so(dataset, cavity_run, tmp_path):
    """The init network scored on the held-back case against a best checkpoint that is worse."""
    from napari_c2w.train.api import before_after, comparison_text
    from napari_c2w.train.data import prepare_all
    from napari_c2w.train.distributed import Dist
    from napari_c2w.train.init import build_model_for, resolve_init
    from napari_c2w.train.loop import Trainer
    from napari_c2w.train.rundir import RunDir

    config = small_train_config("cavity", init=str(cavity_run))
    stores = sorted(dataset.glob("*.ome.zarr"))
    model, _ = build_model_for(config, resolve_init(config.init, "cavity"))
    trainer = Trainer(
        config,
        model,
        prepare_all(stores[:1], config),
        prepare_all(stores[1:], config),
        RunDir(tmp_path),
        data_summary={},
        dist=Dist(),
    )
    record = before_after(trainer, config, types.SimpleNamespace(best={"dice": 0.01}))
    assert record["dice_before"] > 0.3 and record["dice_after"] == 0.01 and record["worse"] is True
    assert "WORSE than where it started" in comparison_text(record)


def test_runs_from_scratch_or_another_stage_have_no_comparison(dataset, cavity_run, tmp_path):
    from napari_c2w.train.api import train

    result = train(
        small_train_config("wall", init=str(cavity_run), iterations=2, val_every=2), dataset, tmp_path / "w"
    )
    assert result.status == "completed" and result.comparison is None
    assert json.loads((tmp_path / "w" / "run.json").read_text())["before_after"] is None


def test_a_fine_tune_on_a_single_case_still_gives_a_model_and_says_it_was_not_compared(
    cavity_run, tmp_path, capsys
):
    """One corrected case leaves none to hold back: the run used to complete with no best.pt,
    so `predict --models RUN` and the Fine-tune widget had nothing to use."""
    from napari_c2w.models import load_checkpoint
    from napari_c2w.train.cli import main
    from napari_c2w.train.config import dump_config
    from testutils import write_phantom_dataset

    one = write_phantom_dataset(tmp_path / "one", [7], labels=("cavity",))
    path = tmp_path / "ft.yaml"
    config = small_train_config("cavity", init=str(cavity_run), iterations=2, val_every=1)
    path.write_text(dump_config(config))
    assert main(["--config", str(path), "--data", str(one), "--output", str(tmp_path / "ft")]) == 0
    out, err = capsys.readouterr()
    best = tmp_path / "ft" / "best.pt"
    assert out.strip() == str(best)
    _, meta = load_checkpoint(best)
    assert meta["iteration"] == 2 and meta["validation_metrics"]["validated"] is False
    assert "no case was held back" in err
    record = json.loads((tmp_path / "ft" / "run.json").read_text())
    assert record["before_after"] is None
