"""Parts of the review widget: the table of components and the reading of napari paint events."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QKeySequence, QShortcut
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

COLUMNS = ("#", "what", "size", "slice", "decision")


def shortcuts(parent: QWidget, keys: dict[str, tuple[str, Callable[[], object]]]) -> str:
    """Window-wide keyboard shortcuts {key: (what, slot)}; returns their listing for the widget."""
    for key, (_, slot) in keys.items():
        shortcut = QShortcut(QKeySequence(key), parent)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(lambda slot=slot: slot())
    return "Keys: " + "; ".join(f"{k} {what}" for k, (what, _) in keys.items())


def button(text: str, slot: Callable[[], object], tip: str = "") -> QPushButton:
    """A push button calling ``slot()`` (without Qt's ``checked`` argument)."""
    b = QPushButton(text)
    b.clicked.connect(lambda *_: slot())
    b.setToolTip(tip)
    return b


def finding_text(row: dict) -> str:
    """'scar beyond wall', 'wall far from cavity' (a kind that names its structure is not repeated)."""
    structure, kind = row["structure"], row["kind"]
    return kind if kind.split()[0] == structure else f"{structure} {kind}"


class FindingsTable(QTableWidget):
    """One row per implausible component; each cell carries the component id."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.setWordWrap(True)
        self.setMinimumHeight(170)  # about six rows

    def show_rows(self, rows: list[dict]) -> None:
        """Fill the table from ``ReviewSession.rows()`` (no selection signal while filling)."""
        self.blockSignals(True)
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            what = finding_text(row)
            cells = (
                row["id"],
                what,
                f"{row['voxels']} vox, {row['volume_mm3']:.0f} mm³",
                row["z"],
                row["decision"],
            )
            tip = (
                f"{what}: {row['voxels']} voxels ({row['volume_mm3']:.1f} mm³), "
                f"{row['min_distance_mm']:.1f}-{row['max_distance_mm']:.1f} mm from the wall band, "
                f"slice {row['z']}"
            )
            for c, value in enumerate(cells):
                item = QTableWidgetItem(str(value))
                item.setData(Qt.ItemDataRole.UserRole, row["id"])
                item.setToolTip(tip)
                if row["decision"] == "kept":
                    item.setForeground(Qt.GlobalColor.gray)
                self.setItem(r, c, item)
        self.blockSignals(False)
        self.resizeRowsToContents()

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [int(self.item(r, 0).data(Qt.ItemDataRole.UserRole)) for r in rows]


def painted_voxels(atoms, shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 3) voxels with their old and new values, from the history atoms of a Labels paint event.

    napari's brush and fill give masked atoms (a box, a mask of changed voxels, their old
    values, one new label); ``Labels.data_setitem`` gives (indices, old values, new values).
    """
    idx, old, new = [], [], []
    for atom in atoms or []:
        if hasattr(atom, "slice_key"):
            box = tuple(slice(*s.indices(n)[:2]) for s, n in zip(atom.slice_key, shape, strict=False))
            start = np.array([s.start for s in box])
            if atom.mask is None:
                local = np.argwhere(np.ones(atom.old_values.shape, bool))
                before = np.asarray(atom.old_values).reshape(-1)
            else:
                local, before = np.argwhere(atom.mask), np.asarray(atom.old_values).reshape(-1)
            idx.append(local + start)
            old.append(before)
            new.append(np.full(len(local), atom.new_value))
        else:
            indices, before, after = atom
            pts = np.stack([np.asarray(i).reshape(-1) for i in indices], axis=1)
            idx.append(pts)
            old.append(np.broadcast_to(before, len(pts)))
            new.append(np.broadcast_to(after, len(pts)))
    if not idx:
        return np.zeros((0, 3), np.intp), np.zeros(0), np.zeros(0)
    return np.concatenate(idx).astype(np.intp), np.concatenate(old), np.concatenate(new)
