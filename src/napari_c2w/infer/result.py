"""A case from a prediction: labels, provenance, models, thresholds and uncertainty (Qt-free).

One function, :func:`case_from_prediction`, turns a :class:`~napari_c2w.infer.pipeline.Prediction`
into a :class:`~napari_c2w.io.case.Case` for both faces: ``napari-c2w predict`` writes it as a
store, and the Segment widget keeps the same records on the layers it writes (see
:func:`prediction_records`) so that exporting them later stores the same provenance.
"""

from __future__ import annotations

from ..io.case import Case, provenance_entry
from ..io.volume import Volume

#: What the case's ``sources`` say for a structure that a prediction made.
PREDICTED_SOURCE = "napari-c2w prediction"


def prediction_summary(prediction, case_id: str) -> dict:
    """The case-level record of a run: models, uncertainty, ROI, timings, device."""
    return {
        "case_id": case_id,
        "models": prediction.models,
        "uncertainty": prediction.uncertainty,
        "quality": prediction.quality,
        "roi": prediction.roi,
        "timings_s": prediction.timings,
        "device": prediction.device,
    }


def prediction_entries(prediction, by: str) -> dict[str, dict]:
    """One ``predict`` provenance entry per predicted structure (its and the localizer's models,
    with the threshold each used, and the voxel count). A structure whose alternate network ran
    (``roi["alternates"]``) lists both, names the one kept (``kept``) and its threshold; one whose
    own mask covered enough for the alternate not to run lists its own and that coverage."""
    out = {}
    alternates = prediction.roi.get("alternates") or {}
    for name, mask in prediction.labels.items():
        alt = alternates.get(name, {})
        kept = alt.get("chosen", name)
        ran = ("localizer", name, *([alt["name"]] if alt and alt.get("ran", True) else []))
        out[name] = provenance_entry(
            "predict",
            name,
            by=by,
            models={s: prediction.models[s] for s in ran if s in prediction.models},
            kept=kept if alt else None,
            coverage=alt.get("coverage"),
            threshold=prediction.models.get(kept, {}).get("threshold"),
            voxels=int(mask.sum()),
        )
    return out


def prediction_records(prediction, case_id: str, by: str) -> dict[str, dict]:
    """Per structure, what a face that shows the labels must keep to store them honestly later:
    ``{"source", "provenance": [entry], "attrs": {"uncertainty", "quality", "prediction"}}``."""
    attrs = {
        "uncertainty": prediction.uncertainty,
        "quality": prediction.quality,
        "prediction": prediction_summary(prediction, case_id),
    }
    return {
        name: {"source": PREDICTED_SOURCE, "provenance": [entry], "attrs": attrs}
        for name, entry in prediction_entries(prediction, by).items()
    }


def apply_record(case: Case, structure: str, record: dict) -> None:
    """Credit ``case``'s ``structure`` to a prediction record (source, provenance, attrs)."""
    case.sources[structure] = record.get("source", PREDICTED_SOURCE)
    times = {(e.get("action"), e.get("structure"), e.get("time")) for e in case.provenance}
    for entry in record.get("provenance", []):
        if (entry.get("action"), entry.get("structure"), entry.get("time")) not in times:
            case.provenance.append(dict(entry))
    case.attrs.update(record.get("attrs", {}))


def case_from_prediction(
    image: Volume,
    prediction,
    case_id: str,
    *,
    by: str = "napari-c2w predict",
    sources: dict | None = None,
    provenance: list | None = None,
    status: str = "unreviewed",
) -> Case:
    """The case a prediction makes: its labels on ``image``'s grid, credited to the prediction.

    Args:
        image: the segmented volume.
        prediction: the pipeline's result.
        case_id: the case id.
        by: who predicted, for the provenance (``napari-c2w predict``, the Segment widget).
        sources: the case's sources so far (an image path, reference files); the predicted
            structures' entries are replaced.
        provenance: the case's provenance so far (kept, prediction entries appended).
        status: the review status.
    """
    case = Case(
        image=image,
        labels=dict(prediction.labels),
        case_id=case_id,
        sources=dict(sources or {}),
        provenance=list(provenance or []),
        status=status,
    )
    for name, record in prediction_records(prediction, case_id, by).items():
        apply_record(case, name, record)
    return case
