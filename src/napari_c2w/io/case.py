"""A case: one LGE volume, its structure masks, and where they came from."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import getpass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..labels import STRUCTURES, check_structure
from .volume import Volume

REVIEW_STATUSES = ("unreviewed", "in progress", "approved", "flagged")


def check_case_id(case_id: str) -> str:
    """``case_id`` if it is a plain name usable as a file name inside a dataset folder.

    Raises:
        InputError: it is empty, absolute, has a path separator, starts with a dot
            (hidden, ``..``) or holds control characters, so it could write outside the
            output folder.
    """
    import os

    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if (
        not case_id
        or case_id.startswith(".")
        or any(s in case_id for s in seps)
        or any(ord(c) < 32 for c in case_id)
        or Path(case_id).is_absolute()
    ):
        raise InputError(
            None,
            f"case id {case_id!r} is not a plain name (it is empty, hidden, or holds a path).",
            "Give a case id of letters, digits, '-' and '_' (e.g. --case-id patient07).",
        )
    return case_id


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def provenance_entry(action: str, structure: str | None = None, *, by: str | None = None, **details) -> dict:
    """One provenance record: what changed which label, by whom/what, and when."""
    entry = {"action": action, "time": now_iso(), "by": by or _user()}
    if structure is not None:
        entry["structure"] = check_structure(structure)
    entry.update({k: v for k, v in details.items() if v is not None})
    return entry


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


@dataclasses.dataclass
class Case:
    """An image with its cavity/wall/scar masks (uint8 0/1 on the image grid)."""

    image: Volume
    labels: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    case_id: str = "case"
    sources: dict[str, str] = dataclasses.field(default_factory=dict)
    provenance: list[dict] = dataclasses.field(default_factory=list)
    status: str = "unreviewed"
    attrs: dict = dataclasses.field(default_factory=dict)
    #: the store this case was read from and the revision it had then (conflict check on write)
    store: Path | None = dataclasses.field(default=None, compare=False, repr=False)
    revision: str | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, mask in list(self.labels.items()):
            self.labels[name] = self._checked(name, mask)
        if self.status not in REVIEW_STATUSES:
            raise ValueError(f"review status {self.status!r} is not one of {REVIEW_STATUSES}")

    def _checked(self, name: str, mask: np.ndarray) -> np.ndarray:
        check_structure(name)
        mask = np.asarray(mask)
        if mask.shape != self.image.shape:
            raise InputError(
                self.image.path,
                f"the {name} label has shape {mask.shape} but the image has {self.image.shape}.",
                "Labels must share the image grid.",
            )
        return (mask > 0).astype(np.uint8)

    def set_label(self, name: str, mask: np.ndarray, entry: dict | None = None) -> None:
        """Set a structure's mask and record how it was made."""
        self.labels[name] = self._checked(name, mask)
        if entry is not None:
            self.provenance.append(entry)

    @property
    def structures(self) -> list[str]:
        return [s for s in STRUCTURES if s in self.labels]
