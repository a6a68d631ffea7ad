"""Fine-tuning in a separate process: ``napari-c2w-train`` per stage, watched from outside (Qt-free).

The Fine-tune widget and ``benchmarks/bench_adaptation.py`` describe a run as a
:class:`FineTuneRequest`; :class:`TrainingProcess` runs ``python -m napari_c2w.train.cli`` for
each stage in turn (the caller's environment, so the same package is used), one run folder per
stage under the request's output folder, and reads their ``metrics.csv`` for live plots.
:meth:`TrainingProcess.cancel` sends SIGINT, the Ctrl-C of the command line: the trainer
finishes its iteration and keeps a resumable ``last.pt``. :func:`shell_commands` prints the
same runs as commands anyone can repeat.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..io.store import STORE_SUFFIX, is_case_store
from .config import tune_applies

BUNDLED = "bundled"


@dataclasses.dataclass
class FineTuneRequest:
    """What to fine-tune, on which reviewed cases, from which models.

    Attributes:
        stages: stages to train, in order (e.g. ``["cavity"]``).
        cases: case stores (``<case>.ome.zarr``) or dataset folders of them.
        output: folder receiving one run folder per stage (``<output>/<stage>``).
        init: ``bundled``, a run folder/checkpoint of the stage, or a folder holding one run
            folder per stage (an earlier fine-tune's output).
        iterations: training iterations per stage.
        val_every: validate every N iterations (None: the config's).
        config: a training YAML (None: the stage's defaults).
        device: ``auto``, ``cpu``, ``cuda``...
        adapt: adapt to the cases' scans instead (``napari-c2w adapt``: self-training on the
            predictions the quality checks pass; the cases need no labels).
        tune: which part of the network trains (``napari-c2w-train --tune``; None: the config's),
            for the stages whose schedule lets it choose (:func:`.config.tune_applies`: the cavity).
    """

    stages: list[str]
    cases: list[Path]
    output: Path
    init: str = BUNDLED
    iterations: int = 300
    val_every: int | None = None
    config: Path | None = None
    device: str = "auto"
    adapt: bool = False
    tune: str | None = None

    @property
    def adapt_dir(self) -> Path:
        """With ``adapt``: the adapt run (``napari-c2w adapt``'s RUN, a model folder)."""
        return Path(self.output) / "adapt"

    def run_dir(self, stage: str) -> Path:
        return Path(self.output) / stage

    def init_for(self, stage: str) -> str:
        if self.init == BUNDLED:
            return BUNDLED
        per_stage = Path(self.init) / stage
        return str(per_stage) if (per_stage / "best.pt").is_file() else str(self.init)


def dataset_folder(request: FineTuneRequest) -> Path:
    """A dataset folder holding exactly the request's case stores (``--data`` takes folders).

    One dataset folder is used as it is; chosen stores are linked (symlinks, nothing copied)
    into ``<output>/cases``.
    """
    stores = [Path(p) for p in request.cases]
    if not stores:
        raise InputError(None, "no reviewed cases were chosen.", "Approve cases in the review queue first.")
    folders = [p for p in stores if p.is_dir() and not is_case_store(p)]
    if folders and len(folders) == len(stores) == 1:
        return folders[0]
    target = Path(request.output) / "cases"
    target.mkdir(parents=True, exist_ok=True)
    for store in stores:
        if not (store.name.endswith(STORE_SUFFIX) and is_case_store(store)):
            raise InputError(
                store, "is not a case store.", "Choose <case>.ome.zarr stores or one dataset folder."
            )
        link = target / store.name
        if not link.exists():
            os.symlink(store.resolve(), link, target_is_directory=True)
    return target


def train_args(request: FineTuneRequest, stage: str, data: Path) -> list[str]:
    """The ``napari-c2w-train`` arguments of one stage's run."""
    args = ["--stage", stage, "--data", str(data), "--from", request.init_for(stage)]
    args += ["--iterations", str(request.iterations), "--output", str(request.run_dir(stage))]
    if request.val_every:
        args += ["--val-every", str(request.val_every)]
    if request.config:
        args += ["--config", str(request.config)]
    if request.device != "auto":
        args += ["--device", request.device]
    if request.tune and tune_applies(stage):
        args += ["--tune", request.tune]
    return args


def adapt_args(request: FineTuneRequest, data: Path) -> list[str]:
    """The ``napari-c2w adapt`` arguments of an adapt request."""
    args = ["adapt", str(data), "--output", str(request.adapt_dir), "--stages", *request.stages]
    args += ["--iterations", str(request.iterations)]
    if request.device != "auto":
        args += ["--device", request.device]
    return args


def shell_commands(request: FineTuneRequest, data: Path | None = None) -> list[str]:
    """The runs as commands to repeat in a terminal."""
    data = data if data is not None else Path(request.output) / "cases"
    if request.adapt:
        return [shlex.join(["napari-c2w", *adapt_args(request, data)])]
    return [shlex.join(["napari-c2w-train", *train_args(request, s, data)]) for s in request.stages]


#: Where each phase of a stage's run puts the bar (its share of the stage): the data takes about
#: 5 %, the iterations 85 %, the threshold's calibration the rest.
PHASE_AT = {"preparing": 0.02, "training": 0.05, "calibrating": 0.92}
TRAINING_SHARE = 0.85
#: How much lower than napari's the training process's CPU priority is (POSIX ``nice``).
CHILD_NICENESS = 5


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The validation rows of a run's ``metrics.csv`` (numbers as floats; [] before the first)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            rows.append({k: _number(v) for k, v in row.items()})
    return rows


def _number(value: str):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _log_lines(path: Path | None) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines() if path is not None else []
    except OSError:
        return []


class TrainingProcess:
    """Run the request's stages one after another, each in its own child process.

    Call :meth:`start`, then :meth:`poll` now and then (it starts the next stage when one
    ends); :attr:`state` is ``running``, ``completed``, ``cancelled`` or ``failed``.
    """

    def __init__(self, request: FineTuneRequest, python: str = sys.executable) -> None:
        self.request, self.python = request, python
        self.state = "new"
        self.stage: str | None = None
        self.finished: list[Path] = []
        self.message = ""
        self._queue = ["adapt"] if request.adapt else list(request.stages)
        self._proc: subprocess.Popen | None = None
        self._log = None
        self.data: Path | None = None

    @property
    def log_path(self) -> Path | None:
        return None if self.stage is None else Path(self.request.output) / f"{self.stage}.log"

    def start(self) -> None:
        Path(self.request.output).mkdir(parents=True, exist_ok=True)
        self.data = dataset_folder(self.request)
        self.state = "running"
        self._next()

    def _run_of(self, stage: str) -> Path:
        return self.request.adapt_dir if stage == "adapt" else self.request.run_dir(stage)

    def _next(self) -> None:
        self.stage = self._queue.pop(0)
        if self.stage == "adapt":
            argv = [self.python, "-m", "napari_c2w.cli", *adapt_args(self.request, self.data)]
        else:
            argv = [
                self.python,
                "-m",
                "napari_c2w.train.cli",
                *train_args(self.request, self.stage, self.data),
            ]
        self._log = open(self.log_path, "w")
        self._proc = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            # below the viewer's priority (POSIX): the training yields the CPU when napari draws
            preexec_fn=(lambda: os.nice(CHILD_NICENESS)) if hasattr(os, "nice") else None,  # noqa: PLW1509
        )
        self.message = (
            f"adapting the {' and '.join(self.request.stages)} to these scans"
            if self.stage == "adapt"
            else f"training the {self.stage} ({self.request.iterations} iterations)"
        )

    def poll(self) -> str:
        """Check the child; start the next stage when one completed. Returns :attr:`state`."""
        if self.state != "running" or self._proc is None:
            return self.state
        code = self._proc.poll()
        if code is None:
            return self.state
        self._log.close()
        run = self._run_of(self.stage)
        if code == 0:
            self.finished.append(run)
            if self._queue:
                self._next()
                return self.state
            self.state, self.message = "completed", f"done: {', '.join(str(p) for p in self.finished)}"
        elif code == 130 or self._cancelled:
            self.state = "cancelled"
            self.message = (
                f"cancelled: {run} keeps what was done (its adapt.json, each round's run)"
                if self.stage == "adapt"
                else f"cancelled: {run / 'last.pt'} kept; continue with "
                f"napari-c2w-train --resume --output {shlex.quote(str(run))}"
            )
        else:
            self.state = "failed"
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
            self.message = f"the {self.stage} run failed (exit {code}): " + " | ".join(tail)
        return self.state

    _cancelled = False

    def fraction(self) -> tuple[float, str]:
        """How far the whole request is (0-1), and what the running stage is doing now.

        Reads the running stage's ``progress.json``: preparing the data, iteration i of n, or
        calibrating the threshold (about a minute on 2 cores, after the last iteration).
        """
        from .rundir import RunDir

        stages = max(len(self.request.stages), 1)
        if self.state == "completed":
            return 1.0, "done"
        if self.stage is None:
            return 0.0, ""
        if self.stage == "adapt":
            return self._adapt_fraction()
        record = RunDir(self.request.run_dir(self.stage)).read_progress()
        phase = record.get("phase", "preparing")
        part = PHASE_AT.get(phase, 1.0)
        doing = {"preparing": "preparing the data", "calibrating": "calibrating the threshold"}.get(phase, "")
        if phase == "training":
            total = max(int(self.request.iterations), 1)
            it = min(int(record.get("iteration", 0)), total)
            part += TRAINING_SHARE * it / total
            doing = f"iteration {it} of {total}"
        done = len(self.finished) + (part if self.state == "running" else 0.0)
        return min(done / stages, 1.0), doing

    def cancel(self) -> None:
        """Ctrl-C for the running stage: it saves ``last.pt`` after its iteration; later stages
        do not start."""
        self._queue.clear()
        self._cancelled = True
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)

    def _adapt_fraction(self) -> tuple[float, str]:
        """An adapt run's progress: its last ``adapt: NN% message`` line, and the iteration of
        the training it runs now."""
        from .rundir import RunDir

        lines = [ln for ln in _log_lines(self.log_path) if ln.startswith("adapt:") and "%" in ln]
        if not lines:
            return 0.0, "segmenting the scans"
        percent, _, doing = lines[-1].removeprefix("adapt:").strip().partition("%")
        run = self._adapt_training()
        if run is not None and "training" in doing:
            record = RunDir(run).read_progress()
            if record.get("phase") == "training":
                doing += f" (iteration {record.get('iteration', 0)} of {record.get('total', '?')})"
        return float(percent) / 100.0, doing.strip()

    def _adapt_training(self) -> Path | None:
        """The training run an adapt run is in (the newest round's stage folder), if any."""
        found = sorted(
            self.request.adapt_dir.glob("rounds/*/*/progress.json"), key=lambda p: p.stat().st_mtime
        )
        return found[-1].parent if found else None

    def before_after(self) -> list[str]:
        """What each finished run says of its validation Dice before and after (see
        :func:`napari_c2w.train.api.before_after`)."""
        import json

        from .api import comparison_text
        from .rundir import STATUS

        out = []
        for run in self.finished:
            try:
                c = json.loads((Path(run) / STATUS).read_text()).get("before_after")
            except (OSError, ValueError):
                c = None
            if c:
                out.append(f"{Path(run).name}: {comparison_text(c)}")
        return out

    def metrics(self) -> list[dict]:
        """Validation rows of the running (or last) stage."""
        if self.stage == "adapt":
            run = self._adapt_training()
            return [] if run is None else read_metrics(run)
        return [] if self.stage is None else read_metrics(self.request.run_dir(self.stage))

    def wait(self, timeout: float | None = None, tick: Callable[[], None] | None = None) -> str:
        """Poll until the runs end (the synchronous face: benchmarks, tests)."""
        t0 = time.monotonic()
        while self.poll() == "running":
            if timeout is not None and time.monotonic() - t0 > timeout:
                self.cancel()
                timeout = None
            if tick is not None:
                tick()
            time.sleep(0.2)
        return self.state
