"""Measurements of one case for display (no napari, no Qt): quantities, thickness map, agreement.

:func:`measure` runs :func:`napari_c2w.quantify.quantify` with a wall-thickness map it keeps (to
show as an image), on the scar of the chosen scar method (:data:`napari_c2w.quantify.METHODS`),
and, given a reference mask, :func:`napari_c2w.metrics.compare_masks`; a :class:`Measurement`
formats them as (name, value) rows for a table.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..masks.geometry import Box, bbox, grow, margin_voxels, union
from ..metrics import compare_masks
from ..quantify import SMOOTH_MM, BandSpec, Quantities, method_scar, quantify, scar_method, wall_thickness


@dataclasses.dataclass
class Measurement:
    """What :func:`measure` found.

    Attributes:
        quantities: volumes, thickness summary, scar burden.
        thickness_map: the wall-thickness map (mm, float32) on :attr:`box`, or None without wall
            and cavity; :attr:`thickness` places it on the full grid.
        agreement: Dice, surface Dice, HD95 and ASSD against the reference, or None.
        compared: the structure compared with the reference.
        tolerance_mm: the surface Dice tolerance.
        method: the scar method measured (a name in :data:`napari_c2w.quantify.METHODS`).
        scar: that method's scar mask, or None for the network's (the scar label itself).
        box: the part of the grid the labels and their wall band lie in (where the thickness map
            and the method's scar can be non-zero), or None when every label is empty.
        shape: the full grid's shape.
    """

    quantities: Quantities
    thickness_map: np.ndarray | None = None
    agreement: dict | None = None
    compared: str | None = None
    tolerance_mm: float = 1.0
    method: str = "network"
    scar: np.ndarray | None = None
    box: Box | None = None
    shape: tuple[int, ...] = ()

    @property
    def thickness(self) -> np.ndarray | None:
        """The wall-thickness map on the full grid (zeros outside :attr:`box`), or None."""
        return _placed(self.thickness_map, self.box, self.shape)

    def rows(self) -> list[tuple[str, str]]:
        """(quantity, formatted value) rows, e.g. ``("cavity volume", "95.31 mL")``."""
        q = self.quantities

        def num(v: float, unit: str, fmt: str = ".2f") -> str:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return "n/a"
            return f"{v:{fmt}} {unit}".strip()

        rows = [("cavity volume", num(q.cavity_ml, "mL")), ("wall volume", num(q.wall_ml, "mL"))]
        rows += [(f"wall thickness {k}", num(q.thickness[k], "mm")) for k in ("mean", "median", "p5", "p95")]
        m = scar_method(self.method)
        scar = "scar" if m.source == "network" else f"{m.label} scar"
        rows += [
            (f"{scar} volume", num(q.scar_ml, "mL")),
            (f"{scar} burden (% of {q.burden_basis})", num(q.scar_burden_pct, "%", ".1f")),
            ("implausible scar voxels", str(q.implausible_scar_voxels)),
        ]
        if self.agreement is not None:
            a, s = self.agreement, self.compared
            rows += [
                (f"{s} Dice", num(a["dice"], "", ".3f")),
                (f"{s} surface Dice {self.tolerance_mm:g} mm", num(a["surface_dice"], "", ".3f")),
                (f"{s} HD95", num(a["hd95_mm"], "mm")),
                (f"{s} ASSD", num(a["assd_mm"], "mm")),
            ]
            if a.get("note"):
                rows.append(("note", a["note"]))
        rows += [("note", n) for n in q.notes]
        return rows


def measure(
    spacing: Sequence[float],
    cavity: np.ndarray | None = None,
    wall: np.ndarray | None = None,
    scar: np.ndarray | None = None,
    *,
    image: np.ndarray | None = None,
    method: str = "network",
    params: Mapping[str, float] | None = None,
    reference: np.ndarray | None = None,
    compared: str | None = None,
    tolerance_mm: float = 1.0,
    smooth_mm: float = SMOOTH_MM,
    band_spec: BandSpec | None = None,
) -> Measurement:
    """Quantify a case, keep its thickness map and compare one structure with a reference.

    Args:
        spacing: voxel size in mm (z, y, x).
        cavity, wall, scar: the masks (None when absent).
        image: the LGE volume, for the image scar methods.
        method: the scar method whose scar is measured (``"network"``: the ``scar`` mask).
        params: the scar method's parameters (defaults for those missing).
        reference: a reference mask for ``compared``.
        compared: which of ``"cavity"``, ``"wall"``, ``"scar"`` to compare with ``reference``.
        tolerance_mm: surface Dice tolerance.
        smooth_mm: thickness averaging (see :func:`napari_c2w.quantify.wall_thickness`).
        band_spec: the wall band (scar outside it, burden without wall); default :class:`BandSpec`.

    Raises:
        ValueError: no mask at all, a reference without the mask it is compared with, or an
            image scar method without the image or the cavity.
    """
    band_spec = band_spec or BandSpec()
    masks = {"cavity": cavity, "wall": wall, "scar": scar}
    arrays = {**masks, "image": image, "reference": reference}
    given = {k: np.shape(a) for k, a in arrays.items() if a is not None}
    if len(set(given.values())) > 1:
        raise ValueError(f"the volumes must share one grid; their shapes: {given}")
    shape = next(iter(given.values()), ())
    box = _working_box(spacing, band_spec, shape, *masks.values(), reference)
    if box is not None:  # every computation below reaches at most the margin beyond the labels
        cavity, wall, scar, image, reference = (
            None if a is None else np.asarray(a[box]) for a in (cavity, wall, scar, image, reference)
        )
    thickness = None
    if cavity is not None and wall is not None and np.any(cavity) and np.any(wall):
        thickness = wall_thickness(cavity, wall, spacing, smooth_mm)
    by_method = None
    if scar_method(method).source != "network":
        by_method = method_scar(method, image, cavity, spacing, wall, band_spec=band_spec, params=params).mask
    q = quantify(
        cavity,
        spacing,
        wall,
        scar if by_method is None else by_method,
        band_spec=band_spec,
        smooth_mm=smooth_mm,
        thickness=thickness,
    )
    agreement = None
    if reference is not None:
        masks = {"cavity": cavity, "wall": wall, "scar": scar}
        if masks.get(compared) is None:
            raise ValueError(f"there is no {compared} mask to compare with the reference")
        agreement = compare_masks(masks[compared], reference, spacing, tolerance_mm)
    compared = compared if reference is not None else None
    by_method = _placed(by_method, box, shape)
    return Measurement(q, thickness, agreement, compared, tolerance_mm, method, by_method, box, shape)


def _working_box(spacing, band_spec: BandSpec, shape, *masks):
    """The box every part of :func:`measure` works in: all labels, grown by the wall band's reach
    and two voxels (the thickness map's, the scar region's and the surface metrics' own boxes lie
    inside it, so the numbers equal the full grid's); None when every label is empty.

    On a scanner's full grid the labels fill a few percent of it: working on the box is what keeps
    the measure short enough not to stall napari's viewer while it runs beside it
    (benchmarks/bench_responsiveness.py).
    """
    box = union(*(bbox(np.asarray(m)) for m in masks if m is not None))
    reach = max(band_spec.inner_mm, band_spec.outer_mm)
    return grow(box, [m + 2 for m in margin_voxels(reach, spacing)], shape)


def _placed(crop: np.ndarray | None, box, shape) -> np.ndarray | None:
    """``crop`` back on the full grid (zeros outside ``box``)."""
    if crop is None or box is None:
        return crop
    out = np.zeros(shape, dtype=crop.dtype)
    out[box] = crop
    return out
