"""Run one pure function in a fresh interpreter and return its result (no Qt, no napari).

``python -m napari_c2w._subprocess`` reads a pickled ``(module, name, args, kwargs)`` from
stdin and writes the pickled result (or the exception) to stdout. Unlike ``multiprocessing``'s
spawn it never re-imports the caller's ``__main__`` (a user's napari script would start a
second viewer). Only napari-c2w's own functions are called: the module must be ours.
"""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
from collections.abc import Callable
from typing import Any


def call(fn: Callable, /, *args, **kwargs) -> Any:
    """``fn(*args, **kwargs)`` in a child interpreter; its exception is raised here."""
    request = pickle.dumps((fn.__module__, fn.__qualname__, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    done = subprocess.run([sys.executable, "-m", __name__], input=request, capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(
            f"{fn.__qualname__} failed in its process (exit {done.returncode}): {' | '.join(tail)}"
        )
    ok, value = pickle.loads(done.stdout)
    if not ok:
        raise value
    return value


def _serve() -> None:
    module, name, args, kwargs = pickle.loads(sys.stdin.buffer.read())
    if module.split(".")[0] != "napari_c2w":
        raise SystemExit(f"refusing to call {module}.{name}: not a napari-c2w function")
    fn = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    try:
        reply = (True, fn(*args, **kwargs))
    except Exception as err:  # sent back and raised in the parent
        reply = (False, err)
    try:
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        if not reply[0]:
            pickle.loads(data)  # the exception must rebuild in the parent, or it goes as its text
    except Exception:
        data = pickle.dumps((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))
    sys.stdout.buffer.write(data)


if __name__ == "__main__":
    _serve()
