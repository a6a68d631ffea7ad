"""The pipeline on shifted inputs: other stored orientations, and the quality record that
reaches the user (predict's summary, the case's attributes)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.infer import InferenceOptions, load_model_set, segment


@pytest.fixture(scope="module")
def models(tiny_models):
    return load_model_set([tiny_models])


@pytest.mark.parametrize("code", ["RAS", "PIL", "SAR"])
def test_other_stored_orientations_are_predicted_in_the_models_order_and_mapped_back(
    small_volume, models, code
):
    """The same anatomy stored as RAS, or with a sagittal/coronal axis order, gives the same
    probabilities voxel for voxel as the canonical (LPS) copy, in the stored order."""
    import SimpleITK as sitk

    from napari_c2w.io.orient import reorientation
    from napari_c2w.io.volume import from_sitk, to_sitk

    volume, _ = small_volume
    stored = from_sitk(sitk.DICOMOrient(to_sitk(volume), code))
    options = InferenceOptions(probabilities=True)
    ref = segment(volume, models, options)
    got = segment(stored, models, options)
    r = reorientation(stored.direction)
    assert got.roi["stored_orientation"] == code
    for s in ref.labels:
        assert got.labels[s].shape == stored.shape
        np.testing.assert_array_equal(got.labels[s], r.from_canonical(ref.labels[s]))
        np.testing.assert_allclose(got.probabilities[s], r.from_canonical(ref.probabilities[s]), atol=1e-6)


def test_every_prediction_carries_a_quality_record_and_predict_names_flagged_cases(
    tiny_models, small_volume, tmp_path, monkeypatch, capsys
):
    from napari_c2w import infer
    from napari_c2w.cli import main
    from napari_c2w.io.store import read_store_attrs
    from napari_c2w.io.volumewrite import write_volume

    volume, _ = small_volume
    pred = segment(volume, load_model_set([tiny_models]), InferenceOptions())
    assert set(pred.quality) >= {"score", "flagged", "reason", "checks", "features", "warnings"}
    assert pred.quality["features"]["localizer_ratio"] is not None or pred.roi["localizer_ml"] == 0
    confidence = pred.roi["scar_confidence"]  # of the scar stage's probabilities in the wall band
    assert confidence is None or 0.0 <= confidence <= 1.0
    assert pred.quality["features"]["scar_confidence"] == (
        None if confidence is None else round(confidence, 4)
    )

    real = infer.segment

    def flag_second(image, models, options, **kw):
        p = real(image, models, options, **kw)
        bad = bool(image.array.mean() > volume.array.mean())  # the brightened copy
        p.quality = {**p.quality, "flagged": bad, "score": 0.9 if bad else 0.0, "reason": "compactness"}
        p.quality["warnings"] = ["scar_confidence"] if bad else []
        return p

    monkeypatch.setattr(infer, "segment", flag_second)
    ok = write_volume(volume, tmp_path / "ok.nii.gz")
    odd = write_volume(volume.with_array(volume.array * 1.5), tmp_path / "odd.nii.gz")
    out = tmp_path / "out"
    assert main(["predict", str(ok), str(odd), "-o", str(out), "--models", str(tiny_models)]) == 0
    err = capsys.readouterr().err
    assert "1 case(s) look implausible" in err and "odd (compactness, score 0.90)" in err
    assert "ok (" not in err
    assert "1 case(s) have wall, scar or noise warnings" in err and "odd (scar_confidence)" in err
    assert read_store_attrs(tmp_path / "out" / "odd.ome.zarr")["attrs"]["quality"]["flagged"] is True
