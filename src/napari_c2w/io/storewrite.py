"""Writing a case store: merged with what the store holds, never in place, never losing data.

A write reads the store under its lock (:func:`~.commit.store_lock`), merges the case into it
(labels the case does not carry are kept; a replaced label's old version goes under
``versions/``), writes a complete new store next to it and swaps it in (:func:`~.commit.commit_folder`).
Every write records a new ``revision``; writing back a case read from a store that changed
since is refused (:class:`StoreConflict`) instead of silently dropping that change. The layout
and the reading side are in :mod:`.store`.
"""

from __future__ import annotations

import errno
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import __version__
from .._fs import crash_point
from ..errors import InputError, StoreError
from ..labels import STRUCTURES
from .case import REVIEW_STATUSES, Case, now_iso
from .commit import commit_folder, recover, store_lock
from .ngff import write_tree
from .store import FORMAT_VERSION, STORE_SUFFIX, read_case_store, read_store_attrs


class StoreConflict(StoreError):
    """The store changed on disk after the case being written was read from it."""


def write_case_store(
    case: Case,
    path: str | Path,
    *,
    overwrite: bool = False,
    entry: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write ``case`` to the store at ``path`` without ever losing data.

    A new store is simply written. For an existing store: labels the case does not
    carry are kept; a label that differs from the stored one is refused unless
    ``overwrite`` is True, in which case the stored one is kept under ``versions/``;
    a different image is always refused (write a new case instead).

    Args:
        case: the case to write.
        path: the store, ``<case>.ome.zarr``.
        overwrite: allow replacing labels that differ (old versions are kept).
        entry: an extra provenance record to append (e.g. the export action).
        progress: called with the name of each part once it is written.

    The store is locked while it is read, merged and replaced; a second writer waits
    up to ``NAPARI_C2W_LOCK_TIMEOUT`` seconds (default 30) and is then refused.

    Raises:
        StoreConflict: ``case`` was read from this store and the store changed since.
        StoreError: a label would be replaced without ``overwrite``, the image differs,
            another process holds the store, or the disk is full / not writable (the old
            store is then untouched).
    """
    path = Path(path)
    if not path.name.endswith(STORE_SUFFIX):
        raise InputError(path, f"does not end in {STORE_SUFFIX}.", f"Name case stores <case>{STORE_SUFFIX}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with store_lock(path):
            recover(path)
            _check_revision(case, path)
            return _commit(case, path, overwrite, entry, progress)
    except StoreError:
        raise
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreError(
                f"{path}: the disk is full; nothing was changed. Free some space and write again."
            ) from err
        raise StoreError(f"{path}: could not write the case store ({err}); nothing was changed.") from err


def _check_revision(case: Case, path: Path) -> None:
    """Refuse to write a case read from ``path`` if the store changed since."""
    if case.store is None or not path.exists():
        return
    if Path(case.store).resolve() != path.resolve():
        return
    now = read_store_attrs(path).get("revision")
    if now != case.revision:
        raise StoreConflict(
            f"{path} was changed by another writer after this case was read from it "
            f"(revision {case.revision or 'none'} read, {now or 'none'} on disk); nothing was written, "
            "so neither change is lost. Open the store again and redo this edit on top of the other one."
        )


def _commit(case: Case, path: Path, overwrite: bool, entry: dict | None, progress) -> Path:
    merged, versions, history = _merge_with_existing(case, path, overwrite)
    provenance = list(merged.provenance) + ([entry] if entry else [])
    revision = uuid.uuid4().hex
    ours = {
        "format_version": FORMAT_VERSION,
        "case_id": merged.case_id,
        "sources": merged.sources,
        "direction": list(merged.image.direction),
        "provenance": provenance,
        "status": merged.status,
        "attrs": merged.attrs,
        "versions": history,
        "revision": revision,
        "written_by": f"napari-c2w {__version__}",
        "written": now_iso(),
    }

    def write(tmp: Path) -> None:
        write_tree(merged, tmp, ours, versions, progress)
        crash_point("tree-written")

    commit_folder(path, write)
    case.store, case.revision = path, revision
    return path


def _merge_with_existing(case: Case, path: Path, overwrite: bool):
    """The case to write, the label versions to keep, and the version history."""
    if not path.exists():
        return case, {}, {}
    import zarr

    old = read_case_store(path)
    if old.image.shape != case.image.shape or not np.array_equal(old.image.array, case.image.array):
        raise StoreError(
            f"{path} holds a different image (shape {old.image.shape}); refusing to replace "
            "it. Write the new image to a new case store."
        )
    history = dict(read_store_attrs(path).get("versions", {}))
    root = zarr.open_group(str(path), mode="r")
    versions: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name in STRUCTURES:  # carry the earlier versions over
        for rec in history.get(name, []):
            versions.setdefault(name, []).append(
                (rec["key"], np.asarray(root[f"versions/{name}/{rec['key']}"][...]))
            )
    labels = dict(old.labels)
    changed = [
        n for n in case.structures if n in old.labels and not np.array_equal(old.labels[n], case.labels[n])
    ]
    if changed and not overwrite:
        raise StoreError(
            f"{path} already holds different {', '.join(changed)} label(s); refusing to replace "
            "them. Pass overwrite=True (--overwrite) to replace them; the stored versions are kept."
        )
    for name in changed:
        key = str(len(history.get(name, [])) + 1)
        versions.setdefault(name, []).append((key, old.labels[name]))
        history.setdefault(name, []).append(
            {"key": key, "replaced": now_iso(), "voxels": int(old.labels[name].sum())}
        )
    labels.update(case.labels)
    known = {_entry_key(e) for e in old.provenance}
    provenance = list(old.provenance) + [e for e in case.provenance if _entry_key(e) not in known]
    merged = Case(
        image=case.image,
        labels=labels,
        case_id=case.case_id or old.case_id,
        sources={**old.sources, **case.sources},
        provenance=provenance,
        status=case.status,
        attrs={**old.attrs, **case.attrs},
    )
    return merged, versions, history


def _entry_key(entry: dict) -> str:
    import json

    return json.dumps(entry, sort_keys=True, default=str)


def update_case_store(
    path: str | Path,
    *,
    labels: dict[str, np.ndarray] | None = None,
    status: str | None = None,
    attrs: dict | None = None,
    entry: dict | None = None,
    overwrite: bool = True,
    revision: str | None = None,
) -> Path:
    """Change labels, review status or attributes of an existing store (old labels kept).

    Args:
        revision: the revision the caller's labels were computed from (``Case.revision``);
            when given and the store changed since, :class:`StoreConflict` is raised.
    """
    if status is not None and status not in REVIEW_STATUSES:
        raise InputError(
            path, f"cannot get review status {status!r}.", f"Use one of {', '.join(REVIEW_STATUSES)}."
        )
    case = read_case_store(path)
    if revision is not None:
        case.revision = revision
    for name, mask in (labels or {}).items():
        case.set_label(name, mask)
    if status is not None:
        case.status = status
    if attrs:
        case.attrs.update(attrs)
    return write_case_store(case, path, overwrite=overwrite, entry=entry)
