"""File-system helpers shared by every writer: atomic, checked files and their temporaries.

Every file napari-c2w writes for another tool goes through :class:`AtomicFiles` (or
:func:`atomic_write_text`): a temporary name no consumer lists, fsync, a
check that it reads back complete, a rename into place, an fsync of the folder. Nothing
truncated or empty ever lies under a final name, whether the disk fills up or the process is
killed, and the next writer into a folder removes what crashed writers left
(:func:`sweep_temps`).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path


def default_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give (0o666 minus the umask).

    ``tempfile.mkstemp`` creates files readable by their owner only; writers that write to a
    temporary file and rename it into place call this so that datasets stay shareable.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def make_shareable(fd: int) -> None:
    """Give a file created by ``mkstemp`` the usual permissions (no-op where unsupported)."""
    if hasattr(os, "fchmod"):
        os.fchmod(fd, default_file_mode())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a small text file atomically (UTF-8): see :class:`AtomicFiles` (crash points
    ``text-written``, ``text-renamed``, ``text-committed``); it replaces ``path``."""
    with AtomicFiles(overwrite=True, crash="text") as files:
        files.write_text(path, text)


def fsync_dir(path: str | os.PathLike) -> None:
    """fsync a folder so that renames and deletions inside it survive a power cut."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # e.g. Windows: folders cannot be opened; renames are durable there
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders
    finally:
        os.close(fd)


#: Environment variable naming a crash point (tests and benchmarks/bench_faults.py).
CRASH_ENV = "NAPARI_C2W_CRASH_AT"


def crash_point(name: str) -> None:
    """Kill this process (SIGKILL, like a power cut) when ``$NAPARI_C2W_CRASH_AT`` names ``name``.

    A test hook: writers call it between the steps of a commit so that tests can stop them at
    an exact moment. ``NAPARI_C2W_CRASH_AT=point`` crashes at the first ``point``,
    ``point:3`` at its third.
    """
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    count = _CRASH_COUNTS.get(name, 0) + 1
    _CRASH_COUNTS[name] = count
    if count >= int(nth or 1):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


_CRASH_COUNTS: dict[str, int] = {}


def confined(out_dir: str | os.PathLike, name: str) -> Path:
    """``out_dir / name``, refused unless it stays inside ``out_dir`` (after resolving links).

    Every writer that joins a case id or another name taken from a file into an output folder
    goes through this, so that a name such as ``../../x`` or ``/etc/x`` (e.g. a hand-edited
    ``case_id`` attribute) cannot write elsewhere.

    Raises:
        InputError: the joined path leaves ``out_dir`` or is ``out_dir`` itself.
    """
    from .errors import InputError

    out_dir = Path(out_dir)
    target = out_dir / name
    base = out_dir.resolve()
    resolved = target.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise InputError(
            target,
            f"is outside the output folder {out_dir} (the name {name!r} holds a path).",
            "Fix the case id (a plain name: letters, digits, '-', '_'); nothing was written there.",
        )
    return target


# --------------------------------------------------------------------------- atomic files

#: The end of every temporary file or folder name a napari-c2w writer makes (and sweeps).
TEMP_SUFFIX = ".c2w-tmp"
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-(?P<token>[0-9a-f]+)\.c2w-tmp$")
#: Temporaries of earlier versions (``tempfile.mkstemp``: ``.<name>.<8 chars>.tmp[.nii.gz]``).
_LEGACY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.nii\.gz|\.nii|\.nrrd|\.nhdr|\.mha|\.mhd)?$")
#: Age after which an earlier version's temporary (no pid in its name) counts as abandoned.
LEGACY_TEMP_AGE_S = 3600.0


def temp_name(path: str | os.PathLike) -> Path:
    """A fresh temporary name next to ``path``: ``.<name>.<pid>-<random>.c2w-tmp``.

    Hidden and ending in ``.c2w-tmp``, it matches no consumer's pattern (nnU-Net lists
    ``*.nii.gz``, Slicer ``*.seg.nrrd``); the pid lets :func:`sweep_temps` tell a live
    writer's temporary from a crashed one's.
    """
    path = Path(path)
    return path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"


def sweep_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporaries crashed writers left in ``folder`` (not recursive); returns them.

    A :func:`temp_name` temporary goes when the process in its name is gone, or started after
    the temporary was last written (the pid was reused); an earlier version's when it is older
    than :data:`LEGACY_TEMP_AGE_S`. Live writers' temporaries stay. :class:`AtomicFiles` sweeps
    each folder it writes into, so the next command writing there cleans up. Pids are this
    machine's: a writer on another host sharing the folder may lose its temporary, and then its
    commit fails (it never leaves a damaged file).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        ours = _TEMP.match(entry.name)
        if not ours and not _LEGACY.match(entry.name):
            continue
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
            if ours:
                if _writer_alive(int(ours["pid"]), mtime):
                    continue
            elif time.time() - mtime < LEGACY_TEMP_AGE_S or not entry.is_file(follow_symlinks=False):
                continue
            _remove(Path(entry.path))
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _writer_alive(pid: int, mtime: float) -> bool:
    """Whether process ``pid`` may still be writing a temporary last modified at ``mtime``."""
    if os.name == "nt":  # no harmless signal-0 probe there: go by age
        return time.time() - mtime < LEGACY_TEMP_AGE_S
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # EPERM: alive, another user's
    started = _process_start(pid)
    return started is None or mtime >= started - 2.0  # btime and clock ticks are rounded


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since the epoch (Linux ``/proc``), or None."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


@dataclasses.dataclass
class _Pending:
    final: Path
    tmp: Path
    holder: Path  # the temporary file, or the folder holding it (keep_name)
    verify: Callable[[Path], None] | None
    allow_empty: bool


class AtomicFiles:
    """Files written under temporary names, checked, then renamed into place together.

    :meth:`temp` hands out a temporary path next to its final one (:func:`temp_name`; with
    ``keep_name``: ``<that folder>/<final name>``, for writers that pick the format from the
    extension: SimpleITK, slicerio). Leaving the ``with`` block without an error
    commits:

    1. every temporary is fsynced and checked: not empty, then its ``verify`` callback (e.g.
       read it back; SimpleITK does not report a full disk, a check does);
    2. crash point ``<crash>-written``; each is renamed into place in the order asked for
       (write the file that marks a folder complete last), ``<crash>-renamed`` after each;
    3. the folders are fsynced: ``<crash>-committed``.

    Any error (a full disk, a failed check, a file that exists without ``overwrite``) removes
    the temporaries and the files this commit had already put in a new place: the set is
    written whole or not at all (a replaced file is not restored; it is complete). Asking for
    the first temporary in a folder sweeps crashed writers' temporaries (:func:`sweep_temps`).
    """

    def __init__(self, *, overwrite: bool = False, crash: str = "file") -> None:
        self.overwrite, self.crash = overwrite, crash
        self._pending: list[_Pending] = []
        self._swept: set[Path] = set()

    def __enter__(self) -> AtomicFiles:
        return self

    def __exit__(self, kind, err, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def temp(
        self,
        final: str | os.PathLike,
        *,
        keep_name: bool = False,
        verify: Callable[[Path], None] | None = None,
        allow_empty: bool = False,
    ) -> Path:
        """A temporary path to write ``final``'s content to (committed with the others).

        Raises:
            FileExistsError: ``final`` exists and the set was not made with ``overwrite``.
        """
        final = Path(final)
        if not self.overwrite and final.exists():
            raise _exists(final)
        if any(p.final == final for p in self._pending):
            raise ValueError(f"{final} is written twice in one commit")
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.parent not in self._swept:
            sweep_temps(final.parent)
            self._swept.add(final.parent)
        holder = temp_name(final)
        if keep_name:
            holder.mkdir()
        pending = _Pending(final, holder / final.name if keep_name else holder, holder, verify, allow_empty)
        self._pending.append(pending)
        return pending.tmp

    def write_text(self, final: str | os.PathLike, text: str) -> Path:
        """Write ``text`` (UTF-8) as ``final``, checked by reading it back."""
        data = text.encode("utf-8")

        def same(tmp: Path) -> None:
            if tmp.read_bytes() != data:
                raise OSError(errno.EIO, "it reads back different bytes")

        with open(self.temp(final, verify=same, allow_empty=True), "wb") as fh:
            fh.write(data)
        return Path(final)

    def commit(self) -> list[Path]:
        """Check, rename and fsync every pending file (see the class); returns the final paths.

        Raises:
            OSError: a temporary could not be synced or failed its check (errno EIO, naming
                the final path), or a rename failed; nothing of this set is left in a new place.
            FileExistsError: a final path appeared meanwhile and ``overwrite`` is False.
        """
        pending, self._pending = self._pending, []
        placed: list[Path] = []
        try:
            for p in pending:
                _check_written(p)
            crash_point(f"{self.crash}-written")
            for p in pending:
                new = not p.final.exists()
                if not new and not self.overwrite:
                    raise _exists(p.final)
                os.replace(p.tmp, p.final)
                if new:
                    placed.append(p.final)
                crash_point(f"{self.crash}-renamed")
            for folder in dict.fromkeys(p.final.parent for p in pending):
                fsync_dir(folder)
        except BaseException:
            for path in placed:
                path.unlink(missing_ok=True)
            raise
        finally:
            _drop(pending)
        crash_point(f"{self.crash}-committed")
        return [p.final for p in pending]

    def discard(self) -> None:
        """Remove every pending temporary (nothing is committed)."""
        pending, self._pending = self._pending, []
        _drop(pending)


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "exists; pass --overwrite (overwrite=True) to replace it", str(path))


def _check_written(p: _Pending) -> None:
    try:
        fd = os.open(p.tmp, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    except FileNotFoundError:
        raise OSError(errno.EIO, "the writer left no file", str(p.final)) from None
    try:
        os.fsync(fd)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size == 0 and not p.allow_empty:
        raise OSError(errno.EIO, "was written empty (is the disk full?)", str(p.final))
    if p.verify is not None:
        try:
            p.verify(p.tmp)
        except Exception as err:
            why = getattr(err, "strerror", None) or str(err) or type(err).__name__
            raise OSError(
                errno.EIO, f"did not read back complete ({why}); is the disk full?", str(p.final)
            ) from err


def _drop(pending: list[_Pending]) -> None:
    for p in pending:
        _remove(p.holder)
