"""The contrast check: the cavity again on a gamma-bent input; disagreement flags the case."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.infer import InferenceOptions, load_model_set, segment
from napari_c2w.infer.contrast_check import agreement, gamma_perturbed
from napari_c2w.infer.quality import features, score


def test_gamma_perturbed_keeps_order_and_scale():
    x = np.random.default_rng(0).normal(size=(8, 16, 16)).astype(np.float32)
    y = gamma_perturbed(x, 1.5)
    assert y.dtype == np.float32 and abs(float(y.mean())) < 1e-4 and abs(float(y.std()) - 1) < 1e-3
    order = np.argsort(x, axis=None)
    assert np.all(np.diff(y.ravel()[order]) >= -1e-6), "a gamma curve keeps the intensity order"
    assert not np.allclose(y, (x - x.mean()) / x.std(), atol=1e-2), "but bends it"


def test_agreement_is_the_dice_of_the_two_masks():
    a = np.zeros((4, 4), bool)
    b = a.copy()
    assert agreement(a, b) == 1.0
    a[:2] = True
    b[1:3] = True
    assert agreement(a, b) == 0.5


def test_low_agreement_flags_a_plausible_cavity():
    cavity = np.zeros((40, 80, 80), bool)
    cavity[5:35, 10:70, 10:70] = True
    feats = features({"cavity": cavity}, (1.25, 0.625, 0.625), agreement=0.95)
    assert not score(feats)["flagged"]
    q = score({**feats, "contrast_agreement": 0.55})
    assert q["flagged"] and q["reason"] == "contrast_agreement"


def test_cases_that_pass_every_check_are_still_ranked_by_their_disagreement():
    """A review queue orders by the score: plausible cavities must not all tie at 0."""
    cavity = np.zeros((40, 80, 80), bool)
    cavity[5:35, 10:70, 10:70] = True
    feats = features({"cavity": cavity}, (1.25, 0.625, 0.625), agreement=0.97)
    near, far = score(feats), score({**feats, "contrast_agreement": 0.88})
    assert not near["flagged"] and not far["flagged"]
    assert 0 < near["score"] < far["score"]
    assert score({**feats, "contrast_agreement": 1.0})["score"] == 0.0


@pytest.fixture(scope="module")
def models(tiny_models):
    return load_model_set([tiny_models])


def test_segment_runs_the_second_pass_and_records_its_agreement(small_volume, models, monkeypatch):
    from napari_c2w.infer import contrast_check
    from napari_c2w.infer.pipeline import _Run

    volume, _ = small_volume
    seen = []

    def fake_predict(self, stage, x):
        seen.append(stage.stage)
        prob = np.zeros(x.shape, np.float32)
        if stage.stage == "localizer":
            prob[x.shape[0] // 2, x.shape[1] // 2, x.shape[2] // 2] = 0.9
        elif stage.stage == "cavity" and x.any():  # the bent input below is all zeros
            prob[2:-2, 3:-3, 3:-3] = 1.0
        return prob

    monkeypatch.setattr(_Run, "_predict", fake_predict)
    monkeypatch.setattr(contrast_check, "gamma_perturbed", np.zeros_like)
    opts = {"stages": ("cavity",), "crop_to_atrium": False}
    pred = segment(volume, models, InferenceOptions(**opts))
    assert seen.count("cavity") == 2
    assert pred.roi["contrast_agreement"] == 0.0
    assert pred.quality["flagged"] and pred.quality["checks"]["contrast_agreement"] == 1.0

    seen.clear()
    pred = segment(volume, models, InferenceOptions(**opts, contrast_check=False))
    assert seen.count("cavity") == 1 and pred.roi["contrast_agreement"] is None
    assert pred.quality["checks"]["contrast_agreement"] == 0.0
