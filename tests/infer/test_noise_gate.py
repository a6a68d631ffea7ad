"""A scan noisier than the training data is smoothed in-plane before inference, and said so."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from napari_c2w import noise
from napari_c2w.infer import InferenceOptions, load_model_set, segment


@pytest.fixture(scope="module")
def models(tiny_models):
    return load_model_set([tiny_models])


@pytest.fixture(scope="module")
def noisy(small_volume):
    from testutils import benchmark_module

    shifts = benchmark_module("_shifts")

    volume, ph = small_volume
    labels = {k: np.asarray(v, np.uint8) for k, v in ph.labels.items()}
    shifted, _ = shifts.Shift("intensity", {"noise": 0.2})(volume, labels, seed=1)
    return shifted


def test_a_noisy_scan_is_segmented_as_its_smoothed_copy(models, noisy):
    options = InferenceOptions(probabilities=True)
    got = segment(noisy, models, options)
    assert got.roi["noise"] > noise.TARGET and got.roi["denoise_sigma_mm"] > 0
    smoothed, info = noise.denoise(np.asarray(noisy.array, np.float32), noisy.spacing)
    ref = segment(
        dataclasses.replace(noisy, array=smoothed), models, dataclasses.replace(options, denoise=False)
    )
    assert info["sigma_mm"] == got.roi["denoise_sigma_mm"]
    for s in ref.probabilities:
        np.testing.assert_allclose(got.probabilities[s], ref.probabilities[s], atol=1e-6)
    assert got.quality["features"]["noise"] == pytest.approx(got.roi["noise"])
    assert "noise" in got.quality["warnings"]


def test_a_scan_like_the_training_data_is_left_as_it_is(models, small_volume):
    volume, _ = small_volume
    options = InferenceOptions(probabilities=True)
    got = segment(volume, models, options)
    assert 0 < got.roi["noise"] <= noise.TARGET and got.roi["denoise_sigma_mm"] == 0
    assert "noise" not in got.quality["warnings"]


def test_denoise_off_keeps_the_noisy_input_but_still_reports_the_noise(models, noisy):
    options = InferenceOptions(probabilities=True, denoise=False)
    got = segment(noisy, models, options)
    assert got.roi["denoise_sigma_mm"] == 0 and got.roi["noise"] > noise.TARGET
    assert "noise" in got.quality["warnings"]


def test_predict_has_a_switch_for_it(tiny_models, noisy, tmp_path):
    from napari_c2w.cli import main
    from napari_c2w.io.store import read_store_attrs
    from napari_c2w.io.volumewrite import write_volume

    src = write_volume(noisy, tmp_path / "noisy.nii.gz")
    for flag, out in (([], "on"), (["--no-denoise"], "off")):
        args = ["predict", str(src), "-o", str(tmp_path / out), "--models", str(tiny_models), *flag]
        assert main(args) == 0
    q = {o: read_store_attrs(tmp_path / o / "noisy.ome.zarr")["attrs"]["quality"] for o in ("on", "off")}
    assert q["on"]["features"]["noise"] == q["off"]["features"]["noise"] > noise.TARGET
    assert "noise" in q["on"]["warnings"]
