"""A case: one LGE volume, its structure masks, and where they came from."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import getpass

import numpy as np

from ..errors import InputError
from ..labels import STRUCTURES, check_structure
from .volume import Volume

REVIEW_STATUSES = ("unreviewed", "in progress", "approved", "flagged")


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
