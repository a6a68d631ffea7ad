"""Helpers of the reliability tests: child processes running napari-c2w with this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this one's (PYTHONPATH included) plus ``extra``."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}, **extra)
    return env


def run_child(code: str, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (argv[1:] = ``args``) and return its result."""
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        env=child_env(**env),
        check=False,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )


def run_cli(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """``napari-c2w ARGS`` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "napari_c2w.cli", *map(str, args)],
        env=child_env(**env),
        check=False,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )
