"""Nyul histogram standardisation (napari_c2w.standardize): a monotone contrast change is undone,
the fill outside a scan never sets the landmarks, and the pipeline option reaches the networks."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w import preprocess as pre
from napari_c2w.standardize import PERCENTILES, fit_standard, landmarks, package_standard, standardize


def _scan(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tissue = rng.choice([0.1, 0.3, 0.6, 1.0], size=(12, 40, 40), p=[0.4, 0.3, 0.2, 0.1])
    return (tissue + rng.normal(0, 0.03, tissue.shape)).astype(np.float32)


def test_landmarks_increase_and_ignore_non_finite():
    x = _scan()
    x[0, 0, 0] = np.nan
    lm = landmarks(x)
    assert len(lm) == len(PERCENTILES) and np.all(np.diff(lm) > 0)
    with pytest.raises(ValueError, match="no finite"):
        landmarks(np.full(5, np.nan))


def test_a_monotone_contrast_change_is_undone():
    x = _scan(1)
    standard = fit_standard([_scan(s) for s in range(2, 6)])
    bent = 300.0 * np.clip(x, 0, None) ** 2.2 + 7.0  # another scanner: range, gamma, offset
    a, b = standardize(x, standard), standardize(bent, standard)
    za, zb = pre.normalize_intensity(a), pre.normalize_intensity(b)
    plain = np.abs(pre.normalize_intensity(x) - pre.normalize_intensity(bent)).mean()
    assert np.abs(za - zb).mean() < 0.25 * plain, "standardised, the two scans read alike"


def test_a_standard_from_other_percentiles_is_refused():
    with pytest.raises(ValueError, match="other percentiles"):
        standardize(_scan(), {"percentiles": [1, 99], "landmarks": [0, 1]})


def test_the_package_standard_is_packaged_and_well_formed():
    standard = package_standard()
    assert standard["percentiles"] == list(PERCENTILES)
    lm = np.asarray(standard["landmarks"])
    assert lm[0] == 0 and lm[-1] == 1 and np.all(np.diff(lm) > 0) and standard["cases"] >= 10


def test_the_fill_outside_the_scan_does_not_set_the_landmarks():
    """An ROI reaching past the scan: its landmarks come from the scan's voxels only, so the same
    scan padded more or less is standardised alike where it has data."""
    grid = _scan(7)
    spec = {**pre.DEFAULT_NORMALIZATION, "standard": package_standard()}
    inside = ((0, 12), (0, 40), (0, 40))
    wide = ((-8, 20), (0, 40), (0, 40))  # 8 slices of fill above and below
    a = pre.prepare_roi(grid, inside, spec)
    b = pre.prepare_roi(grid, wide, spec)[8:20]
    # z-scoring differs with the fill; the standardised intensities before it must not
    sa = standardize(grid, spec["standard"])
    region = pre.crop(grid, inside)
    sb = standardize(pre.crop(grid, wide, fill=pre.roi_fill(grid)), spec["standard"], region)[8:20]
    np.testing.assert_allclose(sa, sb, atol=1e-5)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999


def test_the_pipeline_option_adds_the_standard_for_the_roi_networks(tiny_models, small_volume, monkeypatch):
    from napari_c2w.infer import pipeline
    from napari_c2w.infer.models import load_model_set

    volume, _ph = small_volume
    specs = []
    real = pre.prepare_roi

    def spy(grid, box, normalisation=None):
        specs.append(normalisation)
        return real(grid, box, normalisation)

    monkeypatch.setattr(pre, "prepare_roi", spy)
    models = load_model_set([tiny_models])
    base = {"stages": ("cavity",), "crop_to_atrium": False, "contrast_check": False}
    pipeline.segment(volume, models, pipeline.InferenceOptions(**base))
    pipeline.segment(volume, models, pipeline.InferenceOptions(**base, intensity_standard=True))
    assert "standard" not in (specs[0] or {})
    assert specs[1]["standard"] == package_standard(), "the option adds the package's standard"
