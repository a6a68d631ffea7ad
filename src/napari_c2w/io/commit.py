"""Committing a case store: a per-store lock, a swap journal, and crash recovery.

A write builds a complete new store (a case store, a label folder) in ``.<name>.tmp-<stamp>``
and commits it with :func:`commit_folder` (:func:`swap_in`), holding the store's lock
(:func:`store_lock`) from before it reads the old store until the swap is done::

    1. .<name>.tmp-<stamp>   written and fsynced
    2. .<name>.swap          journal naming the temporary and the old copy (atomic, fsynced)
    3. <name> -> .<name>.old-<stamp>          (only when a store was there)
    4. .<name>.tmp-<stamp> -> <name>
    5. .<name>.old-<stamp> -> .<name>.trash-<stamp>
    6. journal removed, then the trash deleted

The parent folder is fsynced after every rename. A kill at any point leaves either the
old or the new store, and :func:`recover` (run under the lock by every later reader,
writer and dataset listing) finishes the job: a swap killed between steps 3 and 4 (the
journal's old copy is there, so the store is missing because the swap moved it) rolls
forward to the complete new store, and so does a first write (the journal says no store
was there); otherwise the store on disk is kept and the temporaries, old copies and trash
are removed. Only the journal makes a copy restorable, so a stale copy is never
resurrected over a good store, and a store the user deleted after a crash (neither it
nor the old copy is there) stays deleted. ``.old-*`` copies without a journal come from
older versions of napari-c2w; they are reported (:func:`leftovers`) but never restored
automatically.

Readers never wait for the lock: a store on disk is always complete, so they read it as
it is and only repair leftovers when no writer holds the lock (``recover(wait=False)``).

The lock is an ``fcntl``/``flock`` lock on ``.<name>.lock`` (``filelock``): the kernel
releases it when its holder dies, so a killed writer never leaves a stale lock. The
holder writes its pid, host and start time into the file so that a refused writer can
say who holds the store.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .._fs import crash_point, fsync_dir
from ..errors import StoreError

LOCK_TIMEOUT_ENV = "NAPARI_C2W_LOCK_TIMEOUT"
_DEFAULT_TIMEOUT_S = 30.0


def _lock_timeout_from_env() -> float:
    """``$NAPARI_C2W_LOCK_TIMEOUT`` in seconds: the default (30) when unset or not a number,
    0 (do not wait) when negative; a bad value is warned about, never a traceback."""
    import warnings

    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return _DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        warnings.warn(
            f"{LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds; using {_DEFAULT_TIMEOUT_S:g} "
            f"(set it to e.g. 60, or unset it).",
            UserWarning,
            stacklevel=2,
        )
        return _DEFAULT_TIMEOUT_S
    if value < 0:
        warnings.warn(
            f"{LOCK_TIMEOUT_ENV}={text!r} is negative; writers will not wait for another writer "
            "(0 s). Set a number of seconds to wait, e.g. 600.",
            UserWarning,
            stacklevel=2,
        )
        return 0.0
    return value


#: Seconds a writer waits for another writer of the same store before giving up
#: (``$NAPARI_C2W_LOCK_TIMEOUT``, default 30). Readers never wait.
LOCK_TIMEOUT_S = _lock_timeout_from_env()
_LOCKS: dict[str, object] = {}


def _side(path: Path, kind: str) -> Path:
    return path.parent / f".{path.name}.{kind}"


def journal_path(path: Path) -> Path:
    return _side(path, "swap")


def lock_path(path: Path) -> Path:
    return _side(path, "lock")


def _stamp() -> str:
    return f"{time.time_ns():020d}-{os.getpid()}"


def temp_path(path: Path) -> Path:
    """A fresh temporary name next to ``path`` (a monotonic stamp, then the pid)."""
    return _side(path, f"tmp-{_stamp()}")


def holder(path: str | Path) -> str:
    """Who holds the lock of the store ``path``, in words (pid, host, since when)."""
    return _holder(lock_path(Path(path)))


def _holder(lock_file: Path) -> str:
    try:
        info = json.loads(lock_file.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} (since {info.get('since', '?')})"


def _file_lock(path: Path):
    import filelock

    key = str(path.resolve())
    lock = _LOCKS.get(key)
    if lock is None:
        lock = filelock.FileLock(lock_path(path), thread_local=False)
        _LOCKS[key] = lock
    return lock


@contextlib.contextmanager
def store_lock(path: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the store's write lock (re-entrant within a process).

    Raises:
        StoreError: another process kept the store locked for ``timeout`` seconds; the
            message names the store and the holder.
    """
    import filelock

    path = Path(path)
    timeout = LOCK_TIMEOUT_S if timeout is None else timeout
    lock = _file_lock(path)
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout:
        raise StoreError(
            f"{path} is being written by {_holder(lock_path(path))}; nothing was written. "
            "Wait until that command (or the napari session saving it) is done and run this one again."
        ) from None
    if lock.lock_counter == 1:  # say who holds it, for a refused writer's message
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%H:%M:%S")}
        fd = os.open(lock_path(path), os.O_WRONLY)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode())
        finally:
            os.close(fd)
    try:
        yield
    finally:
        lock.release()


def _remove_tree(path: Path) -> None:
    """Delete a folder by first renaming it to a trash name (a half-deleted copy is never restorable)."""
    if not path.exists():
        return
    if not path.is_dir():
        path.unlink(missing_ok=True)
        return
    trash = path
    if ".trash-" not in path.name:
        trash = path.parent / f".{path.name.lstrip('.')}.trash-{_stamp()}"
        os.replace(path, trash)
        fsync_dir(path.parent)
    shutil.rmtree(trash, ignore_errors=True)


def fsync_tree(path: Path) -> None:
    """Flush every file and folder under ``path`` to disk."""
    for dirpath, _, files in os.walk(path):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                os.fsync(fh.fileno())
        fsync_dir(dirpath)


def commit_folder(path: Path, write: Callable[[Path], None]) -> None:
    """Build the complete new ``path`` with ``write(tmp)`` in a temporary folder next to it, flush
    it and swap it in (call it holding :func:`store_lock`). On any error or interruption the
    temporary goes (or :func:`recover` removes it) and ``path`` is left as it was."""
    tmp = temp_path(path)
    try:
        write(tmp)
        fsync_tree(tmp)
        swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_in(tmp: Path, path: Path) -> None:
    """Commit the complete store ``tmp`` as ``path`` (call it holding :func:`store_lock`)."""
    parent = path.parent
    old = _side(path, f"old-{_stamp()}")
    journal = journal_path(path)
    # "replaces": whether a store was there; recovery tells a first write from a deleted store
    _write_journal(journal, {"tmp": tmp.name, "old": old.name, "replaces": path.exists()})
    crash_point("journal-written")
    if path.exists():
        os.replace(path, old)
        fsync_dir(parent)
        crash_point("old-renamed")
    os.replace(tmp, path)
    fsync_dir(parent)
    crash_point("new-renamed")
    _finish(path, old, journal)


def _write_journal(journal: Path, record: dict) -> None:
    from .._fs import atomic_write_text

    atomic_write_text(journal, json.dumps(record))


def _finish(path: Path, old: Path, journal: Path) -> None:
    if old.exists():
        trash = _side(path, f"trash-{_stamp()}")
        os.replace(old, trash)
        fsync_dir(path.parent)
        crash_point("old-trashed")
    else:
        trash = None
    journal.unlink(missing_ok=True)
    fsync_dir(path.parent)
    crash_point("journal-removed")
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def leftovers(path: Path) -> list[Path]:
    """Temporaries, old copies, trash and a journal lying next to the store ``path``."""
    if not path.parent.is_dir():
        return []
    prefix = f".{path.name}."
    kinds = ("tmp-", "old-", "trash-", "swap")
    return sorted(
        p
        for p in path.parent.iterdir()
        if p.name.startswith(prefix) and p.name[len(prefix) :].startswith(kinds)
    )


def needs_recovery(path: Path) -> bool:
    """Whether :func:`recover` has anything to do for ``path`` (cheap: one listing)."""
    return bool(leftovers(path))


def recover(path: str | Path, *, wait: bool = True) -> list[str]:
    """Finish or undo an interrupted commit of ``path`` and remove its leftovers.

    Args:
        path: the store.
        wait: wait for a live writer's lock; with False (readers), skip when a writer holds
            it (the writer cleans up).

    Returns:
        Notes on what could not be repaired automatically (legacy ``.old-*`` copies of
        a store that is missing, or a store missing because a live writer is swapping it),
        for listings and readers to report.
    """
    path = Path(path)
    if not needs_recovery(path):
        return []
    try:
        with store_lock(path, timeout=LOCK_TIMEOUT_S if wait else 0):
            return _recover_locked(path)
    except StoreError:
        if wait:
            raise
        if path.exists():
            return []  # the committed store is complete: read it as it is
        return [
            f"{path}: is being replaced by {holder(path)} right now; run this again when that "
            "command (or the napari session saving it) is done"
        ]
    except OSError as err:  # a read-only dataset: report, never fail a read
        return [f"{path}: interrupted write could not be cleaned up ({err})"]


def _recover_locked(path: Path) -> list[str]:
    journal = journal_path(path)
    notes: list[str] = []
    if journal.exists():
        try:
            record = json.loads(journal.read_text())
            tmp, old = path.parent / record["tmp"], path.parent / record["old"]
            if not all(p.parent == path.parent and p.name.startswith(f".{path.name}.") for p in (tmp, old)):
                raise ValueError("the journal names files that are not this store's")
            first_write = record.get("replaces") is False
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            tmp = old = None
        # roll forward only when the swap itself moved the store away (its old copy is there)
        # or no store was there before; a store the user deleted stays deleted
        if tmp is not None and not path.exists() and tmp.exists() and (old.exists() or first_write):
            os.replace(tmp, path)  # killed between the renames: the new store is complete
            fsync_dir(path.parent)
        for copy in (tmp, old):  # never restorable once the journal is gone
            if copy is not None:
                _remove_tree(copy)
        journal.unlink(missing_ok=True)
        fsync_dir(path.parent)
    for item in leftovers(path):
        if item.name.endswith(".swap"):
            continue
        if ".old-" in item.name and not path.exists():
            notes.append(
                f"{path}: missing, but an older napari-c2w left a copy at {item.name}; "
                f"check it and rename it to {path.name} to restore it"
            )
            continue
        _remove_tree(item)
    return notes
