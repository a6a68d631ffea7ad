"""The "Quantify" widget: volumes, wall thickness (and its map), scar burden, agreement with a reference.

A thin view of :func:`napari_c2w.review.measure.measure`, run in a thread worker. The scar is the
chosen method's (:data:`napari_c2w.quantify.METHODS`: the scar layer, or an intensity rule on the
image).
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox
from napari.layers import Image, Labels
from qtpy.QtWidgets import QLabel, QPushButton, QTableWidget, QTableWidgetItem, QWidget

from .._session import first_use
from ..infer.models import synthetic_label_caveat
from ..labels import STRUCTURES, to_mask
from ..layers import WRITTEN_KEY, layer_volume, structure_of_layer_name
from ..masks.geometry import offset
from ..quantify import SMOOTH_MM, scar_method
from ..review.measure import Measurement, measure
from ._common import (
    StructureDefaults,
    layer_combo,
    pick_default,
    reports_errors,
    run_task,
    scroll_layout,
    show_layer,
)
from ._key import ColourKey
from ._scar import method_combo, param_boxes, param_values

THICKNESS_ROLE = "wall thickness (mm)"


class QuantifyWidget(QWidget):
    """Measure the chosen cavity/wall/scar layers, optionally against a reference Labels layer."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        first_use(napari_viewer)
        v = self.viewer = napari_viewer
        self.last_error: str | None = None
        self.busy = False
        self.result: Measurement | None = None
        self.cavity = layer_combo(v, Labels, "cavity", nullable=True)
        self.wall = layer_combo(v, Labels, "wall", nullable=True)
        self.scar = layer_combo(v, Labels, "scar", nullable=True)
        self.reference = layer_combo(v, Labels, "reference", nullable=True)
        self.image = layer_combo(v, Image, "image", nullable=True)
        self.method = method_combo("scar by", value="network")
        self.params = param_boxes()
        self.compared = ComboBox(label="compare with", choices=STRUCTURES, value="scar")
        self.tolerance_mm = FloatSpinBox(
            label="surface Dice tolerance (mm)", value=1.0, min=0.0, max=20.0, step=0.5
        )
        self.smooth_mm = FloatSpinBox(
            label="thickness smoothing (mm)", value=SMOOTH_MM, min=0.0, max=10.0, step=0.5
        )
        self.show_map = CheckBox(text="show the thickness map", value=True)
        self.reference.changed.connect(lambda *_: self._guess_compared())
        self.defaults = StructureDefaults({"cavity": self.cavity, "wall": self.wall, "scar": self.scar})
        self.form = Container(
            widgets=[
                self.cavity,
                self.wall,
                self.scar,
                self.method,
                self.image,
                *self.params.values(),
                self.reference,
                self.compared,
                self.tolerance_mm,
                self.smooth_mm,
                self.show_map,
            ]
        )
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(("quantity", "value"))
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(200)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.origin = QLabel("")
        self.origin.setWordWrap(True)
        for combo in (self.cavity, self.wall, self.scar):
            combo.changed.connect(lambda *_: self.origin.setText(self.defaults.describe()))
        button = QPushButton("Quantify")
        button.clicked.connect(lambda *_: self.run())
        lay = scroll_layout(self)
        lay.addWidget(self.form.native)
        lay.addWidget(self.origin)
        lay.addWidget(button)
        lay.addWidget(self.table)
        self.key = ColourKey(THICKNESS_ROLE)
        lay.addWidget(self.key)
        lay.addWidget(self.message)
        self.reset_choices()

    def reset_choices(self, *_args) -> None:
        self.form.reset_choices()
        pick_default(self.image)
        self.defaults.apply()
        self.origin.setText(self.defaults.describe())

    def _guess_compared(self) -> None:
        ref = self.reference.value
        structure = structure_of_layer_name(ref.name) if ref is not None else None
        if structure is not None:
            self.compared.value = structure

    @reports_errors("Quantify")
    def run(self) -> None:
        """Measure in a worker thread; the table and the thickness map follow when it is done."""
        layers = {s: c.value for s, c in (("cavity", self.cavity), ("wall", self.wall), ("scar", self.scar))}
        needs_image = scar_method(self.method.value).source == "image"
        image = self.image.value if needs_image else None
        if needs_image and image is None:
            raise ValueError(f"choose an image layer for the {self.method.value} scar method")
        present = [ly for ly in [*layers.values(), self.reference.value, image] if ly is not None]
        if not any(layers.values()):
            raise ValueError("choose at least one of the cavity, wall and scar layers")
        shapes = {ly.data.shape for ly in present}
        if len(shapes) > 1:
            raise ValueError(
                f"the layers differ in shape ({', '.join(map(str, shapes))}); they must share a grid"
            )
        like = present[0]
        spacing = layer_volume(like).spacing
        # The layers' arrays, not masks of them: making masks of a scanner's full grid took
        # 0.26-0.30 s on the viewer's thread (benchmarks/bench_responsiveness.py); the worker does it.
        arrays = {s: None if ly is None else ly.data for s, ly in layers.items()}
        reference = None if self.reference.value is None else self.reference.value.data
        kwargs = {
            "image": None if image is None else np.asarray(image.data),
            "method": self.method.value,
            "params": param_values(self.params),
            "compared": self.compared.value,
            "tolerance_mm": self.tolerance_mm.value,
            "smooth_mm": self.smooth_mm.value,
        }

        def work() -> Measurement:
            masks = {s: None if a is None else to_mask(a) for s, a in arrays.items()}
            ref = None if reference is None else to_mask(reference)
            return measure(spacing, **masks, reference=ref, **kwargs)

        self.message.setText("Measuring...")
        run_task(self, "Quantify", work, lambda m: self._show(m, like))

    def _show(self, m: Measurement, like) -> None:
        self.result = m
        rows = m.rows()
        self.table.setRowCount(len(rows))
        for r, (name, value) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(name))
            self.table.setItem(r, 1, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self.message.setText(caveat(self.cavity.value, self.wall.value, self.scar.value))
        if self.show_map.value and m.thickness_map is not None:
            p95 = m.quantities.thickness["p95"]
            top = float(p95) * 1.2 if np.isfinite(p95) and p95 > 0 else 1.0
            colormap = thickness_colormap()
            # The map on the labels' box only, and its colour key in this dock rather than as
            # napari's colour bar in the view: adding the full-grid map took 0.16-0.20 s and the
            # view's colour bar (its overlay and tick glyphs) 0.3-0.4 s on the viewer's thread
            # (benchmarks/bench_responsiveness.py).
            show_layer(
                self.viewer,
                THICKNESS_ROLE,
                m.thickness_map,
                "image",
                like,
                at=None if m.box is None else offset(m.box),
                name=THICKNESS_ROLE,
                colormap=colormap,
                contrast_limits=(0.0, top),
                blending="translucent",
            )
            self.key.show_range(colormap, 0.0, top, "mm")
            self.message.setText(
                f"Thickness map: 0 (clear) to {top:.1f} mm, turbo colours (key above). " + self.message.text()
            )


def thickness_colormap():
    """napari's turbo with zero fully transparent (no tint where there is no wall)."""
    from napari.utils.colormaps import Colormap, ensure_colormap

    turbo = ensure_colormap("turbo")
    colors = np.asarray(turbo.colors, dtype=float).copy()
    colors[0, 3] = 0.0
    return Colormap(colors, controls=turbo.controls, name="turbo, zero clear", interpolation="linear")


def caveat(*layers) -> str:
    """A warning when wall or scar come from models that never saw a real wall or scar label."""
    models: dict = {}
    for layer in layers:
        record = None if layer is None else layer.metadata.get(WRITTEN_KEY)
        for entry in (record or {}).get("provenance", []):
            models.update({k: v for k, v in entry.get("models", {}).items() if k == record.get("structure")})
    return synthetic_label_caveat(models)
