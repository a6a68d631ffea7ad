"""Training with ``data.standardize``: the inputs are standardised as inference standardises
them, and the checkpoint carries the standard so that inference applies it by itself."""

from __future__ import annotations

import numpy as np

from testutils import small_train_config


def test_a_standardised_run_prepares_as_inference_does_and_records_its_standard(dataset, tmp_path):
    from napari_c2w import preprocess as pre
    from napari_c2w.io.store import read_case_store
    from napari_c2w.models import read_checkpoint
    from napari_c2w.standardize import package_standard
    from napari_c2w.train.api import train
    from napari_c2w.train.data import prepare_case

    config = small_train_config("cavity", iterations=2, val_every=2, data={"standardize": True})
    store = sorted(dataset.glob("*.ome.zarr"))[0]
    prepared = prepare_case(store, config, jitter_margin=False)
    case = read_case_store(store)
    spacing = config.data.model_spacing
    grid = pre.to_model_grid(case.image.array, case.image.spacing, spacing)
    cavity = pre.to_model_grid(case.labels["cavity"], case.image.spacing, spacing, kind="mask")
    box = pre.roi_box(pre.center_of_mass(cavity), config.data.roi, grid.shape)
    spec = {**pre.DEFAULT_NORMALIZATION, "standard": package_standard()}
    np.testing.assert_array_equal(prepared.image, pre.prepare_roi(grid, box, spec))
    assert not np.array_equal(prepared.image, pre.prepare_roi(grid, box)), "the standard changes the input"

    result = train(config, dataset, tmp_path / "run")
    meta = read_checkpoint(result.best_checkpoint)["meta"]
    assert meta["intensity_normalisation"]["standard"] == package_standard()
