"""File-system helpers shared by every writer: permissions of atomically written files."""

from __future__ import annotations

import os
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
    """Write a small text file atomically: a temporary file in the same folder, then rename."""
    import tempfile
    from pathlib import Path

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        make_shareable(fd)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        crash_point("text-written")
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
