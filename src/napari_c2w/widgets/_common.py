"""Small helpers shared by the review, queue, quantify and export widgets.

Layer pickers that follow the viewer's layers, the case metadata carried by the image
layer, threads with a synchronous switch (``NAPARI_C2W_NOTHREADS=1``), and errors shown
as napari notifications.
"""

from __future__ import annotations

import functools
import getpass
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox

from .._env import flag
from ..labels import LABELS, STRUCTURES
from ..layers import META_KEY, ROLE_KEY, WRITTEN_KEY, structure_of_layer_name

NOTHREADS_ENV = "NAPARI_C2W_NOTHREADS"


def default_annotator() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def threads_disabled() -> bool:
    return flag(NOTHREADS_ENV, default=False)


#: The pause between two steps of :func:`one_per_turn`: time for the viewer to draw and answer.
STEP_GAP_MS = 40


def one_per_turn(
    owner: Any,
    what: str,
    steps: list[Callable[[], Any]],
    *,
    done: Callable[[], Any] | None = None,
    failed: Callable[[str], None] | None = None,
) -> None:
    """Run ``steps`` in order, one per turn of the event loop and ``STEP_GAP_MS`` apart, so that
    napari draws and answers between them (each full-grid layer added takes 0.1-0.2 s of the
    viewer's thread); all at once when threads are off (tests, scripts).

    Like :func:`run_task`, whose results these steps usually show: ``owner.busy`` is True until
    the last step has run, then ``done()``; an error stops the rest and becomes a notification,
    ``owner.last_error`` and a call of ``failed(message)``."""
    steps = list(steps)
    owner.busy = True

    def next_step() -> None:
        if not steps:
            owner.busy = False
            if done is not None:
                done()
            return
        try:
            steps.pop(0)()
        except Exception as err:  # shown to the user; the rest is not run
            owner.busy = False
            owner.last_error = f"{what}: {err}"
            notify_error(owner.last_error)
            if failed is not None:
                failed(owner.last_error)
            return
        if threads_disabled():
            next_step()
        else:
            from qtpy.QtCore import QTimer

            QTimer.singleShot(STEP_GAP_MS, next_step)

    next_step()


def lock_layers(layers) -> Callable[[], None]:
    """Make ``layers`` read-only in napari (no brush stroke, fill or erase) while work made from a
    snapshot of them runs elsewhere; returns the function that gives each its editability back."""
    locked = [(layer, layer.editable) for layer in layers]
    for layer, _ in locked:
        layer.editable = False

    def unlock() -> None:
        for layer, editable in locked:
            layer.editable = editable

    return unlock


def notify_error(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


#: The most height a dock asks for: napari on a 1080p laptop leaves about 850 px to its docks,
#: and docks do not scroll by themselves.
MAX_DOCK_HEIGHT = 560


def scroll_layout(widget) -> Any:
    """A vertical layout inside a scroll area that fills ``widget`` (a tall dock scrolls).

    The area asks for its content's height up to :data:`MAX_DOCK_HEIGHT` and scrolls beyond.
    Returns the inner layout: widgets add their parts to it as to ``QVBoxLayout(widget)``.
    """
    from qtpy.QtCore import QSize
    from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

    class FitScrollArea(QScrollArea):
        def sizeHint(self) -> QSize:
            inner = self.widget().sizeHint()
            bar = self.verticalScrollBar().sizeHint().width()
            return QSize(inner.width() + bar, min(inner.height(), MAX_DOCK_HEIGHT))

    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    area = FitScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(QWidget())
    outer.addWidget(area)
    return QVBoxLayout(area.widget())


def notify_warning(message: str) -> None:
    from napari.utils.notifications import show_warning

    show_warning(message)


def notify_info(message: str) -> None:
    from napari.utils.notifications import show_info

    show_info(message)


def reports_errors(what: str) -> Callable:
    """Decorate a widget callback: an exception becomes a napari error notification.

    The message is also kept in the widget's ``last_error`` (tests and status lines read it).
    """

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except Exception as err:
                self.last_error = f"{what}: {err}"
                notify_error(self.last_error)
                return None

        return wrapper

    return deco


def run_task(
    owner: Any,
    what: str,
    fn: Callable[[], Any],
    done: Callable[[Any], None],
    failed: Callable[[str], None] | None = None,
    *,
    cancelled: Callable[[], None] | None = None,
) -> Any:
    """Run ``fn`` in a napari thread worker (or at once when threads are disabled).

    ``done(result)`` runs in the GUI thread; an error becomes a notification,
    ``owner.last_error`` and a call of ``failed(message)``. A cancel (an exception with a true
    ``is_cancel`` attribute) is no error: it calls ``cancelled()`` and shows a plain message.
    ``owner.busy`` is True while the work runs. Returns the worker (None when run synchronously).
    """

    def fail(err: BaseException) -> None:
        owner.busy = False
        if getattr(err, "is_cancel", False):
            notify_info(f"{what}: cancelled.")
            if cancelled is not None:
                cancelled()
            return
        owner.last_error = f"{what}: {err}"
        notify_error(owner.last_error)
        if failed is not None:
            failed(owner.last_error)

    def finish(result: Any) -> None:
        owner.busy = False
        done(result)

    owner.busy = True
    owner.last_error = None
    if threads_disabled():
        try:
            result = fn()
        except Exception as err:
            fail(err)
        else:
            finish(result)
        return None
    from napari.qt.threading import create_worker

    worker = create_worker(fn, _start_thread=False, _ignore_errors=True)
    worker.returned.connect(finish)
    worker.errored.connect(fail)
    worker.start()
    return worker


def layer_combo(viewer, kind: type, label: str, nullable: bool = False) -> ComboBox:
    """A combo box of the viewer's layers of ``kind`` (widget-made layers left out)."""

    def choices(_widget=None) -> list[tuple[str, Any]]:
        return [(ly.name, ly) for ly in viewer.layers if isinstance(ly, kind) and ROLE_KEY not in ly.metadata]

    return ComboBox(label=label, choices=choices, nullable=nullable)


def pick_default(combo: ComboBox, structure: str | None = None) -> None:
    """Choose a sensible layer when ``combo`` holds none: by structure name, or our image."""
    if combo.value is not None:
        return
    layers = [c for c in combo.choices if c is not None]
    if structure is not None:
        exact = [ly for ly in layers if ly.name == structure]
        named = [ly for ly in layers if structure_of_layer_name(ly.name) == structure]
        pick = (exact or named or [None])[0]
    else:
        pick = next((ly for ly in layers if META_KEY in ly.metadata), layers[0] if layers else None)
    if pick is not None:
        combo.value = pick


def written_record(layer) -> dict | None:
    """The record the plugin keeps on a Labels layer it wrote (None for any other layer)."""
    return None if layer is None else layer.metadata.get(WRITTEN_KEY)


def is_corrected(layer) -> bool:
    """Whether an annotator changed a layer Segment wrote (its data no longer match the record)."""
    record = written_record(layer)
    return record is not None and record.get("checksum") != data_digest(layer)


#: A layer's data digest, kept until napari says its data changed (:func:`data_digest`).
_DIGESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: The layer events by which every change of a Labels layer's data through napari is announced:
#: painting and ``data_setitem`` (``paint``), ``refresh`` (``set_data``, also sent when napari
#: slices the layer), a new array (``data``).
DATA_EVENTS = ("paint", "set_data", "data", "labels_update")


def data_digest(layer) -> str:
    """:func:`napari_c2w.layers.checksum` of ``layer.data``, computed again only after the layer
    announced that its data may have changed (:data:`DATA_EVENTS`; napari also sends ``set_data``
    when it slices the layer, so a digest lives until the view moves). Each layer added made the
    widgets' pickers hash every predicted layer (0.015 s per 88x576x576 grid, 20 times for one
    Segment run: 0.31 s of the viewer's thread). A write into the array that napari is not told
    of (no ``refresh()``), which napari does not show either, goes unseen until then."""
    from ..layers import checksum

    entry = _DIGESTS.get(layer)
    if entry is not None and entry[0] == id(layer.data):
        return entry[1]
    digest = checksum(layer.data)
    _keep_digest(layer, digest)
    return digest


def _keep_digest(layer, digest: str) -> None:
    """Keep ``digest`` as the digest of ``layer.data`` until the layer announces a change."""
    if layer not in _DIGESTS and hasattr(layer, "events"):
        ref = weakref.ref(layer)

        def forget(event=None) -> None:
            owner = ref()
            if owner is not None and owner in _DIGESTS:
                _DIGESTS[owner] = (None, "")

        for name in DATA_EVENTS:
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                emitter.connect(forget)
    _DIGESTS[layer] = (id(layer.data), digest)


def default_structure_layers(layers) -> dict[str, Any]:
    """One default layer per structure: the annotator's corrections first, never reference labels
    mixed with predictions.

    With predicted layers present, each structure gets its newest corrected layer (a prediction
    an annotator edited, kept when Segment ran again), else the latest Segment run's layer;
    otherwise layers named after the structure (exact name first).
    """
    predicted = [ly for ly in layers if written_record(ly)]
    if predicted:
        run = max(predicted, key=lambda ly: written_record(ly).get("time", ""))
        latest = written_record(run).get("run")
        picks = {
            written_record(ly)["structure"]: ly for ly in predicted if written_record(ly).get("run") == latest
        }
        for ly in sorted(predicted, key=lambda ly: written_record(ly).get("time", "")):
            if is_corrected(ly):
                picks[written_record(ly)["structure"]] = ly
        return picks
    out = {}
    for structure in STRUCTURES:
        exact = [ly for ly in layers if ly.name == structure]
        named = [ly for ly in layers if structure_of_layer_name(ly.name) == structure]
        if exact or named:
            out[structure] = (exact or named)[0]
    return out


class StructureDefaults:
    """Keeps a widget's cavity/wall/scar pickers on one consistent default set until the user
    picks a layer by hand; :meth:`describe` says where the chosen labels come from."""

    def __init__(self, combos: dict[str, ComboBox]) -> None:
        self.combos = combos
        self._auto: dict | None = None

    def _current(self) -> dict:
        return {s: layer_id(c.value) for s, c in self.combos.items()}

    def apply(self) -> None:
        layers = {layer_id(ly): ly for c in self.combos.values() for ly in c.choices if ly is not None}
        for structure, combo in self.combos.items():  # a renamed layer drops out of its combo: restore it
            chosen = (self._auto or {}).get(structure)
            if combo.value is None and chosen in layers:
                combo.value = layers[chosen]
        if self._auto is not None and self._current() != self._auto:
            return  # the user chose layers by hand: leave them
        picks = default_structure_layers(list(layers.values()))
        for structure, combo in self.combos.items():
            pick = picks.get(structure)
            if pick is not None or combo._nullable:
                combo.value = pick
        self._auto = self._current()

    def describe(self) -> str:
        """'cavity, wall, scar: the prediction of 16:52:03' or a warning when they mix."""
        chosen = {s: c.value for s, c in self.combos.items() if c.value is not None}
        if not chosen:
            return "No labels chosen."
        runs = {(written_record(ly) or {}).get("run") for ly in chosen.values()}
        names = ", ".join(chosen)
        corrected = [s for s, ly in chosen.items() if is_corrected(ly)]
        if corrected and None not in runs:
            rest = [s for s in chosen if s not in corrected]
            text = f"{', '.join(corrected)}: your corrections"
            if rest:
                when = (written_record(chosen[rest[0]]) or {}).get("time", "")[11:19]
                text += (
                    f"; {', '.join(rest)}: the prediction of {when}"
                    if len(runs) == 1
                    else (f"; {', '.join(rest)}: predictions")
                )
            return text + "."
        if runs == {None}:
            return f"{names}: labels layers not made by Segment (e.g. reference or loaded labels)."
        if len(runs) == 1:
            when = (written_record(next(iter(chosen.values()))) or {}).get("time", "")[11:19]
            return f"{names}: the prediction of {when}."
        return f"Note: {names} mix predicted and other labels; check the choice above."


def case_meta(image_layer) -> dict:
    """The case metadata dict of an image layer (created when the layer has none)."""
    meta = image_layer.metadata.setdefault(META_KEY, {})
    meta.setdefault("case_id", image_layer.name)
    meta.setdefault("provenance", [])
    meta.setdefault("status", "unreviewed")
    return meta


def mark_in_progress(image_layer) -> None:
    """A case edited while unreviewed is now in progress (its image layer's case metadata)."""
    if image_layer is not None:
        meta = case_meta(image_layer)
        if meta["status"] == "unreviewed":
            meta["status"] = "in progress"


def layer_id(layer) -> Any:
    """A stable identity of a layer (napari hands plugins proxies, so ``is`` and ``id`` do not work)."""
    return None if layer is None else layer.unique_id


def label_value(structure: str | None) -> int:
    return LABELS.get(structure or "", 1)


def placed_like(like) -> dict:
    """Keyword arguments placing a new layer where layer ``like`` is: scale, translate and its
    units and axis labels (a layer without them makes napari drop the units of every layer)."""
    out = {"scale": like.scale, "translate": like.translate}
    if getattr(like, "units", None) is not None:
        out["units"], out["axis_labels"] = like.units, like.axis_labels
    return out


def show_layer(viewer, role: str, data: np.ndarray, kind: str, like, *, at=None, **kwargs):
    """Update the widget-made layer of ``role`` with ``data``, or add it (placed like layer ``like``).

    ``at``: the voxel of ``like``'s grid where ``data``'s first voxel lies, for data cropped from
    that grid (None: ``data`` covers the grid from its first voxel).
    """
    from napari.layers import Image, Labels

    placed = placed_like(like)
    if at is not None:
        placed["translate"] = np.asarray(like.translate) + np.asarray(at) * np.asarray(like.scale)
    cls = Labels if kind == "labels" else Image
    for layer in viewer.layers:
        if layer.metadata.get(ROLE_KEY) == role and isinstance(layer, cls):
            layer.data = data
            layer.scale, layer.translate = placed["scale"], placed["translate"]
            for key in ("contrast_limits",):
                if key in kwargs:
                    setattr(layer, key, kwargs[key])
            return layer
    add = viewer.add_labels if kind == "labels" else viewer.add_image
    return add(data, metadata={ROLE_KEY: role}, **placed, **kwargs)
