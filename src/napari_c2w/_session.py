"""What napari-c2w sets up in a napari session the first time it runs there.

- napari's preferred reader for NRRD, NIfTI and MetaImage (:mod:`napari_c2w._preferences`);
- the time of each annotator's painting on a Labels layer (an export dates its ``napari edit``
  by it, not by the export);
- structure layers that paint their own value: napari gives every new Labels layer brush
  label 1, while a ``wall`` layer shows any value in the wall's colour, so one stroke left
  values {1, 2} that no save accepts. Each Labels layer that carries a structure (the plugin's
  metadata) gets its structure's value as the selected label, and choosing another label on it
  is turned back to that value (erasing is napari's eraser or label 0).

Called from the reader, the sample data and the widgets (napari gives a plugin no earlier
hook); each call is cheap and idempotent. Imports napari lazily: the reader works without it.
"""

from __future__ import annotations

import sys
import weakref

from ._preferences import claim_reader_patterns_quietly
from .io.case import now_iso
from .labels import LABELS
from .layers import EDITED_KEY, META_KEY

_WATCHED: weakref.WeakSet = weakref.WeakSet()  # viewers and layers already set up
_DATED: weakref.WeakSet = weakref.WeakSet()  # Labels layers whose painting is dated


def structure_value(layer) -> int | None:
    """The label value of the structure a Labels layer holds (None: not a structure layer)."""
    structure = (getattr(layer, "metadata", None) or {}).get(META_KEY, {}).get("structure")
    return LABELS.get(structure) if structure else None


def fit_structure_layer(layer) -> None:
    """Make ``layer`` paint its structure's value, now and after any label choice."""
    value = structure_value(layer)
    if value is None or not hasattr(layer, "selected_label") or layer in _WATCHED:
        return
    layer.selected_label = value

    def keep(event=None) -> None:
        if layer.selected_label not in (0, value):
            layer.selected_label = value

    layer.events.selected_label.connect(keep)
    _WATCHED.add(layer)


def date_edits(layer) -> None:
    """Record when an annotator last painted a Labels layer (its ``napari edit`` time)."""
    if not hasattr(layer, "selected_label") or layer in _DATED:
        return

    def painted(event=None) -> None:
        layer.metadata[EDITED_KEY] = now_iso()

    layer.events.paint.connect(painted)
    _DATED.add(layer)


def _setup_layer(layer) -> None:
    fit_structure_layer(layer)
    date_edits(layer)


def watch_viewer(viewer) -> None:
    """Set up the Labels layers of ``viewer``, those there now and those added later."""
    if viewer is None or viewer in _WATCHED:
        return
    for layer in viewer.layers:
        _setup_layer(layer)
    viewer.layers.events.inserted.connect(lambda event: _setup_layer(event.value))
    _WATCHED.add(viewer)


def first_use(viewer=None) -> None:
    """Set napari-c2w up in this napari session (no-op outside napari)."""
    if "napari" not in sys.modules:
        return
    claim_reader_patterns_quietly()
    if viewer is None:
        from napari import current_viewer

        viewer = current_viewer()
    watch_viewer(viewer)
