"""Share the CPU's cores between napari-c2w's torch jobs on one machine.

Two torch jobs that each use every core oversubscribe them: on a 2-core CPU a prediction beside
a fine-tune took 21.4 s instead of 3.1 s alone (6.9x), and training slowed up to 9x. With one
thread each the same prediction took 5.2 s beside it (``benchmarks/bench_threads.py``). So every
prediction and training run registers itself (a file named by its pid in :func:`jobs_dir`),
and before each window or iteration asks :func:`fair_threads` how many threads are its share:
the cores it may use divided by the live jobs, at least one. A job that ends (or dies: its pid
is gone) frees its share at the next check of the others.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .._env import cache_root, flag

#: Set to 0 to turn the sharing off (each job then uses the threads it was given).
SHARE_ENV = "NAPARI_C2W_SHARE_CORES"
_STATE = {"wanted": None, "registered": 0, "checked": 0.0, "threads": None}
#: The registry is read at most this often (seconds); a window or an iteration takes longer.
CHECK_EVERY_S = 0.5


def jobs_dir() -> Path:
    return cache_root() / "jobs"


def sharing() -> bool:
    return flag(SHARE_ENV, default=True)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def live_jobs() -> int:
    """The registered jobs whose process still runs (stale entries are removed)."""
    folder = jobs_dir()
    n = 0
    for entry in folder.glob("*.job") if folder.is_dir() else ():
        try:
            pid = int(entry.stem)
        except ValueError:
            continue
        if pid == os.getpid() or _alive(pid):
            n += 1
        else:
            entry.unlink(missing_ok=True)
    return n


@contextlib.contextmanager
def cpu_job(kind: str) -> Iterator[None]:
    """Register this process as a torch job (``kind``: "predict", "train") while the block runs."""
    if not sharing():
        yield
        return
    entry = jobs_dir() / f"{os.getpid()}.job"
    registered = False
    if _STATE["registered"] == 0:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            entry.write_text(f"{kind} {time.time():.0f}\n")
            registered = True
        except OSError:  # a read-only or full cache: run unshared
            pass
    _STATE["registered"] += 1
    _STATE["checked"] = 0.0
    try:
        yield
    finally:
        _STATE["registered"] -= 1
        if registered:
            entry.unlink(missing_ok=True)


def want(threads: int) -> None:
    """The most threads this process's jobs take from now on (:func:`.device.set_threads`)."""
    _STATE.update(wanted=int(threads), threads=None)


def fair_threads(wanted: int | None = None) -> int:
    """Set torch's intra-op threads to this job's share of the cores (``wanted`` at most) and
    return it; cheap to call before every window or iteration."""
    import torch

    # the most it takes: what it asks, else what set_threads() set, else the process's setting
    # when it first asked (a script that set torch's threads keeps them)
    wanted = int(wanted or _STATE["wanted"] or torch.get_num_threads())
    now = time.monotonic()
    if (
        _STATE["threads"] is not None
        and now - _STATE["checked"] < CHECK_EVERY_S
        and _STATE["wanted"] == wanted
    ):
        return _STATE["threads"]
    share = max(1, min(wanted, cores() // max(1, live_jobs()))) if sharing() else wanted
    _STATE.update(wanted=wanted, checked=now, threads=share)
    if torch.get_num_threads() != share:
        torch.set_num_threads(share)
    return share
