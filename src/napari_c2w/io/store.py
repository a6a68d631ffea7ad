"""The case store: one OME-Zarr (NGFF 0.5, zarr v3) image per case, with its labels.

Layout of ``<case>.ome.zarr``::

    zarr.json            ome.multiscales (axes z, y, x in mm; scale = spacing,
                         translation = origin) + napari_c2w attributes
    s0/                  the LGE volume
    labels/zarr.json     ome.labels = ["cavity", "wall", "scar"] (those present)
    labels/<structure>/  uint8 0/1 label image with image-label colours
    versions/<structure>/<n>/   earlier versions of a label, kept on overwrite

The ``napari_c2w`` attributes hold the case id, source files, direction, the
provenance list, the review status, a record of label versions and free-form attrs.

This module finds and reads stores; :mod:`.storewrite` writes them. No write ever modifies a
store in place: a complete new store is written next to the target and swapped in with renames
under a per-store lock (see :mod:`.commit`), so an interrupted write leaves the old or the new
store, repaired the next time the store or its dataset is read. Every write records a new
``revision``; a case read from a store carries the revision it had, and writing it back after
another process changed the store is refused (:class:`.storewrite.StoreConflict`).

Since format version 2 every chunk is written (also all-zero ones), so a missing chunk
file is reported as damage instead of being read as zeros.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ..errors import InputError, StoreError
from ..labels import LABELS
from . import labelcheck
from .case import REVIEW_STATUSES, Case, case_id_problem, check_case_id
from .commit import journal_path, needs_recovery, recover
from .filecheck import check_memory
from .ngff import ATTRS_KEY, geometry_from_multiscales, read_array
from .volume import Volume

log = logging.getLogger(__name__)

STORE_SUFFIX = ".ome.zarr"
FORMAT_VERSION = 2


def store_path(dataset_dir: str | Path, case_id: str) -> Path:
    """``dataset_dir/<case_id>.ome.zarr`` (a case id that is not a plain name is refused)."""
    return Path(dataset_dir) / f"{check_case_id(case_id)}{STORE_SUFFIX}"


def store_problem(path: str | Path) -> str | None:
    """Why ``path`` is not an OME-Zarr image (None when its ``zarr.json`` says it is one)."""
    path = Path(path)
    notes = _recover(path)
    if not path.exists():
        return "does not exist" + "".join(f"; {n.split(': ', 1)[-1]}" for n in notes)
    meta = path / "zarr.json"
    if not meta.is_file():
        return "has no zarr.json (not an OME-Zarr store, or a damaged one)"
    try:
        attrs = json.loads(meta.read_text()).get("attributes", {})
        multiscales = attrs.get("ome", {}).get("multiscales")
    except (OSError, ValueError, RecursionError, AttributeError) as err:
        return f"has an unreadable zarr.json ({type(err).__name__}: {str(err)[:120]})"
    if not multiscales:
        return "has a zarr.json without OME multiscales metadata (not an OME-Zarr image)"
    return None


def is_case_store(path: str | Path) -> bool:
    """True for a folder holding an OME-Zarr multiscales image (ours or anyone's)."""
    return store_problem(path) is None


def list_case_stores(dataset_dir: str | Path) -> list[Path]:
    """Every ``<case>.ome.zarr`` folder directly inside ``dataset_dir``, sorted by name.

    Interrupted writes are finished first (also of stores missing after a crash), without
    waiting for live writers: a store missing because a writer is swapping it right now is
    listed too. Damaged stores are listed too, so that the commands reading them report each as a
    failure with its reason instead of skipping it; leftovers that cannot be repaired
    automatically are logged as warnings.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise InputError(dataset_dir, "is not a folder.", "Give a dataset folder of <case>.ome.zarr stores.")
    busy = []
    for name in sorted(_interrupted_names(dataset_dir)):
        for note in _recover(dataset_dir / name):
            log.warning("%s", note)
        if journal_path(dataset_dir / name).exists() and not (dataset_dir / name).exists():
            busy.append(dataset_dir / name)  # a live writer is swapping it: reading it names the writer
    found = [p for p in dataset_dir.iterdir() if p.name.endswith(STORE_SUFFIX) and p.is_dir()]
    return sorted(found + busy)


def _interrupted_names(dataset_dir: Path) -> set[str]:
    """Store names with a journal or leftovers but no store folder."""
    names = set()
    for p in dataset_dir.iterdir():
        if p.name.startswith(".") and STORE_SUFFIX + "." in p.name:
            name = p.name[1 : p.name.index(STORE_SUFFIX + ".") + len(STORE_SUFFIX)]
            if p.name.endswith(".swap") or not (dataset_dir / name).exists():
                names.add(name)
    return names


# --------------------------------------------------------------------------- reading


def _recover(path: Path) -> list[str]:
    """Repair an interrupted commit unless a live writer holds the store (reads never wait)."""
    if not needs_recovery(path):
        return []
    return recover(path, wait=False)


#: Times a read is tried while a commit swaps the store under it.
_READ_TRIES = 4


def read_case_store(path: str | Path) -> Case:
    """Read a case store (or any 3D OME-Zarr image with labels) into a :class:`Case`.

    Reads never wait for a writer: a store on disk is always complete (commits are
    rename-based). A read that a commit's swap overlapped (the revision on disk changed
    meanwhile, or the store was moved away) is tried again. Every label is checked
    (:mod:`.labelcheck`): on the image's grid and holding only 0/1 (or 0 and its
    structure's value).

    Raises:
        InputError: not a readable OME-Zarr image (damaged, missing, or being replaced by
            a writer right now: the message names it).
        StoreError: a label is off the image's grid or holds other values.
    """
    path = Path(path)
    for attempt in range(1, _READ_TRIES + 1):
        try:
            case = _read_case_store_once(path)
        except InputError:
            if attempt < _READ_TRIES and journal_path(path).exists():  # a swap is under way
                time.sleep(0.05 * attempt)
                continue
            raise
        if case.revision is None or _revision_on_disk(path) == case.revision:
            return case
        time.sleep(0.05 * attempt)  # written meanwhile: parts may come from two versions
    raise StoreError(
        f"{path}: kept changing while it was read (another process is writing it again and again); "
        "run this again when that process is done."
    )


def _revision_on_disk(path: Path) -> str | None:
    try:
        return json.loads((path / "zarr.json").read_text())["attributes"][ATTRS_KEY].get("revision")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _read_case_store_once(path: Path) -> Case:
    import zarr

    problem = store_problem(path)
    if problem is not None and journal_path(path).exists() and not path.exists():
        raise InputError(path, f"cannot be read right now: it {problem}.")  # a writer is swapping it
    if problem is not None:
        raise InputError(
            path,
            f"is not an OME-Zarr image: it {problem}.",
            "Give a <case>.ome.zarr made by napari-c2w (import, phantom or export), or restore it "
            "from a backup.",
        )
    try:
        root = zarr.open_group(str(path), mode="r")
        attrs = root.attrs.asdict()
        ome = attrs["ome"]
        ours = _checked_attributes(path, attrs.get(ATTRS_KEY, {}))
        complete = int(ours.get("format_version", 0)) >= 2
        ds_path, spacing, origin = geometry_from_multiscales(ome["multiscales"][0], path)
        check_memory(path, _nbytes(root[ds_path]), copies=1, what=f"its image {ds_path}")
        array = read_array(root[ds_path], path, ds_path, complete)
        image = Volume(array, spacing, origin, tuple(ours.get("direction", np.eye(3).ravel())), path=path)
        labels, damage = _read_labels(root, path, image, complete)
    except InputError:
        raise
    except Exception as err:
        raise InputError(
            path,
            f"could not be read as a case store ({type(err).__name__}: {err}).",
            "The store may be damaged; restore it from a backup or re-import the case.",
        ) from None
    if damage:
        raise StoreError(f"{path}: is damaged: {'; '.join(damage)}. {labelcheck.DAMAGED_LABEL_FIX}")
    status = ours.get("status", "unreviewed")
    if status not in REVIEW_STATUSES:
        raise InputError(
            path,
            f"has review status {status!r}, which is not one of {', '.join(REVIEW_STATUSES)}.",
            "Set a valid status in napari or re-import the case.",
        )
    return Case(
        image=image,
        labels=labels,
        case_id=_stored_case_id(path, ours),
        sources=ours.get("sources", {}),
        provenance=list(ours.get("provenance", [])),
        status=status,
        attrs=dict(ours.get("attrs", {})),
        store=path,
        revision=ours.get("revision"),
    )


def _read_labels(root, path: Path, image: Volume, complete: bool) -> tuple[dict[str, np.ndarray], list[str]]:
    """The structure labels of a store's root group, and what makes any of them unusable
    (off the image's grid, other values than 0/1: :mod:`.labelcheck`)."""
    labels: dict[str, np.ndarray] = {}
    damage: list[str] = []
    if "labels" not in root:
        return labels, damage
    for name in root["labels"].attrs.asdict().get("ome", {}).get("labels", []):
        if name in LABELS:
            lab = root["labels"][name]
            lab_path, *lab_geometry = geometry_from_multiscales(lab.attrs["ome"]["multiscales"][0], path)
            shape = tuple(lab[lab_path].shape)  # from the array's metadata: nothing read yet
            if shape != image.shape:
                raise InputError(
                    path,
                    f"its {name} label has shape {shape} but the image has {image.shape}.",
                    "The store is damaged; restore it from a backup or re-import the case.",
                )
            labels[name] = read_array(lab[lab_path], path, f"labels/{name}/{lab_path}", complete)
            damage += filter(None, [
                labelcheck.grid_problem(name, lab_geometry, (image.spacing, image.origin)),
                labelcheck.value_problem(name, labels[name]),
            ])  # fmt: skip
    return labels, damage


def _stored_case_id(path: Path, ours: dict) -> str:
    """The store's case id (its ``case_id`` attribute, else its name), refused unless a plain name:
    commands join it into output paths."""
    if "case_id" not in ours:
        case_id = path.name.removesuffix(STORE_SUFFIX)
        fix = f"Rename the store to <case id>{STORE_SUFFIX}, a plain name such as patient07{STORE_SUFFIX}."
    else:
        case_id = ours["case_id"]
        fix = (
            f'Set "case_id" under attributes.{ATTRS_KEY} in its zarr.json to a plain name such as '
            "\"patient07\" (letters, digits, '-', '_')."
        )
    problem = case_id_problem(case_id)
    if problem is not None:
        raise InputError(path, f"has an unusable case id: {problem}.", fix)
    return case_id


def _nbytes(array) -> int:
    """The bytes a zarr array declares (from its metadata; nothing is read)."""
    n = int(np.dtype(array.dtype).itemsize)
    for size in array.shape:
        n *= int(size)
    return n


def read_store_attrs(path: str | Path) -> dict:
    """The ``napari_c2w`` attributes of a store, without reading any array."""
    import zarr

    path = Path(path)
    problem = store_problem(path)
    if problem is not None:
        raise InputError(
            path, f"is not an OME-Zarr image: it {problem}.", "Restore it or re-import the case."
        )
    return _checked_attributes(path, zarr.open_group(str(path), mode="r").attrs.asdict().get(ATTRS_KEY, {}))


#: The napari_c2w attributes of a fixed type (the others are checked where they are used).
_ATTRIBUTE_TYPES: dict[str, type] = {"provenance": list, "attrs": dict, "sources": dict, "versions": dict}


def _checked_attributes(path: Path, ours: object) -> dict:
    """A copy of a store's ``napari_c2w`` attributes; InputError naming the store where one has a
    type no command can use (e.g. ``"provenance": 5``), so that ``check`` lists it as damaged."""
    problem = None
    if not isinstance(ours, dict):
        problem = f"its {ATTRS_KEY} attributes are {json.dumps(ours)[:60]}, not a mapping"
    else:
        for key, kind in _ATTRIBUTE_TYPES.items():
            if key in ours and not isinstance(ours[key], kind):
                shown = json.dumps(ours[key])[:60]
                problem = f"its {ATTRS_KEY} attribute {key!r} is {shown}, not a {kind.__name__}"
                break
        else:
            problem = _attribute_item_problem(ours)
    if problem is not None:
        raise InputError(
            path,
            f"{problem}.",
            f"Fix it under attributes.{ATTRS_KEY} in {path / 'zarr.json'}, or restore the store from "
            "a backup.",
        )
    return dict(ours)


def _attribute_item_problem(ours: dict) -> str | None:
    """A provenance record that is no mapping, a version record without a key, or a direction
    that is not 9 numbers."""
    where = f"its {ATTRS_KEY} attribute"
    if any(not isinstance(e, dict) for e in ours.get("provenance", [])):
        return f"{where} 'provenance' holds a record that is not a mapping"
    for name, records in ours.get("versions", {}).items():
        if not isinstance(records, list) or any(not isinstance(r, dict) or "key" not in r for r in records):
            shown = json.dumps(records)[:60]
            return f"{where} 'versions' has {name!r} {shown}, not a list of records with a key"
    direction = ours.get("direction")
    if direction is not None and (
        not isinstance(direction, list)
        or len(direction) != 9
        or not all(isinstance(v, int | float) and np.isfinite(v) for v in direction)
    ):
        return f"{where} 'direction' is {json.dumps(direction)[:60]}, not 9 finite numbers"
    return None
