"""File-system helpers shared by every writer: permissions of atomically written files."""

from __future__ import annotations

import os


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
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
