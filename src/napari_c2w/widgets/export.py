"""The "Export case" widget: write the reviewed case into a dataset folder's case store, or
in another tool's format (:data:`napari_c2w.io.export.FORMATS`: NIfTI/NRRD label maps, a 3D
Slicer segmentation, an nnU-Net raw dataset).

The store's no-loss rules hold: a new store is simply written; into an existing one,
labels that differ are refused unless "replace changed labels" is ticked, and then the
stored labels are kept as versions inside the store. Errors appear as notifications.
"""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, LineEdit
from napari.layers import Image, Labels
from qtpy.QtWidgets import QLabel, QPushButton, QWidget

from .._session import first_use
from ..errors import StoreError
from ..io.case import REVIEW_STATUSES, provenance_entry
from ..io.export import FORMATS, export_cases
from ..io.store import store_path
from ..io.storewrite import write_case_store
from ..layers import META_KEY, case_from_layers, layer_tuple, record_store
from ._common import (
    StructureDefaults,
    case_meta,
    default_annotator,
    layer_combo,
    lock_layers,
    notify_info,
    pick_default,
    reports_errors,
    run_task,
    scroll_layout,
)

STORE = "case store (OME-Zarr)"


class ExportWidget(QWidget):
    """Save an image layer with its cavity/wall/scar layers, provenance and review status."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        first_use(napari_viewer)
        v = self.viewer = napari_viewer
        self.last_error: str | None = None
        self.busy = False
        self.written: Path | None = None
        self.image = layer_combo(v, Image, "image")
        self.cavity = layer_combo(v, Labels, "cavity", nullable=True)
        self.wall = layer_combo(v, Labels, "wall", nullable=True)
        self.scar = layer_combo(v, Labels, "scar", nullable=True)
        self.dataset = FileEdit(label="dataset folder", mode="d")
        self.format = ComboBox(label="format", choices=[STORE, *FORMATS], value=STORE)
        self.case_id = LineEdit(label="case id")
        self.status = ComboBox(label="review status", choices=REVIEW_STATUSES, value="unreviewed")
        self.annotator = LineEdit(label="annotator", value=default_annotator())
        self.replace = CheckBox(
            text="replace changed labels (the stored ones are kept as versions)", value=False
        )
        self.image.changed.connect(lambda *_: self._from_image())
        self.defaults = StructureDefaults({"cavity": self.cavity, "wall": self.wall, "scar": self.scar})
        self.origin = QLabel("")
        self.origin.setWordWrap(True)
        for combo in (self.cavity, self.wall, self.scar):
            combo.changed.connect(lambda *_: self.origin.setText(self.defaults.describe()))
        self.form = Container(
            widgets=[
                self.image,
                self.cavity,
                self.wall,
                self.scar,
                self.dataset,
                self.format,
                self.case_id,
                self.status,
                self.annotator,
                self.replace,
            ]
        )
        self.message = QLabel("")
        self.message.setWordWrap(True)
        button = QPushButton("Export")
        button.clicked.connect(lambda *_: self.export())
        lay = scroll_layout(self)
        lay.addWidget(self.form.native)
        lay.addWidget(self.origin)
        lay.addWidget(button)
        lay.addWidget(self.message)
        lay.addStretch()
        self.reset_choices()

    def reset_choices(self, *_args) -> None:
        self.form.reset_choices()
        pick_default(self.image)
        self.defaults.apply()
        self.origin.setText(self.defaults.describe())
        self._from_image()

    def _from_image(self) -> None:
        """Fill the case id and status from the image layer's case metadata."""
        layer = self.image.value
        if layer is None:
            return
        meta = layer.metadata.get(META_KEY, {})
        self.case_id.value = meta.get("case_id") or layer.name
        if meta.get("status") in REVIEW_STATUSES:
            self.status.value = meta["status"]

    @reports_errors("Export case")
    def export(self) -> None:
        """Write the case store ``<dataset>/<case id>.ome.zarr``, or the chosen format's files
        into the dataset folder (in a worker thread).

        The case is built from the layers in the worker too, the chosen label layers locked
        meanwhile: building it on a scanner's grid held napari's thread 0.4-0.5 s."""
        image, build, chosen = self._case()
        unlock = lock_layers(chosen)

        def failed(message: str) -> None:
            unlock()
            self.message.setText(message)

        if self.format.value == STORE:
            self._export_store(image, build, chosen, unlock, failed)
        else:
            self._export_files(build, self.format.value, unlock, failed)

    def _case(self):
        """The image layer, a function building the case from the chosen layers, and those label
        layers (clear errors, at once, for what is missing)."""
        image = self.image.value
        if image is None:
            raise ValueError("choose the image layer of the case")
        if not str(self.dataset.value) or str(self.dataset.value) == ".":
            raise ValueError("choose the dataset folder to export into")
        case_id = self.case_id.value.strip()
        if not case_id or any(c in case_id for c in "/\\"):
            raise ValueError(f"give a case id without slashes (got {case_id!r})")
        chosen, labels = [], []
        for combo in (self.cavity, self.wall, self.scar):  # named by the combo, whatever the layer's name
            if combo.value is not None:
                data, meta = layer_tuple(combo.value)
                chosen.append(combo.value)
                labels.append((data, {**meta, "name": combo.label}))
        status = self.status.value

        def build():
            case = case_from_layers(image, labels)
            case.case_id, case.status = case_id, status
            return case

        return image, build, chosen

    def _export_files(self, build, fmt: str, unlock, failed) -> None:
        """Another tool's files for this case in the dataset folder; the case store is untouched."""
        out = Path(self.dataset.value)
        replace = self.replace.value
        self.message.setText(f"Writing {fmt} into {out}...")

        def done(result) -> None:
            unlock()
            self.written, case = result
            self.message.setText(f"Saved {case.case_id} as {fmt} in {out}.")
            notify_info(f"Exported {case.case_id} as {fmt} to {out}")

        def work():
            case = build()
            export_cases([case], out, fmt, overwrite=replace)
            return out, case

        run_task(self, "Export case", work, done, failed)

    def _export_store(self, image, build, chosen, unlock, failed) -> None:
        path = store_path(Path(self.dataset.value), self.case_id.value.strip())
        annotator, status, replace = self.annotator.value or None, self.status.value, self.replace.value
        self.message.setText(f"Writing {path}...")

        def done(result) -> None:
            unlock()
            written, case = result
            self.written = written
            case_meta(image)["status"] = case.status
            # the layers now hold this store's revision: exporting them again is checked against it
            record_store([image, *chosen], written, case.revision)
            self.message.setText(f"Saved {written}.")
            notify_info(f"Exported {case.case_id} ({case.status}) to {written}")

        def work():
            case = build()
            entry = provenance_entry("napari export", by=annotator, status=status, structures=case.structures)
            try:
                return write_case_store(case, path, overwrite=replace, entry=entry), case
            except StoreError as err:
                if replace or "refusing to replace" not in str(err):
                    raise
                raise StoreError(
                    f"{err} Here: tick 'replace changed labels' to keep the stored labels "
                    "as versions and write the new ones, or export under another case id."
                ) from None

        run_task(self, "Export case", work, done, failed)
