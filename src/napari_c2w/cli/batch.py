"""Shared batch loop of the CLI: a progress bar, going on past bad cases, a failure list.

Data (the paths written, ``--json`` documents) go to stdout, everything else to stderr, so that a
command's output can be piped: :func:`emit` prints a line of data without breaking the bar.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..errors import C2WError, InputError


def make_output_folder(folder: Path) -> Path:
    """Create ``folder`` and check that it can be written to, before any work is done.

    Raises:
        InputError: it cannot be created or written (read-only, no permission, disk full).
    """
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder) as fh:
            fh.write(b"napari-c2w write check")
            fh.flush()
    except OSError as err:
        raise InputError(
            folder,
            f"cannot be written to ({err.strerror or err}).",
            "Choose another output folder, or fix its permissions / free space.",
        ) from None
    return folder


def emit(line: str | Path) -> None:
    """Print one line of data on stdout (the progress bar on stderr is redrawn below it)."""
    from tqdm import tqdm

    tqdm.write(str(line), file=sys.stdout)


def emit_json(doc: dict) -> None:
    """Print a ``--json`` document on stdout."""
    import json

    print(json.dumps(doc, indent=1, default=str), file=sys.stdout)


def run_batch(
    items: Iterable,
    work: Callable,
    *,
    desc: str,
    name: Callable = str,
    total: int | None = None,
    failures: list[tuple[str, str]] | None = None,
) -> int:
    """Call ``work(item)`` for each item; report failures at the end; return an exit code.

    Items that are exceptions (already known to be bad) count as failures directly. The
    (name, message) of each failure is also appended to ``failures`` when given.
    """
    failures = [] if failures is None else failures
    done = 0
    items = list(items) if total is None else items
    bar = tqdm(
        items, desc=desc, unit="case", total=total if total is not None else len(items), file=sys.stderr
    )
    with logging_redirect_tqdm():  # warnings of a case print on their own line, above the bar
        for item in bar:
            if isinstance(item, Exception):
                failures.append((str(getattr(item, "path", "?")), str(item)))
                continue
            label = name(item)
            bar.set_postfix_str(label[:40])
            try:
                work(item)
                done += 1
            except (C2WError, OSError, ValueError) as err:
                failures.append((label, str(err)))
            except Exception as err:  # one bad case (e.g. RecursionError) never aborts a batch
                failures.append((label, f"{type(err).__name__}: {err}"))
    bar.close()
    print(f"{desc}: {done} case(s) done, {len(failures)} failed", file=sys.stderr)
    for label, message in failures:
        print(f"  FAILED {label}: {message}", file=sys.stderr)
    return 1 if failures else 0
