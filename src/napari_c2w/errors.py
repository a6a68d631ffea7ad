"""Errors raised for bad input. Each message names the file and says what to fix."""

from __future__ import annotations

from pathlib import Path


class C2WError(Exception):
    """Base class of napari-c2w's own errors."""


class InputError(C2WError, ValueError):
    """A file or array the user gave cannot be used as it is."""

    def __init__(self, path: str | Path | None, problem: str, fix: str = "") -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}" + (f" {fix}" if fix else ""))

    def __reduce__(self):  # picklable: it crosses process boundaries (workers, _subprocess)
        return type(self), (self.path, self.problem, self.fix)


class StoreError(C2WError, OSError):
    """A case store cannot be read or written safely."""


class SaveRefused(C2WError, RuntimeError):
    """napari's writer refused the layers it was given (the message says which and why).

    Not a ``ValueError``: napari takes a writer's ``ValueError`` for "this writer does not apply"
    and shows "not a valid writer" instead of the message.
    """


class MissingDependency(C2WError, ImportError):
    """An optional dependency a function needs is not installed (the message says what to install)."""
