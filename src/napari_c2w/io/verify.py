"""Verify case stores fully (``napari-c2w check``), like nnU-Net's ``--verify_dataset_integrity``.

:func:`verify_store` reads everything a command could read and lists each problem in
words; :func:`verify_dataset` does so for every ``<case>.ome.zarr`` of a folder and for
interrupted writes that left a store missing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..errors import C2WError
from .case import REVIEW_STATUSES, case_id_problem
from .commit import leftovers
from .store import (
    ATTRS_KEY,
    FORMAT_VERSION,
    STORE_SUFFIX,
    list_case_stores,
    read_case_store,
)


@dataclasses.dataclass
class StoreCheck:
    """The result of checking one store: problems (errors) and notes (warnings)."""

    path: Path
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(path: str | Path) -> StoreCheck:
    """Check one store: readable, every chunk present, labels on the image grid and 0/1, attributes valid."""
    import zarr

    path = Path(path)
    check = StoreCheck(path)
    try:
        # chunks (format >= 2), label shapes, grids and values (io.labelcheck), review status:
        # the checks every command's read makes
        read_case_store(path)
    except (C2WError, OSError, ValueError, RuntimeError) as err:
        check.problems.append(str(err).removeprefix(f"{path}: "))
        return check
    root = zarr.open_group(str(path), mode="r")
    ours = root.attrs.asdict().get(ATTRS_KEY, {})
    _check_attributes(ours, check)
    for item in leftovers(path):
        check.notes.append(f"an interrupted write left {item.name} (the next write removes it)")
    return check


def _check_attributes(ours: dict, check: StoreCheck) -> None:
    """Format version, review status, provenance, case id and direction of the napari_c2w attributes."""
    version = ours.get("format_version")
    if version is None:
        check.notes.append("not written by napari-c2w (no napari_c2w attributes)")
    elif not isinstance(version, int) or version > FORMAT_VERSION:
        check.problems.append(
            f"format_version {version!r} is newer than this napari-c2w reads ({FORMAT_VERSION})"
        )
    elif version < 2:
        check.notes.append(
            "written before format 2: all-zero chunks were not stored, so a missing label chunk "
            "cannot be told from an empty one (write the store again to upgrade it)"
        )
    if ours:
        if ours.get("status", "unreviewed") not in REVIEW_STATUSES:
            check.problems.append(f"review status {ours.get('status')!r} is not one of {REVIEW_STATUSES}")
        if not isinstance(ours.get("provenance", []), list):
            check.problems.append("the provenance attribute is not a list")
        if "case_id" in ours and (problem := case_id_problem(ours["case_id"])):
            check.problems.append(f"the case_id attribute is unusable: {problem} (set a plain name)")
        direction = ours.get("direction")
        if direction is not None and (len(direction) != 9 or not np.all(np.isfinite(direction))):
            check.problems.append(f"the direction attribute {direction!r} is not 9 finite numbers")


def verify_dataset(dataset_dir: str | Path) -> list[StoreCheck]:
    """:func:`verify_store` for every store of ``dataset_dir`` (after repairing interrupted writes)."""
    dataset_dir = Path(dataset_dir)
    if dataset_dir.name.endswith(STORE_SUFFIX):
        return [verify_store(dataset_dir)]
    checks = [verify_store(p) for p in list_case_stores(dataset_dir)]
    listed = {c.path.name for c in checks}
    for p in sorted(dataset_dir.glob(f".*{STORE_SUFFIX}.old-*")):
        name = p.name[1 : p.name.index(STORE_SUFFIX) + len(STORE_SUFFIX)]
        if name not in listed:
            checks.append(
                StoreCheck(
                    dataset_dir / name,
                    [f"is missing, but an interrupted write left a copy at {p.name}; check it and rename it"],
                )
            )
    return checks
