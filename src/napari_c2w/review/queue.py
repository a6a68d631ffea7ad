"""A review queue over a dataset folder of case stores (no napari, no Qt).

:func:`scan_dataset` lists the stores with their review status and model uncertainty
(read from the store attributes only, no arrays); :func:`count_flagged` adds the number
of implausible voxels (it reads the labels); :func:`filter_queue` and :func:`order_queue`
pick and sort what to review. :func:`save_reviewed` writes a reviewed case back under the
store's no-loss rules (changed labels keep their previous versions) and only when
something changed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.case import REVIEW_STATUSES, Case, provenance_entry
from ..quantify.band import BandSpec

#: Orders of the queue.
ORDERS = ("name", "quality", "flagged voxels", "uncertainty")


@dataclasses.dataclass
class QueueItem:
    """One case store of the dataset.

    Attributes:
        path: the ``<case>.ome.zarr`` store.
        case_id: the case id.
        status: its review status (one of ``REVIEW_STATUSES``).
        uncertainty: the model's uncertainty score, when the store carries one.
        quality: the prediction's quality score (``infer.quality``: higher is worse), when the
            store carries one.
        flagged_voxels: implausible voxels, once counted (:func:`count_flagged`).
    """

    path: Path
    case_id: str
    status: str = "unreviewed"
    uncertainty: float | None = None
    quality: float | None = None
    flagged_voxels: int | None = None


def uncertainty_of(attrs: dict, key: str = "uncertainty") -> float | None:
    """The ``[key]["score"]`` (``uncertainty`` or ``quality``) of a store's attributes (case
    attrs first), or None."""
    for where in (attrs.get("attrs", {}), attrs):
        u = where.get(key) if isinstance(where, dict) else None
        if isinstance(u, dict) and u.get("score") is not None:
            try:
                score = float(u["score"])
            except (TypeError, ValueError):
                continue
            if math.isfinite(score):
                return score
    return None


def scan_dataset(dataset_dir: str | Path) -> list[QueueItem]:
    """The case stores of ``dataset_dir`` with status and uncertainty, sorted by name."""
    from ..io.store import STORE_SUFFIX, list_case_stores, read_store_attrs

    items = []
    for path in list_case_stores(dataset_dir):
        try:
            attrs = read_store_attrs(path)
        except (InputError, OSError) as err:  # damaged: `napari-c2w check` lists why
            logging.getLogger(__name__).warning("skipping %s", err)
            continue
        status = attrs.get("status", "unreviewed")
        items.append(
            QueueItem(
                path=path,
                case_id=attrs.get("case_id", path.name.removesuffix(STORE_SUFFIX)),
                status=status if status in REVIEW_STATUSES else "unreviewed",
                uncertainty=uncertainty_of(attrs),
                quality=uncertainty_of(attrs, "quality"),
            )
        )
    return items


def flagged_voxels(case: Case, band_spec: BandSpec | None = None) -> int:
    """Implausible scar and wall voxels of a case (0 without a cavity)."""
    from .plausibility import find_implausible

    cavity = case.labels.get("cavity")
    if cavity is None or not np.any(cavity):
        return 0
    found = find_implausible(
        cavity,
        case.image.spacing,
        scar=case.labels.get("scar"),
        wall=case.labels.get("wall"),
        band_spec=band_spec,
    )
    return found.voxels()


def count_flagged(
    items: Sequence[QueueItem],
    band_spec: BandSpec | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> list[QueueItem]:
    """Fill in :attr:`QueueItem.flagged_voxels` where missing (reads each store)."""
    from ..io.store import read_case_store

    for i, item in enumerate(items):
        if cancel is not None and cancel():
            break
        if item.flagged_voxels is None:
            item.flagged_voxels = flagged_voxels(read_case_store(item.path), band_spec)
        if progress:
            progress(i + 1, len(items))
    return list(items)


def filter_queue(items: Iterable[QueueItem], statuses: Iterable[str] | None = None) -> list[QueueItem]:
    """The items whose status is one of ``statuses`` (None: all)."""
    if statuses is None:
        return list(items)
    statuses = set(statuses)
    unknown = statuses - set(REVIEW_STATUSES)
    if unknown:
        raise ValueError(f"unknown review status {sorted(unknown)}; expected some of {REVIEW_STATUSES}")
    return [i for i in items if i.status in statuses]


def order_queue(items: Iterable[QueueItem], by: str = "name") -> list[QueueItem]:
    """Sort by name, or worst quality score / most flagged voxels / highest uncertainty first
    (unknown values last)."""
    items = list(items)
    if by == "name":
        return sorted(items, key=lambda i: i.case_id)
    if by == "quality":
        return sorted(items, key=lambda i: (i.quality is None, -(i.quality or 0.0), i.case_id))
    if by == "flagged voxels":
        return sorted(items, key=lambda i: (i.flagged_voxels is None, -(i.flagged_voxels or 0), i.case_id))
    if by == "uncertainty":
        return sorted(items, key=lambda i: (i.uncertainty is None, -(i.uncertainty or 0.0), i.case_id))
    raise ValueError(f"unknown order {by!r}; expected one of {ORDERS}")


def case_changed(before: Case, after: Case) -> bool:
    """Whether ``after`` differs from ``before`` in labels, status or provenance."""
    if after.status != before.status or len(after.provenance) != len(before.provenance):
        return True
    for name, mask in after.labels.items():
        old = before.labels.get(name)
        if old is None or not np.array_equal(np.asarray(old) != 0, np.asarray(mask) != 0):
            return True
    return False


def save_reviewed(
    case: Case,
    path: str | Path,
    annotator: str | None = None,
    before: Case | None = None,
    action: str = "review save",
) -> bool:
    """Write a reviewed case back to its store; changed labels keep their previous versions.

    Args:
        case: the case as reviewed (labels, status, provenance).
        path: its ``<case>.ome.zarr`` store.
        annotator: who reviewed, for the provenance record.
        before: the case as it was read; when given and nothing changed, nothing is written.
            When it was read from ``path``, the save is refused (``StoreConflict``) if
            another process changed the store since, instead of replacing that change.
        action: the provenance action of the save.

    Returns:
        Whether the store was written.
    """
    from ..io.storewrite import write_case_store

    if before is not None and not case_changed(before, case):
        return False
    if before is not None and before.store is not None:
        # the version this edit started from (layers may still carry the revision of an earlier save)
        case.store, case.revision = before.store, before.revision
    entry = provenance_entry(action, by=annotator, status=case.status, structures=case.structures)
    write_case_store(case, path, overwrite=True, entry=entry)
    return True
