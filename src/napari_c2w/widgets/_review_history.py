"""The review widget's history and painting: one undo history with napari, confined painting.

A mixin of :class:`napari_c2w.widgets.review.ReviewWidget` (it uses the widget's layer pickers,
session and messages); see :mod:`._history` for the mirror of napari's Labels history.
"""

from __future__ import annotations

from qtpy.QtCore import QTimer

from ..review.session import Edit
from ._common import layer_id, reports_errors
from ._history import LayerHistory
from ._review_parts import painted_voxels


class HistoryAndPainting:
    """Undo/redo through the layers' own napari history, and scar painting kept in the band."""

    def _track_histories(self) -> None:
        """Mirror the undo history of each chosen Labels layer (see :mod:`._history`)."""
        wanted = {
            layer_id(c.value): c.value for c in (self.cavity, self.wall, self.scar) if c.value is not None
        }
        for uid in [u for u in self._histories if u not in wanted]:
            self._histories.pop(uid).disconnect()
        for uid, layer in wanted.items():
            if uid not in self._histories:
                self._histories[uid] = LayerHistory(layer, self._undone, self._redone)

    def _undone(self, edit: Edit) -> None:
        """napari's history took back one of the review's edits (button or Ctrl+Z)."""
        if self.session is not None and self.session.undo(edit) is not None:
            self._after_history("Undid", edit)

    def _redone(self, edit: Edit) -> None:
        if self.session is not None and self.session.redo(edit) is not None:
            self._after_history("Redid", edit)

    def _after_history(self, verb: str, edit: Edit) -> None:
        if self.session.provenance:  # the undo/redo record goes with the layer the edit was on
            self.tag_entry(self.session.provenance[-1])
        self.message.setText(f"{verb}: {edit.entry.get('rule')} ({edit.voxels} voxels).")
        if self.session.findings is not None:
            self._analyse()

    @reports_errors("Undo")
    def undo(self) -> None:
        """Take back the last review edit through the layer's own history (as Ctrl+Z would)."""
        self._history_step(undo=True)

    @reports_errors("Redo")
    def redo(self) -> None:
        self._history_step(undo=False)

    def _history_step(self, undo: bool) -> None:
        s = self.session
        edit = None if s is None else (s.peek_undo() if undo else s.peek_redo())
        if edit is None:
            self.message.setText(f"Nothing to {'undo' if undo else 'redo'}.")
            return
        if edit.structure is None or not edit.voxels:  # a decision: no label changed
            (s.undo if undo else s.redo)(edit)
            self._after_history("Undid" if undo else "Redid", edit)
            return
        layer = self._layer(edit.structure)
        history = self._histories.get(layer_id(layer))
        top = None if history is None else (history.top_undo() if undo else history.top_redo())
        if top is not edit:
            raise RuntimeError(
                f"the {layer.name!r} layer was painted after this edit: press Ctrl+"
                f"{'Z' if undo else 'Shift+Z'} on that layer to step through its history"
            )
        layer.undo() if undo else layer.redo()

    # ------------------------------------------------------------------ painting

    def _connect_paint(self) -> None:
        layer = self.scar.value if self.confine.value else None
        if layer_id(layer) == layer_id(self._painted_layer):
            return
        if self._painted_layer is not None:
            self._painted_layer.events.paint.disconnect(self._on_paint)
        if layer is not None:
            layer.events.paint.connect(self._on_paint)
        self._painted_layer = layer

    def _on_paint(self, event) -> None:
        # napari emits the paint event before it writes the paint: handle it right after
        if self._applying or not self.confine.value:
            return
        atoms, shape = event.value, self.scar.value.data.shape
        QTimer.singleShot(0, lambda: self._confine_painting(atoms, shape))

    @reports_errors("Confine painting")
    def _confine_painting(self, atoms, shape) -> None:
        if self.session is None or self.session.band is None:  # the band is needed at once
            self.find_now()
        s = self._annotated(self.session)
        index, before, after = painted_voxels(atoms, shape)
        painted = after != 0
        self._write(s.revert_painting(index[painted], before[painted], "scar"), refresh=False)
