"""Measurements of one case for display (no napari, no Qt): quantities, thickness map, agreement.

:func:`measure` runs :func:`.quantify.quantify` with a wall-thickness map it keeps (to show
as an image) and, given a reference mask, :func:`napari_c2w.metrics.compare_masks`; a
:class:`Measurement` formats them as (name, value) rows for a table.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ..masks.band import INNER_MM, OUTER_MM
from ..metrics import compare_masks
from .quantify import SMOOTH_MM, Quantities, quantify, wall_thickness


@dataclasses.dataclass
class Measurement:
    """What :func:`measure` found.

    Attributes:
        quantities: volumes, thickness summary, scar burden.
        thickness: wall-thickness map (mm, float32, full grid), or None without wall and cavity.
        agreement: Dice, surface Dice, HD95 and ASSD against the reference, or None.
        compared: the structure compared with the reference.
        tolerance_mm: the surface Dice tolerance.
    """

    quantities: Quantities
    thickness: np.ndarray | None = None
    agreement: dict | None = None
    compared: str | None = None
    tolerance_mm: float = 1.0

    def rows(self) -> list[tuple[str, str]]:
        """(quantity, formatted value) rows, e.g. ``("cavity volume", "95.31 mL")``."""
        q = self.quantities

        def num(v: float, unit: str, fmt: str = ".2f") -> str:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return "n/a"
            return f"{v:{fmt}} {unit}".strip()

        rows = [("cavity volume", num(q.cavity_ml, "mL")), ("wall volume", num(q.wall_ml, "mL"))]
        rows += [(f"wall thickness {k}", num(q.thickness[k], "mm")) for k in ("mean", "median", "p5", "p95")]
        rows += [
            ("scar volume", num(q.scar_ml, "mL")),
            (f"scar burden (% of {q.burden_basis})", num(q.scar_burden_pct, "%", ".1f")),
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
    reference: np.ndarray | None = None,
    compared: str | None = None,
    tolerance_mm: float = 1.0,
    smooth_mm: float = SMOOTH_MM,
    inner_mm: float = INNER_MM,
    outer_mm: float = OUTER_MM,
) -> Measurement:
    """Quantify a case, keep its thickness map and compare one structure with a reference.

    Args:
        spacing: voxel size in mm (z, y, x).
        cavity, wall, scar: the masks (None when absent).
        reference: a reference mask for ``compared``.
        compared: which of ``"cavity"``, ``"wall"``, ``"scar"`` to compare with ``reference``.
        tolerance_mm: surface Dice tolerance.
        smooth_mm: thickness averaging (see :func:`.quantify.wall_thickness`).
        inner_mm, outer_mm: the wall band (for scar outside it and burden without wall).

    Raises:
        ValueError: no mask at all, or a reference without the mask it is compared with.
    """
    thickness = None
    if cavity is not None and wall is not None and np.any(cavity) and np.any(wall):
        thickness = wall_thickness(cavity, wall, spacing, smooth_mm)
    q = quantify(
        cavity,
        spacing,
        wall,
        scar,
        inner_mm=inner_mm,
        outer_mm=outer_mm,
        smooth_mm=smooth_mm,
        thickness=thickness,
    )
    agreement = None
    if reference is not None:
        masks = {"cavity": cavity, "wall": wall, "scar": scar}
        if masks.get(compared) is None:
            raise ValueError(f"there is no {compared} mask to compare with the reference")
        agreement = compare_masks(masks[compared], reference, spacing, tolerance_mm)
    return Measurement(q, thickness, agreement, compared if reference is not None else None, tolerance_mm)
