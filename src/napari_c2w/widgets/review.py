"""The "Review annotations" widget: implausible components, band cleaning and corrections, with undo.

A thin view of :class:`napari_c2w.review.session.ReviewSession`: the widget reads the
chosen Labels layers, asks the session for an :class:`~napari_c2w.review.session.Edit`
and writes it with ``Labels.data_setitem`` (so napari's own undo sees it as one step too).
Provenance records go to the image layer's case metadata, which the writer and the
export widget store with the case.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, SpinBox
from napari.layers import Image, Labels
from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .._session import first_use
from ..labels import STRUCTURES, to_mask
from ..layers import layer_token, layer_volume
from ..masks.geometry import offset
from ..quantify import BandSpec
from ..review.corrections import FILL_MODES, SMOOTH_METHODS
from ..review.plausibility import WALL_MAX_MM, Finding
from ..review.session import Edit, ReviewSession
from ._common import (
    ROLE_KEY,
    StructureDefaults,
    case_meta,
    default_annotator,
    layer_combo,
    layer_id,
    lock_layers,
    mark_in_progress,
    one_per_turn,
    pick_default,
    reports_errors,
    run_task,
    scroll_layout,
    show_layer,
)
from ._history import write_edit
from ._review_history import HistoryAndPainting
from ._review_parts import FindingsTable, button, shortcuts

BAND_ROLE, FLAGGED_ROLE = "review band", "flagged components"
#: Every flagged component in one bright colour no structure uses (visible at 8 voxels).
FLAGGED_COLORMAP = {None: (1.0, 0.0, 1.0, 1.0), 0: (0.0, 0.0, 0.0, 0.0)}
#: An edit that runs once the labels are analysed.
Action = Callable[[ReviewSession], None]
BUSY = "the review is still analysing the labels; try again when its table is filled"


class ReviewWidget(HistoryAndPainting, QWidget):
    """Find, inspect, keep or remove implausible scar/wall components and correct labels."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        first_use(napari_viewer)
        v = self.viewer = napari_viewer
        self.session: ReviewSession | None = None
        self.last_error: str | None = None
        self.busy = False
        self._again = False  # analyse once more when the running analysis ends
        self._closed = False  # the dock was closed: a result arriving later adds no layers
        self._key: tuple | None = None
        self._applying = False
        self._painted_layer = None
        self._histories: dict = {}
        self.image = layer_combo(v, Image, "image", nullable=True)
        self.cavity = layer_combo(v, Labels, "cavity")
        self.wall = layer_combo(v, Labels, "wall", nullable=True)
        self.scar = layer_combo(v, Labels, "scar", nullable=True)
        band = BandSpec()
        self.inner_mm = FloatSpinBox(
            label="band inside (mm)", value=band.inner_mm, min=0.0, max=30.0, step=0.25
        )
        self.outer_mm = FloatSpinBox(
            label="band outside (mm)", value=band.outer_mm, min=0.0, max=30.0, step=0.25
        )
        self.wall_max_mm = FloatSpinBox(
            label="wall far from cavity (mm)", value=WALL_MAX_MM, min=0.0, max=50.0, step=0.5
        )
        self.annotator = LineEdit(label="annotator", value=default_annotator())
        self.form = Container(
            widgets=[
                self.image,
                self.cavity,
                self.wall,
                self.scar,
                self.inner_mm,
                self.outer_mm,
                self.wall_max_mm,
                self.annotator,
            ]
        )
        self.table = FindingsTable()
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.summary = QLabel("Press 'Find implausible annotation'.")
        self.min_size = SpinBox(label="and scar pieces below (voxels)", value=0, min=0, max=10**8)
        self.structure = ComboBox(label="structure", choices=STRUCTURES, value="scar")
        self.fill_mode = ComboBox(label="fill holes in", choices=FILL_MODES, value="3d")
        self.radius_mm = FloatSpinBox(label="smoothing radius (mm)", value=1.0, min=0.1, max=20.0, step=0.25)
        self.method = ComboBox(label="smoothing", choices=SMOOTH_METHODS, value="closing")
        self.confine = CheckBox(text="confine scar painting to the band", value=False)
        self.confine.changed.connect(lambda *_: self._connect_paint())
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.defaults = StructureDefaults({"cavity": self.cavity, "wall": self.wall, "scar": self.scar})
        self._layout()
        self.reset_choices()

    def _layout(self) -> None:
        lay = scroll_layout(self)
        lay.addWidget(self.form.native)
        lay.addWidget(
            button(
                "Find implausible annotation",
                self.find,
                "Compute the wall band and the scar/wall components outside it",
            )
        )
        lay.addWidget(self.summary)
        lay.addWidget(self.table)
        row = QHBoxLayout()
        row.addWidget(button("Remove selected", self.remove_selected))
        row.addWidget(button("Keep selected", self.keep_selected, "Mark as plausible"))
        lay.addLayout(row)
        band = QGroupBox("Band cleaning")
        bl = QVBoxLayout(band)
        bl.addWidget(
            button("Remove all scar outside the band", self.remove_outside_band, "Kept components are spared")
        )
        bl.addWidget(Container(widgets=[self.min_size]).native)
        lay.addWidget(band)
        corr = QGroupBox("Corrections")
        cl = QVBoxLayout(corr)
        cl.addWidget(
            Container(
                widgets=[self.structure, self.fill_mode, self.radius_mm, self.method, self.confine]
            ).native
        )
        row = QHBoxLayout()
        row.addWidget(button("Fill holes", lambda: self.correct("fill holes")))
        row.addWidget(button("Keep largest", lambda: self.correct("keep largest")))
        row.addWidget(button("Smooth", lambda: self.correct("smooth")))
        cl.addLayout(row)
        lay.addWidget(corr)
        row = QHBoxLayout()
        row.addWidget(button("Undo", self.undo))
        row.addWidget(button("Redo", self.redo))
        lay.addLayout(row)
        lay.addWidget(self.message)
        keys = QLabel(
            shortcuts(
                self,
                {
                    "Ctrl+Alt+F": ("next finding", self.next_finding),
                    "Ctrl+Alt+K": ("keep", self.keep_selected),
                    "Ctrl+Alt+R": ("remove", self.remove_selected),
                },
            )
            + "; Ctrl+Z / Ctrl+Shift+Z on a layer: undo / redo (shared with the buttons)."
        )
        keys.setWordWrap(True)
        lay.addWidget(keys)
        lay.addStretch()

    # ------------------------------------------------------------------ layers

    def event(self, e) -> bool:
        """Closing the dock (napari takes the widget out of its window) removes the band and
        flagged-component layers this widget added: they mean nothing without it."""
        if e.type() == QEvent.Type.ParentChange:
            self._closed = self.parent() is None
            if self._closed:
                self.remove_helper_layers()
        return super().event(e)

    def remove_helper_layers(self) -> None:
        for layer in [
            ly for ly in self.viewer.layers if ly.metadata.get(ROLE_KEY) in (BAND_ROLE, FLAGGED_ROLE)
        ]:
            self.viewer.layers.remove(layer)

    def reset_choices(self, *_args) -> None:
        """Follow the viewer's layers (napari calls this when layers come and go)."""
        self.form.reset_choices()
        pick_default(self.image)
        self.defaults.apply()
        if self.session is not None and self._layers_key() != self._key:
            self.session, self._key = None, None
            self.table.setRowCount(0)
            self.summary.setText("The layers changed: press 'Find implausible annotation'.")
        self._connect_paint()
        self._track_histories()

    def _layers_key(self) -> tuple:
        return tuple(layer_id(c.value) for c in (self.image, self.cavity, self.wall, self.scar))

    def _layer(self, structure: str | None):
        combo = {"cavity": self.cavity, "wall": self.wall, "scar": self.scar}.get(structure or "")
        if combo is None or combo.value is None:
            raise ValueError(f"choose a {structure} layer first")
        return combo.value

    def tag_entry(self, entry: dict) -> None:
        """Mark a provenance entry as made on its structure's layer (an export credits it there)."""
        try:
            layer = self._layer(entry.get("structure"))
        except ValueError:
            return
        entry["layer"] = layer_token(layer.metadata)

    def _arrays(self) -> dict[str, np.ndarray | None]:
        """The chosen layers' arrays (checked to share the cavity's grid); masks are made of them
        in the worker."""
        if self.cavity.value is None:
            raise ValueError("choose a cavity layer: the wall band is measured from the cavity")
        shape = self.cavity.value.data.shape
        out = {}
        for name, combo in (("cavity", self.cavity), ("wall", self.wall), ("scar", self.scar)):
            layer = combo.value
            if layer is not None and layer.data.shape != shape:
                raise ValueError(
                    f"the {name} layer {layer.name!r} has shape {layer.data.shape}, "
                    f"the cavity {shape}: they must share one grid"
                )
            out[name] = None if layer is None else layer.data
        return out

    @reports_errors("Review")
    def find(self, then: Action | None = None) -> None:
        """Compute the band and the implausible components (in a worker) and show them; then
        ``then(session)``, for an edit that needed them."""
        if self.busy:
            raise RuntimeError(BUSY)
        arrays = self._start_session()
        self._analyse(arrays, then)
        if self.image.value is None:
            self.message.setText(
                "No image layer chosen: corrections are recorded in this widget only, not with the case."
            )

    def _start_session(self) -> dict:
        """The layers' arrays, with a session for them (a new one when the layers changed)."""
        arrays = self._arrays()
        grid = layer_volume(self.cavity.value)
        spacing, origin = grid.spacing, grid.origin
        if self.session is None or self._layers_key() != self._key or self.session.spacing != spacing:
            provenance = case_meta(self.image.value)["provenance"] if self.image.value is not None else None
            self.session = ReviewSession(spacing, origin, provenance=provenance)
            self._key = self._layers_key()
        s = self.session
        s.band_spec = BandSpec(self.inner_mm.value, self.outer_mm.value)
        s.wall_max_mm = self.wall_max_mm.value
        return arrays

    def find_now(self) -> None:
        """:meth:`find` on this thread (painting confined to the band needs the band at once)."""
        arrays = self._start_session()
        self._show_analysis(self._analysis(self.session, arrays), self.cavity.value)

    @staticmethod
    def _analysis(session: ReviewSession, arrays: dict):
        masks = {k: None if a is None else to_mask(a) for k, a in arrays.items()}
        session.analyse(masks["cavity"], masks["wall"], masks["scar"])
        return session.band.box, session.band.mask.astype(np.uint8), session.pending_label_crop()

    def _analyse(self, arrays: dict | None = None, then: Action | None = None) -> None:
        """Analyse the labels in a worker; then show the band, the flagged components (each on its
        own box, one per turn of the event loop) and the table. On a scanner's 88x576x576 grid the
        analysis held napari's thread 0.9 s (benchmarks/bench_responsiveness.py)."""
        if self.busy and then is None:  # an undo or redo during an analysis: analyse once more after it
            self._again = True
            return
        arrays = arrays or self._arrays()
        session, like = self.session, self.cavity.value

        def settled() -> None:
            if self._again:  # an undo or redo came during the analysis
                self._again = False
                self._analyse()
            if then is not None:
                then(self._annotated(session))

        def show(result) -> None:  # busy until the last layer is in
            one_per_turn(self, "Review", self._show_steps(result, like), done=settled)

        run_task(self, "Review", lambda: self._analysis(session, arrays), show)

    def _show_analysis(self, result, like) -> None:
        for step in self._show_steps(result, like):
            step()

    def _show_steps(self, result, like) -> list[Callable[[], object]]:
        """The band and the flagged components as layers on their own boxes, then the table."""
        band_box, band, (flagged_box, flagged) = result
        if self._closed:  # closed while the analysis ran: its layers would outlive the widget
            return [self._fill_table]
        return [
            lambda: show_layer(
                self.viewer,
                BAND_ROLE,
                band,
                "labels",
                like,
                at=offset(band_box),
                name=BAND_ROLE,
                opacity=0.25,
                blending="translucent_no_depth",
            ),
            lambda: show_layer(
                self.viewer,
                FLAGGED_ROLE,
                flagged,
                "labels",
                like,
                at=offset(flagged_box),
                name=FLAGGED_ROLE,
                opacity=1.0,
                colormap=FLAGGED_COLORMAP,
            ),
            self._fill_table,
        ]

    def _fill_table(self) -> None:
        rows = self.session.rows() if self.session is not None else []
        self.table.show_rows(rows)
        pending = self.session.pending() if self.session is not None else []
        self.summary.setText(
            f"{len(pending)} flagged component(s), {sum(f.voxels for f in pending)} voxels; "
            f"{len(rows) - len(pending)} kept."
        )

    def selected_ids(self) -> list[int]:
        return self.table.selected_ids()

    def _on_selection(self) -> None:
        ids = self.selected_ids()
        if ids and self.session is not None and self.session.findings is not None:
            self.go_to(self.session.findings.get(ids[-1]))

    def next_finding(self) -> None:
        """Select (and go to) the next flagged component, wrapping around."""
        rows = self.table.rowCount()
        if rows == 0:
            self.message.setText("No flagged component: press 'Find implausible annotation'.")
            return
        current = self.table.selectionModel().selectedRows()
        row = (current[-1].row() + 1) % rows if current else 0
        self.table.clearSelection()
        self.table.selectRow(row)

    def go_to(self, finding: Finding) -> None:
        """Centre the view on a component, step to its slice and zoom so that it shows."""
        z = self.session.origin[0] + finding.z * self.session.spacing[0]
        self.viewer.dims.set_point(self.viewer.dims.ndim - 3, z)
        _, cy, cx = finding.centroid_mm
        camera = getattr(self.viewer, "scene", self.viewer).camera  # napari >= 0.9: viewer.scene
        camera.center = (z, cy, cx)
        extent = max(
            (b1 - b0) * s for (b0, b1), s in zip(finding.bbox[1:], self.session.spacing[1:], strict=True)
        )
        camera.zoom = max(camera.zoom, 300.0 / max(4.0 * extent, 30.0))  # ~300 px for the context
        for layer in self.viewer.layers:
            if layer.metadata.get(ROLE_KEY) == FLAGGED_ROLE:
                layer.selected_label = finding.id

    # ------------------------------------------------------------------ edits

    def _ready(self, action: Action) -> None:
        """``action(session)`` now, or once the analysis it needs is done (started here)."""
        if self.busy:
            raise RuntimeError(BUSY)
        if self.session is None or self.session.findings is None:
            self.find(then=action)
            return
        action(self._annotated(self.session))

    def _annotated(self, session: ReviewSession) -> ReviewSession:
        session.annotator = self.annotator.value or None
        return session

    def _write(self, edit: Edit | None, refresh: bool = True) -> None:
        """Write an edit into its Labels layer (one step of the layer's undo), then refresh."""
        if edit is None:
            self.message.setText("Nothing to change.")
            return
        if edit.structure is not None and edit.voxels:
            self._applying = True
            try:
                write_edit(self._layer(edit.structure), edit, self._histories)
            finally:
                self._applying = False
        self.tag_entry(edit.entry)
        mark_in_progress(self.image.value)
        self.message.setText(f"Did: {edit.entry.get('rule')} ({edit.voxels} voxels).")
        if refresh and self.session.findings is not None:
            self._analyse()

    def _edit(self, what: str, structures: list[str], compute) -> None:
        """Compute edits in a worker, ``compute(session, masks) -> [Edit | None, ...]`` with the
        masks of ``structures``, then write them (each one step of its layer's undo) and analyse
        again. The layers edited are locked meanwhile (napari's ``editable``), so that no brush
        stroke lands between the snapshot and the write. On a scanner's grid an edit held napari's
        thread 0.44 s (its masks and its full-grid diff)."""

        def start(s: ReviewSession) -> None:
            layers = {st: self._layer(st) for st in structures}
            arrays = {st: ly.data for st, ly in layers.items()}
            unlock = lock_layers(layers.values())

            def done(edits: list) -> None:
                unlock()
                edits = [e for e in edits if e is not None]
                if not edits:
                    self.message.setText("Nothing to change.")
                    return
                for edit in edits:
                    self._write(edit, refresh=False)
                self._analyse()

            def work() -> list:
                return compute(s, {st: to_mask(a) for st, a in arrays.items()})

            run_task(self, what, work, done, failed=lambda _m: unlock())

        self._ready(start)

    @reports_errors("Remove components")
    def remove_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            raise ValueError("select the components to remove in the table first")
        structures = sorted({self.session.findings.get(i).structure for i in ids}) if self.session else []

        def compute(s: ReviewSession, masks: dict) -> list:
            by_structure: dict[str, list[int]] = {}
            for i in ids:
                by_structure.setdefault(s.findings.get(i).structure, []).append(i)
            return [s.remove(masks[st], chosen, st) for st, chosen in by_structure.items()]

        self._edit("Remove components", structures, compute)

    @reports_errors("Keep components")
    def keep_selected(self) -> None:
        ids = self.selected_ids()
        self._edit("Keep components", [], lambda s, _masks: [s.keep(ids)])

    @reports_errors("Remove outside band")
    def remove_outside_band(self) -> None:
        min_size = self.min_size.value
        self._edit(
            "Remove outside band",
            ["scar"],
            lambda s, masks: [s.remove_outside_band(masks["scar"], min_size, "scar")],
        )

    @reports_errors("Correction")
    def correct(self, rule: str) -> None:
        """Run 'fill holes', 'keep largest' or 'smooth' on the chosen structure."""
        if rule not in ("fill holes", "keep largest", "smooth"):
            raise ValueError(f"unknown correction {rule!r}")
        structure = self.structure.value
        fill_mode, radius_mm, method = self.fill_mode.value, self.radius_mm.value, self.method.value

        def compute(s: ReviewSession, masks: dict) -> list:
            mask = masks[structure]
            if rule == "fill holes":
                return [s.fill_holes(mask, structure, fill_mode)]
            if rule == "keep largest":
                return [s.keep_largest(mask, structure)]
            return [s.smooth(mask, structure, radius_mm, method)]

        self._edit("Correction", [structure], compute)
