"""Progress of a pipeline run: steps weighted by their share of the time, windows within a step.

A step may run the networks several times (an alternate network, the contrast check); each
forward pass restarts its window count, so the pass number is tracked: the fraction never goes
back, and the time left is the step's, over all its passes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from ..stages import PIPELINE_STAGES, STAGES

#: Share of the run each step takes (for the progress bar), measured on the 2-core CPU
#: (bench_inference, all three stages cropped); the stages' shares are their
#: :attr:`napari_c2w.stages.Stage.progress`.
WEIGHTS = {"prepare": 0.02, **{s: STAGES[s].progress for s in PIPELINE_STAGES}, "finish": 0.13}


class RunProgress:
    """Turns steps and windows into ``report(fraction, message)`` calls, never decreasing."""

    def __init__(self, report: Callable[[float, str], None]) -> None:
        self.report = report
        self.done = 0.0
        self.timings: dict[str, float] = {}
        self.step("prepare", "", report=False)

    def step(self, name: str, message: str, passes: int = 1, *, report: bool = True) -> None:
        """Start step ``name``, which runs the networks ``passes`` times."""
        self.stage, self.t_stage, self.message = name, time.perf_counter(), message
        self.passes, self.pass_, self.last_window, self.part = passes, 0, 0, 0.0
        if report:
            self.report(min(self.done, 1.0), message)

    def window(self, done: int, total: int) -> None:
        """``done`` of ``total`` windows of the current forward pass are done."""
        if done <= self.last_window:  # a new forward pass of this step
            self.pass_ += 1
            self.passes = max(self.passes, self.pass_ + 1)  # a pass nobody planned for
        self.last_window = done
        self.part = max(self.part, min((self.pass_ + done / max(total, 1)) / self.passes, 1.0))
        elapsed = time.perf_counter() - self.t_stage
        left = elapsed / self.part * (1 - self.part) if self.part > 0 else math.nan
        when = f", about {left:.0f} s left" if math.isfinite(left) else ""
        which = f" (pass {self.pass_ + 1} of {self.passes})" if self.passes > 1 else ""
        fraction = self.done + WEIGHTS.get(self.stage, 0.0) * self.part
        self.report(min(fraction, 1.0), f"{self.message}{which}: window {done} of {total}{when}")

    def finish(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.perf_counter() - t0, 3)
        self.done += WEIGHTS.get(name, 0.0)
        self.report(min(self.done, 1.0), f"{name} done")
