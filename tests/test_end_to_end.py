"""The loop users run: noisy annotation -> plausibility cleaning -> export -> scar fine-tuning."""

from __future__ import annotations

import numpy as np

from napari_c2w.io.store import read_case_store, store_path
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.masks import wall_band
from napari_c2w.models import load_checkpoint
from napari_c2w.phantom import generate_phantom
from napari_c2w.review import clean_case
from napari_c2w.train import load_config
from napari_c2w.train.api import train


def test_noisy_scar_cleaned_exported_and_trained_on(tmp_path):
    dataset = tmp_path / "reviewed"
    removed_total = 0
    for seed in (11, 12, 13):
        phantom = generate_phantom(seed, shape=(40, 64, 64), spacing=(1.25, 1.25, 1.25))
        noisy = phantom.to_case(noisy=True)
        cleaned, _report = clean_case(noisy, annotator="e2e-test")
        band = wall_band(phantom.labels["cavity"], (1.25,) * 3, wall=phantom.labels["wall"]).full()
        noisy_scar, clean_scar = noisy.labels["scar"] > 0, cleaned.labels["scar"] > 0
        true_scar = phantom.labels["scar"] > 0
        assert (noisy_scar & ~band).any() and not (clean_scar & ~band).any()  # scar outside the band: gone
        assert (clean_scar & true_scar).sum() >= 0.98 * true_scar.sum()  # true scar: kept
        removed_total += int(
            noisy.labels["scar"].astype(bool).sum() - cleaned.labels["scar"].astype(bool).sum()
        )
        write_case_store(cleaned, store_path(dataset, cleaned.case_id))

    stored = read_case_store(store_path(dataset, "phantom_0011"))
    assert any(entry.get("by") == "e2e-test" for entry in stored.provenance)
    assert removed_total > 0

    config = load_config(
        stage="scar",
        overrides={
            "preset": "tiny",
            "init": "scratch",
            "iterations": 4,
            "val_every": 2,
            "threads": 2,
            "data": {"roi": [32, 48, 48], "patch": [16, 32, 32], "roi_jitter_mm": 2.0, "val_fraction": 0.34},
        },
    )
    result = train(config, dataset, tmp_path / "scar-run")
    assert result.status == "completed"
    _model, meta = load_checkpoint(tmp_path / "scar-run" / "best.pt", expect_stage="scar")
    assert set(meta["training_data"]["train_cases"]) <= {"phantom_0011", "phantom_0012", "phantom_0013"}
    assert np.isfinite(meta["validation_metrics"]["dice"])
