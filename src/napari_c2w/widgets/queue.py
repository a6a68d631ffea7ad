"""The "Review queue" widget: walk a dataset folder of case stores, case by case.

Cases can be filtered by review status and ordered by name, by flagged (implausible)
voxels or by the model's uncertainty. Opening a case shows its image and labels; moving
on saves the current case first (only when something changed; changed labels keep their
previous versions in the store). The compute lives in :mod:`napari_c2w.review.queue`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, LineEdit
from napari.layers import Image, Labels, Layer
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from .._session import first_use
from ..io.case import REVIEW_STATUSES
from ..layers import case_from_layers, case_layers, record_store
from ..review import queue as q
from ..review.queue import ORDERS, QueueItem
from ._common import (
    ROLE_KEY,
    case_meta,
    default_annotator,
    layer_id,
    lock_layers,
    notify_info,
    one_per_turn,
    reports_errors,
    run_task,
    scroll_layout,
)
from ._review_parts import shortcuts

COLUMNS = ("case", "status", "flagged voxels", "uncertainty")


def _snapshot(case):
    """A copy of a case that later edits of its provenance list cannot reach."""
    return dataclasses.replace(case, provenance=list(case.provenance), labels=dict(case.labels))


BUSY = "the queue is still saving or opening a case; try again in a moment"


class QueueWidget(QWidget):
    """Next / previous through the case stores of a dataset, saving each reviewed case."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        first_use(napari_viewer)
        self.viewer = napari_viewer
        self.last_error: str | None = None
        self.busy = False
        self.items: list[QueueItem] = []
        self.view: list[QueueItem] = []
        self.current: QueueItem | None = None
        self._before = None
        self._layer_ids: set = set()
        self.dataset = FileEdit(label="dataset folder", mode="d")
        self.show_status = ComboBox(label="show", choices=("all", *REVIEW_STATUSES), value="all")
        self.order = ComboBox(label="order by", choices=ORDERS, value="name")
        self.annotator = LineEdit(label="annotator", value=default_annotator())
        self.save_on_move = CheckBox(text="save the case when moving on", value=True)
        self.status = ComboBox(label="status of this case", choices=REVIEW_STATUSES, value="unreviewed")
        self.show_status.changed.connect(lambda *_: self._refresh_view())
        self.order.changed.connect(lambda *_: self._reorder())
        self.status.changed.connect(lambda *_: self._set_status())
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(150)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.position = QLabel("No dataset loaded.")
        lay = scroll_layout(self)
        lay.addWidget(Container(widgets=[self.dataset, self.show_status, self.order, self.annotator]).native)
        lay.addWidget(self._button("Load dataset", self.scan))
        lay.addWidget(self.table)
        lay.addWidget(self.position)
        row = QHBoxLayout()
        for text, slot in (("Previous", self.previous), ("Next", self.next), ("Save", self.save)):
            row.addWidget(self._button(text, slot))
        lay.addLayout(row)
        lay.addWidget(Container(widgets=[self.status, self.save_on_move]).native)
        keys = QLabel(
            shortcuts(
                self,
                {
                    "Ctrl+Alt+N": ("next case", self.next),
                    "Ctrl+Alt+B": ("previous case", self.previous),
                    "Ctrl+Alt+A": ("approve and go to the next case", self.approve),
                },
            )
        )
        keys.setWordWrap(True)
        lay.addWidget(keys)
        lay.addStretch()

    @staticmethod
    def _button(text: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.clicked.connect(lambda *_: slot())
        return b

    # ------------------------------------------------------------------ listing

    @reports_errors("Review queue")
    def scan(self) -> None:
        """List the case stores of the dataset folder (counting flagged voxels if ordered by them)."""
        folder = Path(self.dataset.value)
        count = self.order.value == "flagged voxels"

        def work():
            items = q.scan_dataset(folder)
            return q.count_flagged(items) if count else items

        def done(items):
            self.items = items
            self._refresh_view()

        run_task(self, "Review queue", work, done)

    def _reorder(self) -> None:
        if self.order.value == "flagged voxels" and any(i.flagged_voxels is None for i in self.items):
            items = list(self.items)
            run_task(
                self,
                "Counting flagged voxels",
                lambda: q.count_flagged(items),
                lambda _: self._refresh_view(),
            )
        else:
            self._refresh_view()

    def _refresh_view(self) -> None:
        statuses = None if self.show_status.value == "all" else [self.show_status.value]
        self.view = q.order_queue(q.filter_queue(self.items, statuses), self.order.value)
        self.table.setRowCount(len(self.view))
        for r, item in enumerate(self.view):
            self._fill_row(r, item)
        self.table.resizeColumnsToContents()
        self._show_position()

    def _fill_row(self, r: int, item: QueueItem) -> None:
        u = "" if item.uncertainty is None else f"{item.uncertainty:.3g}"
        f = "" if item.flagged_voxels is None else str(item.flagged_voxels)
        for c, text in enumerate((item.case_id, item.status, f, u)):
            self.table.setItem(r, c, QTableWidgetItem(text))

    def _show_position(self) -> None:
        if self.current is None:
            self.position.setText(f"{len(self.view)} of {len(self.items)} case(s) shown.")
            return
        shown = self.current in self.view
        where = f"{self.view.index(self.current) + 1} of {len(self.view)}" if shown else "-"
        self.position.setText(f"Case {where}: {self.current.case_id} ({self.current.status}).")
        if self.current in self.view:
            self.table.selectRow(self.view.index(self.current))

    # ------------------------------------------------------------------ moving

    def next(self) -> None:
        self._step(+1)

    def previous(self) -> None:
        self._step(-1)

    def _step(self, step: int) -> None:
        if not self.view:
            self.position.setText("No case to show: load a dataset or change the filter.")
            return
        if self.current in self.view:
            i = self.view.index(self.current) + step
        else:
            i = 0 if step > 0 else len(self.view) - 1
        if 0 <= i < len(self.view):
            self.open(self.view[i])
        else:
            self.position.setText("This is the " + ("last" if step > 0 else "first") + " case.")

    def approve(self) -> None:
        """Mark the open case approved and move on (saving it)."""
        if self.current is None:
            self.position.setText("Open a case first (Next, or double-click a row).")
            return
        self.status.value = "approved"
        self.next()

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.view):
            self.open(self.view[row])

    @reports_errors("Open case")
    def open(self, item: QueueItem) -> None:
        """Show a case (saving the current one first when asked to).

        Reading, saving and the case's layers happen off napari's thread or one per turn of its
        event loop: on a scanner's 88x576x576 grid, opening held the viewer 0.73 s and saving
        then opening the next case 2.5 s (benchmarks/bench_responsiveness.py)."""
        if self.busy:
            raise RuntimeError(BUSY)
        if self.current is not None and self.save_on_move.value:
            self.save(then=lambda: self._load(item))  # a failed save stays on the case
        else:
            self._load(item)

    def _load(self, item: QueueItem) -> None:
        from ..io.store import read_case_store

        def work():
            case = read_case_store(item.path)
            return case, _snapshot(case), case_layers(case)

        def show(result) -> None:
            case, before, tuples = result
            steps = [lambda ly=ly: self.viewer.layers.remove(ly) for ly in self._ours()]
            steps.append(self._layer_ids.clear)
            steps += [lambda t=t: self._add(t) for t in tuples]
            # busy until the last layer is in
            one_per_turn(self, "Review queue", steps, done=lambda: self._opened(item, case, before))

        run_task(self, "Open case", work, show)

    def _add(self, layer_tuple) -> None:
        self._layer_ids.add(layer_id(self.viewer.add_layer(Layer.create(*layer_tuple))))

    def _opened(self, item: QueueItem, case, before) -> None:
        self._before = before
        self.current = item
        with self.status.changed.blocked():
            self.status.value = case.status
        self._show_position()

    def _ours(self) -> list:
        """The current case's layers and the layers the review widgets made for it."""
        return [ly for ly in self.viewer.layers if layer_id(ly) in self._layer_ids or ROLE_KEY in ly.metadata]

    def _case_layers(self, kind: type) -> list:
        return [ly for ly in self.viewer.layers if layer_id(ly) in self._layer_ids and isinstance(ly, kind)]

    def _image_layer(self):
        return next(iter(self._case_layers(Image)), None)

    def _set_status(self) -> None:
        image = self._image_layer()
        if image is not None:
            case_meta(image)["status"] = self.status.value
        if self.current is not None and self.current in self.view:  # the table shows it at once
            chosen = self.status.value
            text = chosen if chosen == self.current.status else f"{chosen} (unsaved)"
            self.table.setItem(self.view.index(self.current), 1, QTableWidgetItem(text))

    def _saved(self, current: QueueItem, layers: list, case, saved: bool, snapshot) -> None:
        if saved:
            self._before = snapshot
            record_store(layers, case.store, case.revision)  # for File > Save
            notify_info(f"Saved {current.case_id} ({case.status}) to {current.path}")
        current.status = case.status
        if current in self.view:
            self._fill_row(self.view.index(current), current)

    @reports_errors("Save case")
    def save(self, then: Callable[[], object] | None = None) -> None:
        """Write the current case back to its store when it changed (in a worker, the case's
        layers locked meanwhile so that no stroke lands between the snapshot and the write); then
        ``then()``, unless the save failed."""
        image = self._image_layer()
        if self.current is None or image is None:
            if then is not None:
                then()
            return
        if self.busy:
            raise RuntimeError(BUSY)
        labels = self._case_layers(Labels)
        current, status, annotator, before = (
            self.current,
            self.status.value,
            self.annotator.value or None,
            self._before,
        )
        unlock = lock_layers(labels)

        def work():
            case = case_from_layers(image, labels)
            case.status = status
            return case, q.save_reviewed(case, current.path, annotator, before=before), _snapshot(case)

        def done(result) -> None:
            unlock()
            self._saved(current, [image, *labels], *result)
            if then is not None:
                then()

        run_task(self, "Save case", work, done, failed=lambda _m: unlock())
