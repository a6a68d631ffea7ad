"""One undo history for the review widget and napari: a mirror of a Labels layer's own history.

napari keeps each Labels layer's undo and redo stacks; the review widget writes its edits with
``Labels.data_setitem`` so each edit is one step there, and undoes them with the layer's own
``undo``/``redo``. :class:`LayerHistory` watches the layer (``paint`` events append a step,
``set_data`` follows an undo or redo) and tells the widget when one of its steps was undone or
redone, whichever way the user did it (the widget's buttons, Ctrl+Z, Ctrl+Shift+Z).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from ._review_parts import painted_voxels


@dataclasses.dataclass
class Step:
    """One step of a layer's history: the voxels it changed, their values before and after,
    and the review edit it carries (None for the annotator's own painting)."""

    edit: Any
    index: tuple[np.ndarray, ...]
    before: np.ndarray
    after: np.ndarray


class LayerHistory:
    """Mirror of one Labels layer's undo/redo stacks.

    Args:
        layer: the Labels layer (a napari proxy is fine).
        undone: called with the edit of a review step napari just undid.
        redone: called with the edit of a review step napari just redid.
    """

    def __init__(self, layer, undone: Callable[[Any], None], redone: Callable[[Any], None]) -> None:
        self.layer, self.undone, self.redone = layer, undone, redone
        self.undo: list[Step] = []
        self.redo: list[Step] = []
        self.pending = None  # the edit being written (set just before data_setitem)
        self._data = layer.data
        layer.events.paint.connect(self._on_paint)
        layer.events.set_data.connect(self._on_set_data)

    def disconnect(self) -> None:
        self.layer.events.paint.disconnect(self._on_paint)
        self.layer.events.set_data.disconnect(self._on_set_data)

    def top_undo(self):
        """The edit of the step napari's undo would take back next (None: a painting, or none)."""
        return self.undo[-1].edit if self.undo else None

    def top_redo(self):
        return self.redo[-1].edit if self.redo else None

    def _on_paint(self, event) -> None:
        shape = np.shape(self.layer.data)
        index, before, after = painted_voxels(event.value, shape)
        self.undo.append(Step(self.pending, tuple(index.T), before, after))
        self.redo.clear()
        self.pending = None

    def _holds(self, step: Step, values: np.ndarray) -> bool:
        if len(step.index) == 0 or step.index[0].size == 0:
            return False
        return bool(
            np.array_equal(np.asarray(self.layer.data[step.index]), values.astype(self.layer.data.dtype))
        )

    def _on_set_data(self, event=None) -> None:
        if self.layer.data is not self._data:  # new data: napari starts a new history
            self._data = self.layer.data
            self.undo.clear()
            self.redo.clear()
            return
        if self.undo and self._holds(self.undo[-1], self.undo[-1].before):
            step = self.undo.pop()
            self.redo.append(step)
            if step.edit is not None:
                self.undone(step.edit)
        elif self.redo and self._holds(self.redo[-1], self.redo[-1].after):
            step = self.redo.pop()
            self.undo.append(step)
            if step.edit is not None:
                self.redone(step.edit)


def write_edit(layer, edit, histories: dict) -> None:
    """Write ``edit`` into its Labels layer with the structure's value, as one step of the layer's
    own napari history; the layer's mirror in ``histories`` (by layer id) learns which edit the
    step carries, so that Ctrl+Z on the layer undoes it in the widget's session too."""
    from ._common import label_value, layer_id

    values = edit.values().astype(layer.data.dtype) * label_value(edit.structure)
    history = histories.get(layer_id(layer))
    if history is not None:
        history.pending = edit
    layer.data_setitem(edit.index, values)
