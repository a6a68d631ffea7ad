"""A training run's live progress in its folder (``progress.json``), for whoever watches it.

The Fine-tune widget runs ``napari-c2w-train`` in a child process; without this file it only saw
``metrics.csv``, so its bar sat at 0 % until the first validation and at 100 % while the
threshold was calibrated. Phases: ``preparing`` (reading and resampling the cases), ``training``
(iteration of total, at most one write a second), ``calibrating`` (the threshold on the
validation cases), then the run's status.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .rundir import RunDir


class ProgressFile:
    """Record phases and iterations in ``run/progress.json``; forward iterations to ``then``."""

    def __init__(
        self,
        run: RunDir,
        then: Callable[[dict], None] | None = None,
        *,
        enabled: bool = True,
        every_s: float = 1.0,
    ) -> None:
        self.run, self.then, self.enabled, self.every_s = run, then, enabled, every_s
        self._last = 0.0

    def phase(self, name: str, **extra) -> None:
        if self.enabled:
            self.run.write_progress({"phase": name, "time": time.time(), **extra})

    def __call__(self, row: dict) -> None:
        if self.then is not None:
            self.then(row)
        now = time.monotonic()
        if now - self._last >= self.every_s or row.get("iteration") == row.get("total"):
            self._last = now
            self.phase("training", **{k: row[k] for k in ("iteration", "total", "loss") if k in row})
