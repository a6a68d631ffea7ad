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

#: What a case's ``sources`` say for a structure that a prediction made.
PREDICTED_SOURCE = "napari-c2w prediction"


#: the longest case id (UTF-8 bytes): room for suffixes such as ``_labels.nii.gz`` within the
#: usual 255-byte file-name limit
MAX_CASE_ID_BYTES = 200


def case_id_problem(case_id: object) -> str | None:
    """Why ``case_id`` cannot name files inside a dataset folder (None when it can).

    A case id must be text, not empty, without leading or trailing white space, not start with a
    dot (hidden, ``.``, ``..``), hold no path separator, control or format character (such as
    U+202E, which shows a name reversed) and be at most :data:`MAX_CASE_ID_BYTES` bytes long.
    """
    import os
    import unicodedata

    if not isinstance(case_id, str):
        return f"case id {case_id!r} is not text"
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    odd = [c for c in case_id if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    size = len(case_id.encode("utf-8", "surrogatepass"))
    problems = [
        (not case_id.strip(), "is empty or blank"),
        (case_id != case_id.strip(), "starts or ends with white space"),
        (case_id.startswith("."), "starts with a dot (hidden, or a path like '..')"),
        (any(s in case_id for s in seps) or Path(case_id).is_absolute(), "holds a path separator"),
        (
            bool(odd),
            "holds the control or format character(s) "
            + ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(odd)),
        ),
        (size > MAX_CASE_ID_BYTES, f"is {size} bytes long (at most {MAX_CASE_ID_BYTES})"),
    ]
    shown = case_id if len(case_id) <= 60 else case_id[:40] + "..."
    return next((f"case id {shown!r} {text}" for bad, text in problems if bad), None)


def check_case_id(case_id: str, path: str | Path | None = None) -> str:
    """``case_id`` if it is a plain name usable as a file name inside a dataset folder.

    Args:
        case_id: the case id to check.
        path: the file the case id comes from (named in the error).

    Raises:
        InputError: see :func:`case_id_problem`; such an id could write outside the output
            folder, hide a file or show a misleading name.
    """
    problem = case_id_problem(case_id)
    if problem is not None:
        raise InputError(
            path,
            f"{problem}: it is not a plain name, so it cannot name files inside an output folder.",
            "Give a case id of letters, digits, '-', '_' and '.' (e.g. --case-id patient07).",
        )
    return case_id


def plain_case_id(text: object, default: str = "case") -> str:
    """``text`` made into a valid case id: separators, control and format characters become ``_``,
    white space and leading dots are stripped, the length is capped; ``default`` if nothing is left."""
    import unicodedata

    name = "".join(
        "_" if c in "/\\" or (unicodedata.category(c).startswith(("C", "Z")) and c != " ") else c
        for c in str(text or "")
    )
    name = name.strip().lstrip(".").strip()
    while len(name.encode("utf-8")) > MAX_CASE_ID_BYTES:
        name = name[:-1]
    name = name.strip()
    return name if case_id_problem(name) is None else default


#: A semi-synthetic copy of a real case (:mod:`napari_c2w.phantom.semisynth`) is named
#: ``<case>-ss<seed>``: a real image and cavity, with a synthetic wall and scar.
SEMISYNTHETIC_SUFFIX = "-ss"


def semisynthetic_case_id(case_id: str, seed: int) -> str:
    return f"{case_id}{SEMISYNTHETIC_SUFFIX}{int(seed)}"


def has_synthetic_wall(case_id: object) -> bool:
    """Whether a training case's wall and scar labels are synthetic (a phantom or a semi-synthetic copy)."""
    text = str(case_id)
    stem, sep, seed = text.rpartition(SEMISYNTHETIC_SUFFIX)
    return text.startswith("phantom") or bool(sep and stem and seed.isdigit())


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def provenance_entry(action: str, structure: str | None = None, *, by: str | None = None, **details) -> dict:
    """One provenance record: what changed which label, by whom/what, and when."""
    entry = {"action": action, "time": now_iso(), "by": by or _user()}
    if structure is not None:
        entry["structure"] = check_structure(structure)
    entry.update({k: v for k, v in details.items() if v is not None})
    return entry


def prediction_record(entry: dict, attrs: dict) -> dict:
    """The record of one predicted structure that a face showing it keeps, to store it honestly later.

    Args:
        entry: the structure's ``predict`` provenance entry (models, thresholds, voxels).
        attrs: the case attributes the prediction sets (``uncertainty``, ``quality``, ``prediction``).

    Returns:
        ``{"source", "provenance": [entry], "attrs"}``, what :meth:`Case.credit` reads.
    """
    return {"source": PREDICTED_SOURCE, "provenance": [entry], "attrs": attrs}


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

    def credit(self, structure: str, record: dict) -> None:
        """Credit the ``structure`` to a prediction record (:func:`prediction_record`): its source,
        its provenance entries (each once) and its attributes."""
        self.sources[structure] = record.get("source", PREDICTED_SOURCE)
        seen = {(e.get("action"), e.get("structure"), e.get("time")) for e in self.provenance}
        for entry in record.get("provenance", []):
            if (entry.get("action"), entry.get("structure"), entry.get("time")) not in seen:
                self.provenance.append(dict(entry))
        self.attrs.update(record.get("attrs", {}))

    def record_of(self, structure: str) -> dict:
        """The record of ``structure`` that a layer showing it keeps (what :meth:`credit` reads):
        its source, the provenance entries about it and the case's attributes."""
        return {
            "source": self.sources.get(structure, PREDICTED_SOURCE),
            "provenance": [dict(e) for e in self.provenance if e.get("structure") == structure],
            "attrs": dict(self.attrs),
        }

    @property
    def structures(self) -> list[str]:
        return [s for s in STRUCTURES if s in self.labels]
