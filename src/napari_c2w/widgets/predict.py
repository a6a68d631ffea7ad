"""The "Segment LA (cavity, wall, scar)" widget: the staged pipeline on an image layer.

Thin: the image layer becomes a case through the layer adapter
(:func:`napari_c2w.layers.case_from_layers`: its spacing, origin and direction), and the work is
:func:`napari_c2w.infer.result.segment_case`, the function ``napari-c2w predict`` calls, run in a
napari thread worker with a progress bar (within each stage: windows done, time left) and a
Cancel button. Each Labels layer the widget writes keeps its structure's record of the predicted
case (:meth:`napari_c2w.io.case.Case.record_of`, ``layer.metadata[WRITTEN_KEY]``), the provenance
the CLI stores. Layers are tracked by that record, never by name: a
reference layer called ``cavity`` is never touched, and a predicted layer an annotator edited
is replaced only after asking.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit
from napari.layers import Image, Labels
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QLabel, QMessageBox, QProgressBar, QPushButton, QWidget

from .._session import first_use
from ..infer.models import synthetic_label_caveat
from ..infer.quality import FLAG_AT, warning_text
from ..labels import LABELS, to_layer
from ..layers import WRITTEN_KEY, case_from_layers, checksum, label_colormap
from ..noise import TARGET as NOISE_TARGET
from ._common import (
    is_corrected,
    layer_combo,
    layer_id,
    notify_error,
    notify_warning,
    one_per_turn,
    placed_like,
    reports_errors,
    run_task,
    scroll_layout,
    written_record,
)

BUNDLED, FOLDER, FINE_TUNED = "bundled", "folder...", "fine-tuned run"
#: Who predicts, in the provenance of the widget's labels.
BY = "napari-c2w Segment widget"


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
        self.fine_tuned: list[Path] = []
        self.geometry_warning = ""
        self._kept: set[str] = set()  # structures whose corrected layer was kept in the last run
        first_use(napari_viewer)
        self._cancel = threading.Event()
        self.image = layer_combo(napari_viewer, Image, "image")
        self.models = ComboBox(label="models", choices=[BUNDLED, FOLDER], value=BUNDLED)
        self.folder = FileEdit(label="model folder / run", mode="d", visible=False)
        self.models.changed.connect(lambda v: setattr(self.folder, "visible", v == FOLDER))
        self.device = ComboBox(label="device", choices=["auto", *available_devices()], value="auto")
        self.form = Container(widgets=[self.image, self.models, self.folder, self.device])
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.results = QLabel("")
        self.results.setWordWrap(True)
        layout = scroll_layout(self)
        for w in (
            self.form.native,
            self.run_button,
            self.cancel_button,
            self.bar,
            self.message,
            self.results,
        ):
            layout.addWidget(w)
        layout.addStretch(1)
        self.progress = _Progress()
        self.progress.changed.connect(self._on_progress)
        self.run_button.clicked.connect(lambda *_: self.run())
        self.cancel_button.clicked.connect(lambda *_: self.cancel())
        napari_viewer.layers.events.inserted.connect(lambda e: self.image.reset_choices())
        napari_viewer.layers.events.removed.connect(lambda e: self.image.reset_choices())

    # ------------------------------------------------------------------ actions
    def model_sources(self) -> list[Path]:
        """The model folders/runs overriding the bundled weights for the chosen model set."""
        if self.models.value == FINE_TUNED:
            return list(self.fine_tuned)
        return [] if self.models.value == BUNDLED else [Path(self.folder.value)]

    def use_models(self, runs: list[Path], base: list[Path] | None = None) -> None:
        """Offer fine-tuned runs (each replaces its stage; ``base`` folders go first)."""
        self.fine_tuned = [*(base or []), *runs]
        if FINE_TUNED not in self.models.choices:
            self.models.choices = [BUNDLED, FOLDER, FINE_TUNED]
        self.models.value = FINE_TUNED
        self.message.setText("Models: " + ", ".join(str(p) for p in self.fine_tuned))

    @reports_errors("Segment")
    def run(self):
        """Start the pipeline on the chosen image layer (returns the worker, or None)."""
        from ..infer import InferenceOptions
        from ..infer.result import segment_case

        layer = self.image.value
        if layer is None:
            notify_error("Segment: open an image first (File > Open, or a sample).")
            return None
        if np.ndim(layer.data) != 3 or getattr(layer, "multiscale", False):
            notify_error(f"Segment: {layer.name!r} is not a single-scale 3D volume.")
            return None
        self.geometry_warning = geometry_warning(layer)
        if self.geometry_warning:
            notify_warning(self.geometry_warning)
        models = self.model_sources()
        case = case_from_layers(layer)  # the image with its direction: reoriented as the CLI does
        options = InferenceOptions(device=self.device.value)
        self._cancel.clear()
        self._set_running(True, "starting...")

        def work():
            predicted, prediction = segment_case(
                case, models, options, by=BY, progress=self.progress.changed.emit, cancel=self._cancel.is_set
            )
            # the layers' arrays and digests here, off the viewer's thread (0.03 s each on a full grid)
            layers = {s: _layer_data(m, s) for s, m in predicted.labels.items()}
            return predicted, prediction, layers

        return run_task(
            self,
            "Segment",
            work,
            self._done,
            failed=lambda m: self._set_running(False, m),
            cancelled=self._cancelled,
        )

    def cancel(self) -> None:
        self._cancel.set()
        self.message.setText("Cancelling after the current window...")

    # ------------------------------------------------------------------ results
    def _on_progress(self, fraction: float, message: str) -> None:
        if self.busy:
            self.bar.setValue(round(100 * fraction))
            self.message.setText(message)

    def _set_running(self, running: bool, message: str | None = None) -> None:
        self.busy = running
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if message is not None:
            self.message.setText(message)

    def _cancelled(self) -> None:
        self._set_running(False, "Cancelled: nothing was changed.")
        self.bar.setValue(0)

    def _done(self, outcome) -> None:
        predicted, prediction, layers = outcome
        self.message.setText("Adding the layers...")
        self.result = prediction
        image = self.image.value
        now = datetime.datetime.now().isoformat(timespec="microseconds")  # orders runs
        run = {"run": uuid.uuid4().hex[:12], "time": now}
        targets = {s: self._target(s, image) for s in predicted.labels}
        edited = [t.name for t in targets.values() if t is not None and is_corrected(t)]
        self._kept = set()
        if edited and not self.confirm_replace(edited):
            self._kept = {s for s, t in targets.items() if t is not None and t.name in edited}
            for t in targets.values():  # kept: say so in the name, the new run is "(prediction ...)"
                if t is not None and t.name in edited and "(corrected)" not in t.name:
                    t.name = f"{t.name.replace(' (prediction)', '')} (corrected)"
            targets = {s: (None if t is not None and is_corrected(t) else t) for s, t in targets.items()}
        # replace in place first, then add: each added layer finds the others already in the new run
        order = sorted(predicted.labels, key=lambda n: targets[n] is None)
        steps = [
            (lambda n=name: self._put(targets[n], n, layers[n], image, {**predicted.record_of(n), **run}))
            for name in order
        ]
        one_per_turn(  # busy until the last layer is in
            self,
            "Segment",
            steps,
            done=lambda: self._finish(prediction),
            failed=lambda m: self._set_running(False, m),
        )

    def _finish(self, prediction) -> None:
        self._set_running(False, "Done.")
        text = results_text(prediction)
        self.results.setText(f"Warning: {self.geometry_warning}\n{text}" if self.geometry_warning else text)

    def _target(self, structure: str, image):
        """The latest layer this widget wrote for ``structure`` of ``image`` (None: add one)."""
        mine = [
            ly
            for ly in self.viewer.layers
            if (r := written_record(ly))
            and r.get("structure") == structure
            and r.get("image") == str(layer_id(image))
        ]
        return max(mine, key=lambda ly: written_record(ly).get("time", ""), default=None)

    def confirm_replace(self, names: list[str]) -> bool:
        """Ask before replacing layers an annotator changed (tests replace this method)."""
        answer = QMessageBox.question(
            self,
            "Replace edited labels?",
            f"You edited {', '.join(names)} since Segment made them. Replace them with the new "
            "result? (No keeps your edits and adds the result as new layers.)",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _put(self, layer, structure: str, prepared: tuple[np.ndarray, str], image, record: dict) -> None:
        data, digest = prepared
        written = {**record, "structure": structure, "image": str(layer_id(image)), "checksum": digest}
        if layer is not None:
            layer.metadata[WRITTEN_KEY] = written
            layer.data = data
            layer.scale, layer.translate = image.scale, image.translate
            return
        taken = {ly.name for ly in self.viewer.layers}
        layer = Labels(  # with its record: widgets pick defaults as it arrives
            data,
            name=(
                f"{structure} (prediction {record['time'][11:19]})"
                if structure in taken or structure in self._kept
                else structure
            ),
            **placed_like(image),
            opacity=0.6,
            colormap=label_colormap(structure),
            metadata={WRITTEN_KEY: written},
        )
        self.viewer.add_layer(layer)
        layer.selected_label = LABELS[structure]  # painting adds to the structure


def _layer_data(mask: np.ndarray, structure: str) -> tuple[np.ndarray, str]:
    """A structure's Labels array and its digest (what :meth:`PredictWidget._put` writes)."""
    data = to_layer(mask, structure)
    return data, checksum(data)


def geometry_warning(layer) -> str:
    """Why ``layer``'s geometry cannot be trusted ('' when it has a physical scale).

    napari's builtin reader opens NRRD, NIfTI and MetaImage at scale 1 in pixels: the pipeline
    would then take every voxel for a 1 mm cube (a 1.25 mm-slice scan as if isotropic).
    """
    units = [str(u) for u in getattr(layer, "units", ())[-3:]]
    pixels = not units or all(u in ("pixel", "px") for u in units)
    if not (pixels and np.allclose(layer.scale[-3:], 1.0)):
        return ""
    return (
        f"{layer.name!r} has no physical scale (scale 1, pixel units): it was probably opened by "
        "another reader, so each voxel is taken as a 1 mm cube and the results are wrong for an "
        "anisotropic scan. Open the file again and choose napari-c2w (now napari's preferred "
        "reader for NRRD, NIfTI and MetaImage: Preferences > Plugins)."
    )


def results_text(prediction) -> str:
    """Timings, uncertainty, volumes and scar burden of a prediction, for the widget."""
    t = prediction.timings
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in t.items() if k != "total")
    lines = [f"Segmented in {t.get('total', float('nan')):.1f} s on {prediction.device} ({stages})."]
    u = prediction.uncertainty.get("score")
    if u is not None:
        lines.append(f"Uncertainty score {u:.3f} (higher: review first).")
    wall, scar = prediction.labels.get("wall"), prediction.labels.get("scar")
    burden = float("nan")
    if wall is not None and scar is not None:
        from ..quantify import BandSpec, burden_pct

        burden = burden_pct(scar, BandSpec().scar_region(prediction.labels.get("cavity"), None, wall)[0])
    if np.isfinite(burden):
        lines.append(f"Scar burden {burden:.1f} % of the wall.")
        caveat = synthetic_label_caveat(prediction.models)
        if caveat:
            lines.append(caveat)
    sigma = prediction.roi.get("denoise_sigma_mm")
    if sigma:
        lines.append(
            f"The scan is noisier than the training data (noise {prediction.roi['noise']:.3f}, training "
            f"up to {NOISE_TARGET:.2f}): smoothed in-plane (Gaussian {sigma:.2f} mm) before segmenting."
        )
    alternate = prediction.roi.get("alternates", {}).get("wall", {})
    if alternate.get("chosen", "wall") != "wall":
        cover = alternate["coverage"]
        lines.append(
            f"The wall is the contrast-robust alternate's ({alternate['chosen']}): it covers "
            f"{cover[alternate['chosen']]:.0%} of the cavity's surface, the main wall model "
            f"{cover['wall']:.0%}. The scan's contrast may differ from the training data's."
        )
    q = prediction.quality
    if q.get("flagged"):
        lines.append(
            f"Warning: the cavity looks implausible ({q['reason']}, quality score {q['score']:.2f}): "
            "check it before using wall or scar."
        )
    elif q:
        lines.append(f"Quality checks passed (score {q['score']:.2f}; 0 is best, {FLAG_AT} flags).")
    for w in q.get("warnings", []):
        lines.append(f"Warning: {warning_text(w, q.get('features') or {})}.")
    return "\n".join(lines)
