"""What napari-c2w sets up in a napari session the first time it runs there.

- napari's preferred reader for NRRD, NIfTI and MetaImage (:mod:`napari_c2w._preferences`);
- the time of each annotator's painting on a Labels layer (an export dates its ``napari edit``
  by it, not by the export);
- structure layers that paint their own value: napari gives every new Labels layer brush
  label 1, while a ``wall`` layer shows any value in the wall's colour, so one stroke left
  values {1, 2} that no save accepts. Each Labels layer that carries a structure (the plugin's
  metadata) gets its structure's value as the selected label, and choosing another label on it
  is turned back to that value (erasing is napari's eraser or label 0);
- the objects alive then (napari, Qt, numpy, the plugin: ~430k) moved out of the cyclic garbage
  collector's way (:func:`settle_heap`): its full passes walked all of them on the viewer's thread,
  0.2 s each, the largest part of Quantify's first stall (0.55 -> 0.32 s,
  ``benchmarks/bench_responsiveness.py``). A removed layer is collected a moment later
  (:func:`collect_soon`), so nothing it held is kept;
- pandas imported in a background thread (:func:`warm_imports`): napari imports it when the first
  Labels layer is made (its features table), 0.19 s of the 0.41 s that Segment's first layer held
  the viewer's thread.

Called from the reader, the sample data and the widgets (napari gives a plugin no earlier
hook); each call is cheap and idempotent. Imports napari lazily: the reader works without it.
"""

from __future__ import annotations

import gc
import sys
import weakref

from ._env import flag
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
    viewer.layers.events.removed.connect(lambda event: collect_soon(event.value))
    _WATCHED.add(viewer)


_WARM = {"started": False}


def warm_imports() -> None:
    """Import, in a daemon thread, the modules napari loads on the viewer's thread the first time a
    Labels layer is made (pandas). Importing holds the GIL in short slices, so the viewer keeps
    drawing; a main-thread import of the same module waits for this one instead of starting over."""
    if _WARM["started"]:
        return
    _WARM["started"] = True
    import importlib
    import threading

    def run() -> None:
        try:
            importlib.import_module("pandas")
        except ImportError:  # napari without pandas: nothing to warm
            pass

    threading.Thread(target=run, name="napari-c2w warm imports", daemon=True).start()


_HEAP = {"frozen": False, "pending": False, "full": False}
#: The layers alive when the heap was last frozen: freeing one of them needs a full collection.
_FROZEN_LAYERS: weakref.WeakSet = weakref.WeakSet()
#: ``NAPARI_C2W_GC_FREEZE=0`` leaves the garbage collector as Python sets it.
FREEZE_ENV = "NAPARI_C2W_GC_FREEZE"


def settle_heap() -> None:
    """Move every object alive now into the garbage collector's permanent generation
    (:func:`gc.freeze`), so that its full passes, which run on whatever thread allocates,
    no longer walk napari's whole object graph. Reference counting still frees those objects;
    only a reference cycle among them waits for :func:`collect_soon`."""
    if not _HEAP["frozen"] and flag(FREEZE_ENV, default=True):
        gc.freeze()
        _HEAP["frozen"] = True
        _FROZEN_LAYERS.clear()
        for obj in _watched_layers():
            _FROZEN_LAYERS.add(obj)


def _watched_layers() -> list:
    viewers = [v for v in list(_WATCHED) if hasattr(v, "layers") and not hasattr(v, "data")]
    return [layer for v in viewers for layer in v.layers]


def collect_soon(layer=None) -> None:
    """After a layer is removed: once the event loop is free, collect the garbage, the removed
    layer's reference cycles included, with the data they hold.

    A layer made after the heap was frozen is collected by a pass over the objects made since
    (a few hundredths of a second); one alive when it was frozen (opened before the plugin's first
    use, or before a full pass) needs a full pass over napari's whole heap (0.2-0.3 s on the
    viewer's thread, the 0.29 s that Review queue's 'next case' spent), after which what is alive
    is frozen again. Moving through a queue only removes layers made since the last freeze."""
    _HEAP["full"] = _HEAP["full"] or (layer is not None and layer in _FROZEN_LAYERS) or not _HEAP["frozen"]
    if _HEAP["pending"]:
        return
    _HEAP["pending"] = True

    def collect() -> None:
        _HEAP["pending"] = False
        if _HEAP["full"] and _HEAP["frozen"]:
            gc.unfreeze()
            gc.collect()
            _HEAP["frozen"] = False
            settle_heap()
        else:
            gc.collect()
        _HEAP["full"] = False

    try:
        from qtpy.QtCore import QTimer
    except ImportError:  # pragma: no cover - napari always brings Qt
        collect()
        return
    QTimer.singleShot(200, collect)


def first_use(viewer=None) -> None:
    """Set napari-c2w up in this napari session (no-op outside napari)."""
    if "napari" not in sys.modules:
        return
    claim_reader_patterns_quietly()
    if viewer is None:
        from napari import current_viewer

        viewer = current_viewer()
    watch_viewer(viewer)
    settle_heap()
    warm_imports()
