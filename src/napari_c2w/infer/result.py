"""A case from a prediction: labels, provenance, models, thresholds and uncertainty (Qt-free).

:func:`segment_case` is the one way a face predicts a case: ``napari-c2w predict`` writes the case
it returns as a store, and the Segment widget, which builds its case from the image layer
(:func:`napari_c2w.layers.case_from_layers`, direction included), keeps each structure's record
of it (:meth:`napari_c2w.io.case.Case.record_of`) on the layer it writes, so that exporting the
layers later stores the same provenance. The records are the case model's
(:func:`napari_c2w.io.case.prediction_record`, :meth:`~napari_c2w.io.case.Case.credit`).
"""

from __future__ import annotations

from collections.abc import Callable

from ..io.case import Case, prediction_record, provenance_entry
from ..io.volume import Volume


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
    """Per structure, its :func:`~napari_c2w.io.case.prediction_record`: the ``predict`` entry and
    the attributes ``uncertainty``, ``quality`` and ``prediction`` (:func:`prediction_summary`)."""
    attrs = {
        "uncertainty": prediction.uncertainty,
        "quality": prediction.quality,
        "prediction": prediction_summary(prediction, case_id),
    }
    entries = prediction_entries(prediction, by)
    return {name: prediction_record(entry, attrs) for name, entry in entries.items()}


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
        case.credit(name, record)
    return case


def segment_case(
    case: Case,
    models,
    options,
    *,
    by: str,
    sources: dict | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
):
    """Segment ``case``'s image and return the case the prediction makes, with the prediction.

    The pipeline runs the models in their canonical orientation and maps the labels back to the
    image's stored order (its ``direction``), so every face gets the same labels for one scan.

    Args:
        case: the case to segment (its image, with spacing, origin and direction, and its id).
        models: a model set, or the folders/runs :func:`napari_c2w.infer.load_model_set` reads.
        options: the :class:`~napari_c2w.infer.InferenceOptions`.
        by: who predicts, for the provenance (``napari-c2w predict``, the Segment widget).
        sources: the new case's sources (default: ``case``'s).
        progress: called with (fraction done, message).
        cancel: polled between windows; true cancels (:class:`~napari_c2w.infer.Cancelled`).

    Returns:
        ``(result, prediction)``: the predicted case (labels on ``case``'s grid, credited to the
        prediction) and the :class:`~napari_c2w.infer.Prediction` (timings, quality, ROI).
    """
    from . import segment  # the package's: a test or a benchmark may stand in for it

    prediction = segment(case.image, models, options, progress=progress, cancel=cancel)
    sources = case.sources if sources is None else sources
    result = case_from_prediction(case.image, prediction, case.case_id, by=by, sources=sources)
    return result, prediction
