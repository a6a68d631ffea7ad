"""Batch cleaning: remove implausible scar (outside the wall band) from cases and case stores.

:func:`clean_case` works on a :class:`~napari_c2w.io.case.Case` in memory;
:func:`clean_store` reads a case store, cleans it and writes the new scar back with
``update_case_store`` (the store keeps the old scar under ``versions/``), or with
``dry_run`` only reports; :func:`clean_stores` runs over many stores with a progress
callback and a cancel switch.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.case import Case
from ..quantify.band import BandSpec
from .corrections import remove_outside_band
from .plausibility import find_implausible

ACTION = "review clean"
RULE = "outside wall band"


@dataclasses.dataclass
class CleanReport:
    """What cleaning did (or would do, in a dry run) to one case's scar.

    Attributes:
        case_id: the case.
        components: the implausible scar components removed (``Finding.as_dict()`` each).
        small_components: components inside the band removed for being below ``min_size_voxels``.
        voxels_before: scar voxels before.
        voxels_removed: scar voxels removed in all.
        volume_removed_mm3: their volume.
        params: the rule's parameters.
        entry: the provenance record (None when nothing changed).
        written: whether the store was updated.
        path: the store, for store-level cleaning.
        notes: why nothing was done, when nothing could be.
    """

    case_id: str
    components: list[dict] = dataclasses.field(default_factory=list)
    small_components: int = 0
    voxels_before: int = 0
    voxels_removed: int = 0
    volume_removed_mm3: float = 0.0
    params: dict = dataclasses.field(default_factory=dict)
    entry: dict | None = None
    written: bool = False
    path: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.voxels_removed > 0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def text(self, dry_run: bool = False) -> str:
        """A few human-readable lines for the console."""
        verb = "would remove" if dry_run else "removed"
        head = f"{self.case_id}: "
        if not self.changed:
            return head + "nothing to remove" + (f" ({'; '.join(self.notes)})" if self.notes else "")
        lines = [
            head + f"{verb} {self.voxels_removed} of {self.voxels_before} scar voxels "
            f"({self.volume_removed_mm3:.1f} mm³) in {len(self.components)} implausible component(s)"
            + (f" and {self.small_components} small one(s)" if self.small_components else "")
        ]
        for c in self.components:
            z, y, x = c["centroid_mm"]
            lines.append(
                f"  #{c['id']:<3} {c['kind']:<15} {c['voxels']:>7} vox {c['volume_mm3']:9.1f} mm³  "
                f"slice z={c['z']}  at ({z:.1f}, {y:.1f}, {x:.1f}) mm  "
                f"{c['min_distance_mm']:.1f}-{c['max_distance_mm']:.1f} mm beyond the band"
            )
        return "\n".join(lines)


def clean_case(
    case: Case,
    band_spec: BandSpec | None = None,
    min_size_voxels: int = 0,
    annotator: str | None = None,
) -> tuple[Case, CleanReport]:
    """Remove scar outside the wall band (and then components below ``min_size_voxels``).

    The band is built from the case's cavity and, when present, its wall label. The input
    case is not modified.

    Args:
        case: the case; needs a cavity label.
        band_spec: the band's reach (default :class:`napari_c2w.quantify.BandSpec`).
        min_size_voxels: scar components smaller than this left in the band are removed too.
        annotator: who is cleaning, for the provenance record.

    Returns:
        (the new case with the cleaned scar and a provenance record, the report). When
        nothing changes the new case equals the input.

    Raises:
        InputError: the case has no cavity label.
    """
    band_spec = band_spec or BandSpec()
    report = CleanReport(
        case_id=case.case_id,
        params={
            "inner_mm": float(band_spec.inner_mm),
            "outer_mm": float(band_spec.outer_mm),
            "min_size_voxels": int(min_size_voxels),
        },
    )
    new_case = copy.copy(case)
    new_case.labels = dict(case.labels)
    new_case.provenance = list(case.provenance)
    if "scar" not in case.labels:
        report.notes.append("no scar label")
        return new_case, report
    if "cavity" not in case.labels:
        raise InputError(
            case.image.path,
            f"case {case.case_id} has no cavity label, so the wall band is unknown.",
            "Add or predict the cavity before cleaning the scar.",
        )
    cavity, scar, wall = case.labels["cavity"], case.labels["scar"], case.labels.get("wall")
    spacing = case.image.spacing
    report.params["with_wall"] = wall is not None
    if not cavity.any():
        report.notes.append("empty cavity: the band is only the wall" if wall is not None else "empty cavity")
    band = band_spec.band(cavity, spacing, wall=wall)
    findings = find_implausible(cavity, spacing, scar=scar, band=band, origin=case.image.origin)
    new_scar, change = remove_outside_band(scar, band, min_size_voxels, "scar")
    report.voxels_before = int(np.count_nonzero(scar))
    report.components = [f.as_dict() for f in findings.select("scar")]
    report.small_components = max(0, (change.components_removed or 0) - len(report.components))
    report.voxels_removed = change.voxels_removed
    report.volume_removed_mm3 = change.volume_removed_mm3(spacing)
    if change.changed:
        report.entry = change.entry(ACTION, by=annotator)
        new_case.set_label("scar", new_scar, report.entry)
    return new_case, report


def clean_store(
    path: str | Path,
    band_spec: BandSpec | None = None,
    min_size_voxels: int = 0,
    annotator: str | None = None,
    *,
    dry_run: bool = False,
) -> CleanReport:
    """Clean the scar of a case store and write it back (the old scar is kept as a version).

    Args:
        path: the ``<case>.ome.zarr`` store.
        band_spec: the band's reach (default :class:`napari_c2w.quantify.BandSpec`).
        min_size_voxels: see :func:`clean_case`.
        annotator: who is cleaning, for the provenance record.
        dry_run: only report; write nothing.
    """
    from ..io.store import read_case_store
    from ..io.storewrite import update_case_store

    case = read_case_store(path)
    new_case, report = clean_case(case, band_spec, min_size_voxels, annotator)
    report.path = str(path)
    if report.changed and not dry_run:
        update_case_store(
            path, labels={"scar": new_case.labels["scar"]}, entry=report.entry, revision=case.revision
        )
        report.written = True
    return report


def clean_stores(
    paths: Iterable[str | Path],
    *,
    band_spec: BandSpec | None = None,
    min_size_voxels: int = 0,
    annotator: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> list[CleanReport | Exception]:
    """:func:`clean_store` over many stores, going on past bad ones.

    Args:
        paths: the stores.
        band_spec, min_size_voxels, annotator, dry_run: see :func:`clean_store`.
        progress: called with (done, total, store name) after each store.
        cancel: polled before each store; returning True stops the batch.

    Returns:
        One :class:`CleanReport` or the exception raised, per store handled.
    """
    paths = list(paths)
    out: list[CleanReport | Exception] = []
    for i, path in enumerate(paths):
        if cancel is not None and cancel():
            break
        try:
            out.append(clean_store(path, band_spec, min_size_voxels, annotator, dry_run=dry_run))
        except (InputError, OSError, ValueError, RuntimeError) as err:
            out.append(err)
        if progress:
            progress(i + 1, len(paths), Path(path).name)
    return out
