"""The case a prediction makes (one function for the CLI and the widget), progress within stages,
and crediting exported layers to the prediction that wrote them."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w.infer import load_model_set, segment
from napari_c2w.infer.forward import window_count
from napari_c2w.infer.result import case_from_prediction, prediction_records
from napari_c2w.io.case import PREDICTED_SOURCE
from napari_c2w.layers import WRITTEN_KEY, case_from_layers, checksum, volume_layer


@pytest.fixture(scope="module")
def predicted(small_volume, tiny_models):
    volume, _ = small_volume
    seen = []
    prediction = segment(volume, load_model_set([tiny_models]), progress=lambda f, m: seen.append((f, m)))
    return volume, prediction, seen


@pytest.mark.parametrize(("shape", "window"), [((20, 40, 40), (16, 32, 32)), ((8, 100, 33), (16, 32, 32))])
def test_window_count_matches_monai(shape, window):
    from monai.data.utils import dense_patch_slices
    from monai.inferers.utils import _get_scan_interval

    padded = tuple(max(s, w) for s, w in zip(shape, window, strict=True))
    interval = _get_scan_interval(padded, window, 3, (0.25,) * 3)
    assert window_count(shape, window, 0.25) == len(dense_patch_slices(padded, window, interval))


def test_progress_within_each_stage(predicted):
    _, _, seen = predicted
    windows = [m for _, m in seen if "window" in m]
    assert any(m.startswith("segmenting the cavity") and ": window 1 of" in m for m in windows)
    assert any("s left" in m for m in windows)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_case_from_prediction_credits_models_and_thresholds(predicted):
    volume, prediction, _ = predicted
    case = case_from_prediction(
        volume, prediction, "c1", sources={"image": "lge.nrrd", "cavity": "laendo.nrrd"}, by="test"
    )
    assert case.sources == {
        "image": "lge.nrrd",
        "cavity": PREDICTED_SOURCE,
        "wall": PREDICTED_SOURCE,
        "scar": PREDICTED_SOURCE,
    }
    entries = {e["structure"]: e for e in case.provenance}
    assert set(entries) == {"cavity", "wall", "scar"}
    assert entries["wall"]["models"]["wall"]["threshold"] == entries["wall"]["threshold"] == 0.5
    assert set(entries["wall"]["models"]) == {"localizer", "wall"}
    assert case.attrs["uncertainty"] == prediction.uncertainty
    assert case.attrs["prediction"]["models"] == prediction.models


def test_exported_layers_are_credited_to_their_record_and_edits_are_recorded(predicted):
    volume, prediction, _ = predicted
    records = prediction_records(prediction, "c1", by="test")
    meta = {"case_id": "c1", "sources": {"image": "lge.nrrd", "cavity": "laendo.nrrd", "wall": "lawall.nrrd"}}
    image = volume_layer(volume, "c1", meta)
    cavity = prediction.labels["cavity"].copy()
    record = {**records["cavity"], "structure": "cavity", "checksum": checksum(cavity)}
    cavity[0, 0, 0] = 1 - cavity[0, 0, 0]  # edited after prediction
    labels = [(cavity, {"name": "cavity (prediction)", "metadata": {WRITTEN_KEY: record}})]
    case = case_from_layers(image, labels)
    assert case.sources == {"image": "lge.nrrd", "cavity": PREDICTED_SOURCE}  # wall not exported
    actions = [(e["action"], e.get("structure")) for e in case.provenance]
    assert actions == [("predict", "cavity"), ("napari edit", "cavity")]
    assert np.array_equal(case.labels["cavity"], cavity)


def test_a_predicted_case_gives_back_the_records_a_layer_keeps(predicted):
    """``Case.record_of`` is the inverse of ``Case.credit``: the Segment widget keeps on each layer
    the record of the case ``segment_case`` made, the one ``prediction_records`` describes."""
    volume, prediction, _ = predicted
    case = case_from_prediction(volume, prediction, "c1", by="test")
    records = prediction_records(prediction, "c1", by="test")
    for s in prediction.labels:
        got, want = case.record_of(s), records[s]
        assert got["source"] == want["source"] == PREDICTED_SOURCE and got["attrs"] == want["attrs"]
        assert [e["action"] for e in got["provenance"]] == ["predict"]
        assert {k: v for k, v in got["provenance"][0].items() if k != "time"} == {
            k: v for k, v in want["provenance"][0].items() if k != "time"
        }
