"""The quality score flags implausible segmentations and passes plausible ones."""

import numpy as np

from napari_c2w.infer.quality import FLAG_AT, features, score

SPACING = (1.25, 1.0, 1.0)


def _ball(radius_mm: float, shape=(48, 96, 96), centre=(30.0, 48.0, 48.0)):
    zz, yy, xx = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, SPACING, strict=True)), indexing="ij")
    r = np.sqrt((zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2)
    return r


def _case(radius=22.0, wall_mm=2.5):
    r = _ball(radius)
    cavity = r < radius
    wall = (r >= radius) & (r < radius + wall_mm)
    scar = wall & (np.arange(96)[None, None, :] > 60)
    return {"cavity": cavity, "wall": wall, "scar": scar}


def test_a_plausible_atrium_passes():
    labels = _case()
    f = features(labels, SPACING, fragments=0.01, localizer_ml=labels["cavity"].sum() * 1.25e-3)
    q = score(f)
    assert 35 < f["cavity_ml"] < 50 and f["compactness"] > 0.85 and f["wall_coverage"] > 0.95
    assert q["score"] == 0.0 and not q["flagged"] and q["warnings"] == []


def test_nothing_found_is_the_worst_case():
    labels = {k: np.zeros_like(v) for k, v in _case().items()}
    q = score(features(labels, SPACING))
    assert q["score"] == 1.0 and q["flagged"] and q["reason"] == "cavity_ml_low"


def test_a_tiny_or_scattered_cavity_and_localizer_disagreement_are_flagged():
    tiny = _case(radius=6.0)
    q = score(features(tiny, SPACING, localizer_ml=80.0))
    assert q["flagged"] and q["reason"] in {"cavity_ml_low", "localizer_ratio_low"}
    rng = np.random.default_rng(0)
    scattered = {"cavity": (_ball(30.0) < 30) & (rng.random((48, 96, 96)) < 0.5)}
    q = score(features(scattered, SPACING))
    assert q["flagged"] and q["reason"] == "compactness"
    q = score(features(_case(), SPACING, fragments=0.6))
    assert q["flagged"] and q["reason"] == "fragments"


def test_bare_endocardium_and_deep_scar_are_warnings_not_the_cavity_score():
    labels = _case()
    labels["wall"] = labels["wall"] & (np.arange(96)[None, None, :] > 70)
    labels["scar"] = _ball(22.0) < 12  # deep inside the cavity
    q = score(features(labels, SPACING))
    assert set(q["warnings"]) == {"wall_coverage", "scar_depth"}
    assert q["score"] < FLAG_AT


def test_a_moderately_irregular_or_unstable_cavity_is_flagged_not_only_ranked():
    """Most failures left on the shift benchmark scored 0.35-0.45 (a real case under a strong
    contrast curve: Dice 0.65, compactness 0.37; SynthSeg tissues: Dice 0.53, agreement with the
    contrast check 0.84) and went unflagged at 0.5; plausible cases stay unflagged."""
    cavity = np.zeros((40, 80, 80), bool)
    cavity[5:35, 10:70, 10:70] = True
    feats = features({"cavity": cavity}, (1.25, 0.625, 0.625), fragments=0.0, agreement=0.97)
    assert not score(feats)["flagged"]
    for bad in ({"compactness": 0.37}, {"contrast_agreement": 0.84}):
        q = score({**feats, **bad})
        assert q["flagged"] and q["reason"] == next(iter(bad)), bad
    assert not score({**feats, "compactness": 0.42, "contrast_agreement": 0.9})["flagged"]


def test_a_scar_network_sure_of_little_of_its_scar_is_a_warning_not_the_cavity_score():
    from napari_c2w.infer.postprocess import scar_confidence

    labels = _case()
    band = labels["wall"] | labels["scar"]
    sure = np.where(band, 0.95, 0.0).astype(np.float32)
    sure[band & (np.arange(96)[None, None, :] < 30)] = 0.5  # unsure over a little of the wall
    unsure = np.where(band, 0.5, 0.0).astype(np.float32)
    unsure[band & (np.arange(96)[None, None, :] > 66)] = 0.95
    hi, lo = scar_confidence(sure, band), scar_confidence(unsure, band)
    assert 0.8 < hi < 1.0 and 0.0 < lo < 0.3
    assert scar_confidence(sure, None) is None and scar_confidence(np.zeros_like(sure), band) is None
    assert score(features(labels, SPACING, scar_confidence=hi))["warnings"] == []
    q = score(features(labels, SPACING, scar_confidence=lo))
    assert q["warnings"] == ["scar_confidence"] and q["score"] == 0.0
    assert q["features"]["scar_confidence"] == round(lo, 4)
    assert score(features(labels, SPACING))["features"]["scar_confidence"] is None


def test_predict_says_what_to_do_about_each_warning(capsys):
    from napari_c2w.cli.predict_cmd import _summary

    cases = [
        {"case_id": "a", "status": "done", "quality": {"warnings": ["wall_coverage"], "flagged": False}},
        {"case_id": "b", "status": "done", "quality": {"warnings": ["scar_depth"], "flagged": False}},
    ]
    _summary(cases)
    err = capsys.readouterr().err
    assert "wall_coverage: the predicted wall leaves much of the endocardium bare: correct the wall" in err
    assert "scar_depth: some predicted scar lies deep inside the cavity: remove it" in err


def test_the_scar_warning_is_rare_on_the_confidences_real_held_out_scans_give():
    """Issue 34.16: at 0.68 the warning fired on 9 of 10 real held-out scans (their shares were
    0.46-0.68) and 27 of 27 shifted ones with a good cavity: a warning on most scans is ignored.
    Recalibrated on 104 benchmark runs (benchmarks/calibrate_warnings.py): it warns below 0.5."""
    labels = _case()
    real_unshifted = [0.682, 0.623, 0.560, 0.577, 0.464, 0.547, 0.642, 0.638, 0.509, 0.651]
    warned = [c for c in real_unshifted if score(features(labels, SPACING, scar_confidence=c))["warnings"]]
    assert warned == [0.464]
    assert score(features(labels, SPACING, scar_confidence=0.32))["warnings"] == ["scar_confidence"]


def test_the_scar_warning_quotes_what_real_scans_and_phantoms_give():
    from napari_c2w.infer.quality import warning_text

    text = warning_text("scar_confidence", {"scar_confidence": 0.31})
    assert "31%" in text and "real" in text and "phantoms" in text
