"""Undoable label edits and their history (no napari, no Qt), shared by review and prompt correction.

An :class:`Edit` is one change of a structure's mask: the voxels, their values before and after,
and the provenance record. An :class:`EditStack` keeps the edits of one case on a multi-level
undo stack and appends every edit, undo and redo to the case's provenance list, so the record
says what happened, in order. The widgets write an edit with the layer's own ``data_setitem`` so
that napari's undo sees it as one step (``widgets._history``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..io.case import provenance_entry

Index = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclasses.dataclass
class Edit:
    """One undoable change of a structure's mask (or of the kept components).

    Attributes:
        structure: the structure changed, or None for a decision that changes no label.
        index: the changed voxels (a numpy multi-index into the full grid).
        before: their 0/1 values before the edit (uint8).
        after: their 0/1 values after it.
        entry: the provenance record of the edit.
        kept: voxels this edit added to the kept components (multi-index), if any.
        prompt: the prompt that made it (prompt correction), if any.
    """

    structure: str | None
    index: Index
    before: np.ndarray
    after: np.ndarray
    entry: dict
    kept: Index | None = None
    prompt: Any = None

    @property
    def voxels(self) -> int:
        return len(self.index[0])

    def values(self, undo: bool = False) -> np.ndarray:
        """The 0/1 values to write at :attr:`index` (``undo``: the values before)."""
        return self.before if undo else self.after

    def apply(self, mask: np.ndarray, undo: bool = False) -> np.ndarray:
        """Write the edit (or its undo) into ``mask`` in place and return it."""
        mask[self.index] = self.values(undo).astype(mask.dtype)
        return mask


def diff_edit(
    structure: str, old: np.ndarray, new: np.ndarray, entry: dict, box: tuple[slice, ...] | None = None
) -> Edit | None:
    """The :class:`Edit` turning mask ``old`` into ``new`` (None when they hold the same voxels);
    ``box``: the two differ only inside it (compared there only, for speed on large volumes)."""
    box = box or tuple(slice(0, n) for n in np.shape(old))
    old_b, new_b = np.asarray(old[box]) != 0, np.asarray(new[box]) != 0
    index = np.nonzero(old_b != new_b)
    if index[0].size == 0:
        return None
    before, after = old_b[index].astype(np.uint8), new_b[index].astype(np.uint8)
    index = tuple(i + s.start for i, s in zip(index, box, strict=True))
    return Edit(structure, index, before, after, entry)


class EditStack:
    """The undo and redo stacks of one case's edits, with their provenance.

    Args:
        annotator: who edits, for the provenance records (None: the login name).
        provenance: the case's provenance list; records are appended to it in place.
        max_undo: undo levels kept.
    """

    #: The provenance action of an undo is ``f"{HISTORY} undo"``.
    HISTORY = "review"

    def __init__(
        self, annotator: str | None = None, provenance: list[dict] | None = None, max_undo: int = 50
    ) -> None:
        self.annotator = annotator
        self.provenance = provenance if provenance is not None else []
        self.max_undo = int(max_undo)
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []

    def _push(self, edit: Edit | None) -> Edit | None:
        if edit is None:
            return None
        self.provenance.append(edit.entry)
        self._undo.append(edit)
        del self._undo[: -self.max_undo]
        self._redo.clear()
        return edit

    def _stepped(self, edit: Edit, undo: bool) -> None:
        """Called after ``edit`` was undone (or redone): subclasses keep their own state."""

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def peek_undo(self) -> Edit | None:
        """The edit :meth:`undo` would take back (None: nothing to undo)."""
        return self._undo[-1] if self._undo else None

    def peek_redo(self) -> Edit | None:
        return self._redo[-1] if self._redo else None

    def undo(self, edit: Edit | None = None) -> Edit | None:
        """Take back the last edit (or ``edit``, when another history undid it, e.g. napari's);
        the caller writes ``edit.values(undo=True)`` at ``edit.index`` unless it is already undone."""
        edit = _take(self._undo, edit)
        if edit is None:
            return None
        self._redo.append(edit)
        self._stepped(edit, undo=True)
        self.provenance.append(self._history_entry(f"{self.HISTORY} undo", edit))
        return edit

    def redo(self, edit: Edit | None = None) -> Edit | None:
        """Apply the last undone edit (or ``edit``) again; the caller writes ``edit.values()``."""
        edit = _take(self._redo, edit)
        if edit is None:
            return None
        self._undo.append(edit)
        self._stepped(edit, undo=False)
        self.provenance.append(self._history_entry(f"{self.HISTORY} redo", edit))
        return edit

    def _history_entry(self, action: str, edit: Edit) -> dict:
        e = edit.entry
        return provenance_entry(
            action,
            edit.structure,
            by=self.annotator,
            rule=e.get("rule"),
            of=e.get("time"),
            voxels=edit.voxels,
        )


def _take(stack: list[Edit], edit: Edit | None) -> Edit | None:
    """Pop ``edit`` (by identity; None: the top) from ``stack``; None when it is not there."""
    if not stack:
        return None
    if edit is None:
        return stack.pop()
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is edit:
            return stack.pop(i)
    return None
