"""The "Segment LA (cavity, wall, scar)" widget: the staged pipeline on an image layer.

Thin: the work is :func:`napari_c2w.infer.segment`, run in a napari thread worker with a
progress bar and a Cancel button. Results become Labels layers ``cavity``, ``wall`` and ``scar``
on the image's scale and translate. A result layer that an annotator has edited since the
last run is never replaced without asking.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit
from napari.layers import Image
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QLabel, QMessageBox, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ..labels import to_layer
from ._common import layer_combo, notify_error, notify_info, run_task

CHECKSUM_KEY = "napari_c2w_prediction_sha1"


def checksum(data) -> str:
    return hashlib.sha1(np.ascontiguousarray(np.asarray(data)).view(np.uint8)).hexdigest()


class _Progress(QObject):
    changed = Signal(float, str)


class PredictWidget(QWidget):
    """Pick an image layer, a model set and a device; Run; Cancel."""

    def __init__(self, napari_viewer) -> None:
        from ..models import available_devices

        super().__init__()
        self.viewer = napari_viewer
        self.last_error: str | None = None
        self.busy = False
        self.result = None
        self._cancel = threading.Event()
        self.image = layer_combo(napari_viewer, Image, "image")
        self.models = ComboBox(label="models", choices=["bundled", "folder..."], value="bundled")
        self.folder = FileEdit(label="model folder / run", mode="d", visible=False)
        self.models.changed.connect(lambda v: setattr(self.folder, "visible", v != "bundled"))
        self.device = ComboBox(label="device", choices=["auto", *available_devices()], value="auto")
        self.form = Container(widgets=[self.image, self.models, self.folder, self.device])
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        for w in (self.form.native, self.run_button, self.cancel_button, self.bar, self.message):
            layout.addWidget(w)
        layout.addStretch(1)
        self.progress = _Progress()
        self.progress.changed.connect(self._on_progress)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        napari_viewer.layers.events.inserted.connect(lambda e: self.image.reset_choices())
        napari_viewer.layers.events.removed.connect(lambda e: self.image.reset_choices())

    # ------------------------------------------------------------------ actions
    def run(self):
        """Start the pipeline on the chosen image layer (returns the worker, or None)."""
        from ..infer import InferenceOptions, segment
        from ..io.volume import Volume

        layer = self.image.value
        if layer is None:
            notify_error("Segment: open an image first (File > Open, or a sample).")
            return None
        if np.ndim(layer.data) != 3 or getattr(layer, "multiscale", False):
            notify_error(f"Segment: {layer.name!r} is not a single-scale 3D volume.")
            return None
        sources = [] if self.models.value == "bundled" else [Path(self.folder.value)]
        volume = Volume(np.asarray(layer.data), tuple(layer.scale[-3:]), tuple(layer.translate[-3:]))
        options = InferenceOptions(device=self.device.value)
        self._cancel.clear()
        self._set_running(True)

        def work():
            return segment(
                volume, sources, options, progress=self.progress.changed.emit, cancel=self._cancel.is_set
            )

        return run_task(self, "Segment", work, self._done, failed=lambda m: self._set_running(False, m))

    def cancel(self) -> None:
        self._cancel.set()
        self.message.setText("cancelling after the current step...")

    # ------------------------------------------------------------------ results
    def _on_progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(round(100 * fraction))
        self.message.setText(message)

    def _set_running(self, running: bool, message: str | None = None) -> None:
        self.busy = running
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if message is not None:
            self.message.setText(message)

    def _done(self, prediction) -> None:
        self._set_running(False, "done")
        self.result = prediction
        image = self.image.value
        edited = [n for n in prediction.labels if self._edited(n)]
        suffix = ""
        if edited and not self.confirm_replace(edited):
            suffix = " (new)"
        for name, mask in prediction.labels.items():
            self._put(name + suffix, name, mask, image)
        t = prediction.timings.get("total", float("nan"))
        notify_info(
            f"Segmented {image.name} in {t:.1f} s on {prediction.device}; uncertainty "
            f"{prediction.uncertainty['score']:.3f}"
        )

    def _edited(self, name: str) -> bool:
        if name not in self.viewer.layers:
            return False
        layer = self.viewer.layers[name]
        known = layer.metadata.get(CHECKSUM_KEY)
        return known is None or known != checksum(layer.data)

    def confirm_replace(self, names: list[str]) -> bool:
        """Ask before replacing layers an annotator changed (tests replace this method)."""
        answer = QMessageBox.question(
            self,
            "Replace edited labels?",
            f"The layers {', '.join(names)} were edited since they were made. Replace them with the new "
            "result? (No keeps them and adds the result as new layers.)",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _put(self, layer_name: str, structure: str, mask: np.ndarray, image) -> None:
        data = to_layer(mask, structure)
        if layer_name in self.viewer.layers:
            layer = self.viewer.layers[layer_name]
            layer.data = data
            layer.scale, layer.translate = image.scale, image.translate
        else:
            layer = self.viewer.add_labels(
                data, name=layer_name, scale=image.scale, translate=image.translate, opacity=0.6
            )
        layer.metadata[CHECKSUM_KEY] = checksum(layer.data)
        layer.metadata["napari_c2w_models"] = self.result.models if self.result else {}
