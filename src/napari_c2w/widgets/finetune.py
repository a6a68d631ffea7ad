"""The "Fine-tune" widget: train the models further on reviewed cases, from inside napari.

Thin: a :class:`napari_c2w.train.runner.TrainingProcess` runs ``napari-c2w-train`` in a child
process per stage (the viewer stays responsive), a timer polls it and redraws the loss and the
validation Dice from the run's ``metrics.csv``; Cancel is the command line's Ctrl-C (the run
keeps ``last.pt``). The widget prints the exact commands, and at the end hands the new runs to
the Segment widget, which segments the open case again with them.
"""

from __future__ import annotations

import time
from pathlib import Path

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, SpinBox
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QWidget,
)

from .._session import first_use
from ..io.case import REVIEW_STATUSES
from ..stages import PIPELINE_STAGES
from ..train.config import TUNE_CHOICES
from ..train.runner import BUNDLED, FineTuneRequest, TrainingProcess, shell_commands
from ._common import notify_info, reports_errors, scroll_layout
from ._review_parts import button

SEGMENT_WIDGET = "Segment LA (cavity, wall, scar)"


class _Plot:
    """A small matplotlib canvas: training loss and validation Dice against iterations."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        # Fixed margins: a tight layout measured every label's text on each redraw, which doubled
        # the redraw on the viewer's thread (0.075-0.10 s against 0.05 s).
        self.figure = Figure(figsize=(3.6, 2.4))
        self.figure.subplots_adjust(left=0.16, right=0.84, bottom=0.2, top=0.78)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setFixedHeight(220)
        self.loss = self.figure.add_subplot(111)
        self.dice = self.loss.twinx()
        self.show([])

    def show(self, rows: list[dict], stage: str = "") -> None:
        from matplotlib.ticker import MaxNLocator

        self.loss.clear()
        self.dice.clear()
        its = [r["iteration"] for r in rows]
        self.loss.plot(its, [r.get("loss") for r in rows], "o-", color="tab:orange", label="loss")
        self.dice.plot(its, [r.get("dice") for r in rows], "s-", color="tab:blue", label="validation Dice")
        self.loss.set_xlabel("iteration")
        self.loss.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        self.loss.set_ylabel("loss", color="tab:orange")
        self.dice.set_ylabel("validation Dice", color="tab:blue")
        self.dice.set_ylim(0, 1)
        self.dice.yaxis.tick_right()  # clear() puts the twin's axis back on the left
        self.dice.yaxis.set_label_position("right")
        if rows:
            handles = self.loss.get_lines() + self.dice.get_lines()
            # above the axes, beside the title: never over the curves
            self.loss.legend(
                handles,
                [h.get_label() for h in handles],
                loc="lower left",
                bbox_to_anchor=(0.0, 1.0),
                ncol=2,
                fontsize=7,
                frameon=False,
                borderaxespad=0.1,
            )
        self.figure.suptitle(
            f"{stage} fine-tuning" if stage else "no run yet", fontsize=9, x=0.98, ha="right"
        )
        self.canvas.draw_idle()


class FineTuneWidget(QWidget):
    """Choose stages, reviewed cases, starting models and iterations; Start; Cancel; Use."""

    def __init__(self, napari_viewer) -> None:
        from ..models import available_devices

        super().__init__()
        first_use(napari_viewer)
        self.viewer = napari_viewer
        self.last_error: str | None = None
        self.process: TrainingProcess | None = None
        # the pipeline's stages after the localizer (whose ROI the others share)
        self.stages = {s: CheckBox(text=s, value=s == "cavity") for s in PIPELINE_STAGES[1:]}
        self.dataset = FileEdit(label="reviewed cases in", mode="d")
        self.status = ComboBox(label="cases with status", choices=("any", *REVIEW_STATUSES), value="approved")
        self.start_from = ComboBox(label="start from", choices=(BUNDLED, "run folder..."), value=BUNDLED)
        self.run_folder = FileEdit(label="run folder", mode="d", visible=False)
        self.start_from.changed.connect(lambda v: setattr(self.run_folder, "visible", v != BUNDLED))
        self.tune = ComboBox(label="train (cavity)", choices=TUNE_CHOICES, value="auto")
        self.tune.tooltip = (
            "Which part of the cavity network learns from the cases; the wall and scar keep their own "
            "schedules. docs/training.md compares them."
        )
        self.iterations = SpinBox(label="iterations", value=300, min=1, max=100000)
        self.val_every = SpinBox(label="validate every", value=25, min=1, max=100000)
        self.device = ComboBox(label="device", choices=["auto", *available_devices()], value="auto")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.output = FileEdit(label="save runs in", mode="d", value=Path.home() / "napari-c2w-runs" / stamp)
        self.config = FileEdit(label="config (optional)", mode="r", filter="*.yaml")
        self.adapt = CheckBox(
            text="adapt to these scans instead (no labels needed: napari-c2w adapt)",
            value=False,
        )
        self.adapt.changed.connect(self._adapt_mode)
        self.dataset.changed.connect(lambda *_: self.list_cases())
        self.status.changed.connect(lambda *_: self.list_cases())
        self.cases = QListWidget()
        self.cases.setMaximumHeight(120)
        self.bar = QProgressBar()
        self.message = QLabel("Choose the reviewed cases (the review queue's approved ones by default).")
        self.message.setWordWrap(True)
        self.command = QPlainTextEdit("")
        self.command.setReadOnly(True)
        self.command.setFixedHeight(80)
        self.command.setPlaceholderText("The commands that repeat the run appear here.")
        self.plot = _Plot()
        self.timer = QTimer(self)
        self.timer.setInterval(500)
        self.timer.timeout.connect(self.poll)
        self.use_button = button("Segment the open case with the new models", self.use_in_segment)
        self.use_button.setEnabled(False)
        self._lay_out()

    def _lay_out(self) -> None:
        """Stages, cases, the run's settings, the buttons, progress, plot and commands."""
        lay = scroll_layout(self)
        lay.addWidget(QLabel("Stages to fine-tune:"))
        lay.addWidget(Container(widgets=list(self.stages.values()), layout="horizontal").native)
        lay.addWidget(Container(widgets=[self.dataset, self.status, self.adapt]).native)
        lay.addWidget(self.cases)
        form = [self.start_from, self.run_folder, self.tune, self.iterations, self.val_every, self.device]
        form.append(self.output)
        lay.addWidget(Container(widgets=[*form, self.config]).native)
        self.start_button = button("Start fine-tuning", self.start)
        self.cancel_button = button("Cancel (keeps last.pt)", self.cancel)
        self.cancel_button.setEnabled(False)
        for w in (self.start_button, self.cancel_button, self.bar, self.message, self.plot.canvas):
            lay.addWidget(w)
        lay.addWidget(self.command)
        lay.addWidget(self.use_button)
        lay.addStretch()

    # ------------------------------------------------------------------ cases
    @reports_errors("Fine-tune")
    def list_cases(self) -> None:
        """List the dataset's case stores of the chosen status, all ticked."""
        from ..review.queue import filter_queue, scan_dataset

        self.cases.clear()
        folder = Path(str(self.dataset.value))
        if not folder.is_dir() or str(self.dataset.value) in ("", "."):
            return
        wanted = None if self.status.value == "any" else [self.status.value]
        for item in filter_queue(scan_dataset(folder), wanted):
            row = QListWidgetItem(f"{item.case_id} ({item.status})")
            row.setData(Qt.ItemDataRole.UserRole, str(item.path))
            row.setFlags(row.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            row.setCheckState(Qt.CheckState.Checked)
            self.cases.addItem(row)
        self.message.setText(f"{self.cases.count()} case(s) listed.")

    def chosen_cases(self) -> list[Path]:
        rows = (self.cases.item(i) for i in range(self.cases.count()))
        return [
            Path(r.data(Qt.ItemDataRole.UserRole)) for r in rows if r.checkState() == Qt.CheckState.Checked
        ]

    def request(self) -> FineTuneRequest:
        stages = [s for s, box in self.stages.items() if box.value]
        if not stages:
            raise ValueError("tick at least one stage to fine-tune")
        config = str(self.config.value)
        return FineTuneRequest(
            stages=stages,
            cases=self.chosen_cases(),
            output=Path(str(self.output.value)),
            init=BUNDLED if self.start_from.value == BUNDLED else str(self.run_folder.value),
            iterations=self.iterations.value,
            val_every=self.val_every.value,
            config=Path(config) if config not in ("", ".") else None,
            device=self.device.value,
            adapt=self.adapt.value,
            tune=None if self.adapt.value else self.tune.value,
        )

    def _adapt_mode(self, on: bool) -> None:
        """Adapting needs scans, not approved labels: list every case; start from the bundled
        weights (adapt always does)."""
        self.status.value = "any" if on else "approved"
        self.start_from.value = BUNDLED
        self.start_from.enabled = self.config.enabled = self.tune.enabled = not on
        self.stages["scar"].value = self.stages["scar"].value and not on
        self.stages["scar"].enabled = not on
        self.start_button.setText("Start adapting" if on else "Start fine-tuning")

    # ------------------------------------------------------------------ the run
    @reports_errors("Fine-tune")
    def start(self) -> None:
        """Start the runs in a child process; the timer follows them."""
        if self.process is not None and self.process.state == "running":
            raise RuntimeError("a fine-tuning run is going on; cancel it first")
        request = self.request()
        self.process = TrainingProcess(request)
        self.process.start()
        self.command.setPlainText("# repeat with:\n" + "\n".join(shell_commands(request, self.process.data)))
        self.use_button.setEnabled(False)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.bar.setValue(0)
        self.timer.start()
        self.poll()

    def cancel(self) -> None:
        if self.process is not None:
            self.process.cancel()
            self.message.setText("Cancelling: the run finishes its iteration and saves last.pt...")

    def poll(self) -> None:
        """Follow the run: plot, progress, and the end."""
        p = self.process
        if p is None or (p.state != "running" and not self.timer.isActive()):
            return
        state = p.poll()
        rows = p.metrics()
        shown = (len(rows), p.stage)
        if shown != getattr(self, "_shown", None):  # a redraw costs ~0.1 s of the viewer's thread
            self.plot.show(rows, p.stage or "")
            self._shown = shown
        fraction, doing = p.fraction()
        self.bar.setValue(round(100 * fraction))
        text = f"{p.message}: {doing}" if doing else p.message
        if rows:
            last = rows[-1]
            text += f"; last validation at {int(last['iteration'])}: Dice {last['dice']:.3f}"
        self.message.setText(text)
        if state == "running":
            return
        self.timer.stop()
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.message.setText(p.message)
        if state == "cancelled":
            self.bar.setValue(0)
        if state == "failed":
            self.last_error = f"Fine-tune: {p.message}"
        if state == "completed":
            self.bar.setValue(100)
            self.use_button.setEnabled(True)
            lines = p.before_after()
            if lines:
                self.message.setText(p.message + "\n" + "\n".join(lines))
            notify_info(f"Fine-tuning done: {', '.join(str(r) for r in p.finished)}")

    @property
    def busy(self) -> bool:
        return self.process is not None and self.process.state == "running"

    def segment_widget(self):
        """The Segment widget docked in this window (opened from any menu), else a new one."""
        from .predict import PredictWidget

        for widget in self.viewer.window.dock_widgets.values():
            if isinstance(widget, PredictWidget):
                return widget
        return self.viewer.window.add_plugin_dock_widget("napari-c2w", SEGMENT_WIDGET)[1]

    @reports_errors("Use the new models")
    def use_in_segment(self):
        """Give the finished runs to the Segment widget and segment the open case again."""
        if self.process is None or not self.process.finished:
            raise RuntimeError("no finished fine-tuning run yet")
        segment = self.segment_widget()
        base = segment.model_sources() if segment.models.value != "fine-tuned run" else segment.fine_tuned
        base = [p for p in base if p not in self.process.finished]
        segment.use_models(list(self.process.finished), base=base)
        return segment.run()
