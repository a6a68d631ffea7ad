"""The "Atrial surface" widget: intensity scar, the endocardial surface and its regions.

A thin view of :func:`napari_c2w.surface.build_surface` and
:func:`napari_c2w.quantify.method_scar`, run in a thread worker: adds a Surface layer (in
the image's world coordinates, coloured by a per-vertex array with a colour bar), a Labels
layer of the intensity scar, and the per-region table. The intensity methods, their parameters,
colours and table columns come from :data:`napari_c2w.quantify.METHODS`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container
from napari.layers import Image, Labels
from napari.utils.colormaps import ensure_colormap
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QPushButton, QTableWidget, QTableWidgetItem, QWidget

from .._session import first_use
from ..labels import napari_colormap, to_layer, to_mask
from ..layers import AXIS_LABELS, UNITS, layer_volume
from ..quantify import METHODS, MethodScar, method_scar
from ..surface import SurfaceMap, build_surface
from ._common import (
    ROLE_KEY,
    StructureDefaults,
    layer_combo,
    one_per_turn,
    pick_default,
    placed_like,
    reports_errors,
    run_task,
    scroll_layout,
)
from ._key import ColourKey
from ._scar import method_combo, param_boxes, param_values

SURFACE_ROLE = "endocardial surface"
SCAR_ROLE = "intensity scar"


def colour_by() -> dict[str, tuple]:
    """Per-vertex array -> (label, colormap, fixed contrast limits or None)."""
    out = {
        "max_iir": ("maximum IIR", "turbo", (0.5, 1.6)),
        "network_scar": ("network scar", "magma", (0.0, 1.0)),
        "thickness_mm": ("wall thickness (mm)", "viridis", None),
        "region": ("region", "regions", (0.5, 9.5)),
    }
    for m in METHODS.values():
        if m.source == "image":
            out[f"scar_{m.name}"] = (f"{m.label} scar", "magma", (0.0, 1.0))
    return out


def table_columns() -> tuple[tuple[str, str, str], ...]:
    """The region table's (header, key, format) columns: one burden column per method."""
    burdens = tuple((f"{m.label} %", f"{m.name}_burden_pct", "{:.1f}") for m in METHODS.values())
    return (
        ("region", "region", "{}"),
        ("area mm²", "area_mm2", "{:.0f}"),
        *burdens,
        ("thickness mm", "thickness_mean_mm", "{:.2f}"),
    )


#: Distinct colours of regions 1-9 (tab10 without grey).
REGION_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
)  # fmt: skip


def _colormap(name: str):
    """A napari colormap by name; ``"regions"`` is a stepwise map of :data:`REGION_COLOURS`."""
    if name != "regions":
        return name
    from napari.utils.colormaps import Colormap
    from napari.utils.colormaps.standardize_color import transform_color

    colours = transform_color(list(REGION_COLOURS))
    return Colormap(
        colours, controls=np.linspace(0.0, 1.0, len(colours) + 1), interpolation="zero", name="c2w regions"
    )


def region_key() -> str:
    """The regions' names in their colours (rich text for a QLabel)."""
    from ..surface.regions import REGIONS

    return "Regions: " + ", ".join(
        f'<span style="color:{REGION_COLOURS[i - 1]}">&#9632;</span> {i} {name}'
        for i, name in REGIONS.items()
    )


@dataclasses.dataclass
class SurfaceResult:
    surface: SurfaceMap
    scar: MethodScar
    #: the intensity scar as a ``scar`` Labels array (made in the worker, not on napari's thread)
    scar_labels: np.ndarray


def compute(image, cavity, spacing, origin, direction, wall, scar, method, params) -> SurfaceResult:  # noqa: PLR0917
    """The surface map and the voxel intensity scar (one blood pool for both)."""
    s = method_scar(method, image, cavity, spacing, wall, params=params)
    surf = build_surface(
        image, cavity, spacing, origin, direction, wall=wall, scar=scar, params=params, blood=s.blood
    )
    return SurfaceResult(surf, s, to_layer(s.mask, "scar"))


class SurfaceWidget(QWidget):
    """Build the atrial surface of the chosen image and cavity, with wall and network scar if given."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        first_use(napari_viewer)
        v = self.viewer = napari_viewer
        self.last_error: str | None = None
        self.busy = False
        self.result: SurfaceResult | None = None
        self.image = layer_combo(v, Image, "image")
        self.cavity = layer_combo(v, Labels, "cavity")
        self.wall = layer_combo(v, Labels, "wall", nullable=True)
        self.scar = layer_combo(v, Labels, "network scar", nullable=True)
        self.method = method_combo("intensity scar", source="image")
        self.params = param_boxes(source="image")
        self.colour_by = ComboBox(label="colour by", choices=[(c[0], k) for k, c in colour_by().items()])
        self.show_scar = CheckBox(text="show the intensity scar labels", value=True)
        self.colour_by.changed.connect(lambda *_: self._colour())
        self.form = Container(
            widgets=[
                self.image,
                self.cavity,
                self.wall,
                self.scar,
                self.method,
                *self.params.values(),
                self.colour_by,
                self.show_scar,
            ]
        )
        self.columns = table_columns()
        self.table = QTableWidget(0, len(self.columns))
        self.table.setHorizontalHeaderLabels([t[0] for t in self.columns])
        self.table.verticalHeader().setVisible(False)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.defaults = StructureDefaults({"cavity": self.cavity, "wall": self.wall, "scar": self.scar})
        self.origin = QLabel("")  # which labels the surface is built from
        self.origin.setWordWrap(True)
        for combo in (self.cavity, self.wall, self.scar):
            combo.changed.connect(lambda *_: self.origin.setText(self.defaults.describe()))
        self.key = QLabel("")  # the region colours, when the surface is coloured by region
        self.key.setWordWrap(True)
        self.key.setTextFormat(Qt.TextFormat.RichText)
        button = QPushButton("Build surface")
        button.clicked.connect(lambda *_: self.run())
        lay = scroll_layout(self)
        lay.addWidget(self.form.native)
        lay.addWidget(self.origin)
        lay.addWidget(button)
        lay.addWidget(self.key)
        self.colours = ColourKey("")  # the colour key of the other arrays
        lay.addWidget(self.colours)
        lay.addWidget(self.table)
        lay.addWidget(self.message)
        self.reset_choices()

    def reset_choices(self, *_args) -> None:
        self.form.reset_choices()
        pick_default(self.image)
        self.defaults.apply()  # one set: corrections first, never a reference mixed with a prediction
        pick_default(self.cavity, "cavity")
        self.origin.setText(self.defaults.describe())

    @reports_errors("Surface")
    def run(self) -> None:
        """Build in a worker thread; the layers and the table follow when it is done."""
        img, cav = self.image.value, self.cavity.value
        if img is None or cav is None:
            raise ValueError("choose an image layer and a cavity labels layer")
        volume = layer_volume(img)
        for ly in (cav, self.wall.value, self.scar.value):
            if ly is not None and ly.data.shape != img.data.shape:
                raise ValueError(
                    f"the layer {ly.name!r} has shape {ly.data.shape}, the image {img.data.shape}"
                )
        # the layers' arrays: their masks are made in the worker (0.07 s each on a scanner's grid)
        arrays = [None if ly is None else ly.data for ly in (cav, self.wall.value, self.scar.value)]
        method, params = self.method.value, param_values(self.params)

        def work() -> SurfaceResult:
            cavity, wall, scar = (None if a is None else to_mask(a) for a in arrays)
            grid = (volume.spacing, volume.origin, volume.direction)
            return compute(volume.array, cavity, *grid, wall, scar, method, params)

        self.message.setText("Building the surface...")
        run_task(self, "Surface", work, lambda r: self._show(r, img))

    def _show(self, r: SurfaceResult, like) -> None:
        """The scar layer, the coloured surface and the table, one per turn of the event loop
        (each new layer holds napari's thread 0.1-0.2 s)."""
        self.result = r
        steps = [lambda: self._scar_layer(r, like)] if self.show_scar.value else []
        one_per_turn(self, "Surface", [*steps, self._colour, lambda: self._fill(r)])  # busy until done

    def _fill(self, r: SurfaceResult) -> None:
        rows = r.surface.region_table()
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, (_, key, fmt) in enumerate(self.columns):
                value = row[key]
                text = "n/a" if isinstance(value, float) and not np.isfinite(value) else fmt.format(value)
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        b = r.surface.burdens()
        surface = ", ".join(
            f"{m.label} {b[n]:.1f} %"
            if np.isfinite(b[n])
            else f"{m.label} n/a" + (" (no scar layer)" if m.source == "network" else "")
            for n, m in METHODS.items()
        )
        self.message.setText(
            f"blood pool {r.scar.blood.mean:.1f} ± {r.scar.blood.sd:.1f}; voxel {r.scar.method} burden "
            f"{r.scar.burden_pct:.1f} % of the {r.scar.basis}; surface {surface}"
        )

    def _scar_layer(self, r: SurfaceResult, like) -> None:
        s, data = r.scar, r.scar_labels
        for layer in self.viewer.layers:
            if layer.metadata.get(ROLE_KEY) == SCAR_ROLE:
                layer.data = data
                return
        self.viewer.add_labels(
            data,
            name=f"{SCAR_ROLE} ({s.method})",
            **placed_like(like),
            colormap=napari_colormap("scar"),
            opacity=0.7,
            metadata={ROLE_KEY: SCAR_ROLE},
        )

    def _colour(self) -> None:
        """Show the surface coloured by the chosen array (the surface lies in world mm: no scale)."""
        if self.result is None:
            return
        surf = self.result.surface
        key = self.colour_by.value if self.colour_by.value in surf.arrays else "max_iir"
        values = np.nan_to_num(np.asarray(surf.arrays[key], dtype=np.float32), nan=0.0)
        label, name, limits = colour_by()[key]
        cmap = _colormap(name)
        if limits is None:
            top = float(np.nanpercentile(values[values > 0], 95)) if (values > 0).any() else 1.0
            limits = (0.0, max(top, 1e-3))
        data = (surf.mesh.vertices, surf.mesh.faces, values)
        layer = next((ly for ly in self.viewer.layers if ly.metadata.get(ROLE_KEY) == SURFACE_ROLE), None)
        if layer is None:
            layer = self.viewer.add_surface(
                data,
                name=SURFACE_ROLE,
                colormap=cmap,
                metadata={ROLE_KEY: SURFACE_ROLE},
                shading="smooth",
                units=UNITS,  # the mesh lies in world mm
                axis_labels=AXIS_LABELS,
            )
        else:
            layer.data = data
            layer.colormap = cmap
        layer.contrast_limits = limits
        # regions are categories, named in the region key; the others' colour key in the dock
        self.key.setText(region_key() if key == "region" else "")
        if key == "region":
            self.colours.clear()
        else:
            unit = "mm" if key.startswith("thickness") else ""
            low, high = float(limits[0]), float(limits[1])
            self.colours.show_range(ensure_colormap(cmap), low, high, unit, title=label)
