"""Report columns of the scar methods and of the surface regions (no napari, no Qt).

:func:`method_row` gives, for one case, the scar burden of each chosen method of
:data:`napari_c2w.quantify.METHODS` (:func:`napari_c2w.quantify.method_scar`) over the same scar
region (the wall label, or the outer wall band without one), the blood-pool statistics, and for
each pair of methods their Dice and burden difference. :func:`region_row` flattens a
:class:`.build.SurfaceMap`'s surface burdens and per-region table into columns.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from ..quantify import METHODS, BandSpec, blood_pool, check_methods, method_scar, scar_agreement
from ..quantify.blood import ERODE_MM
from .build import SurfaceMap
from .regions import REGIONS


def method_columns(methods: Sequence[str]) -> list[str]:
    """CSV columns of :func:`method_row`, in order."""
    methods = check_methods(methods)
    cols = [f"scar_burden_{m}_pct" for m in methods] + ["scar_region", "blood_pool_mean", "blood_pool_sd"]
    for a, b in itertools.combinations(methods, 2):
        cols += [f"dice_{a}_{b}", f"burden_diff_{a}_{b}_pp"]
    return cols


def method_row(
    case,
    methods: Sequence[str],
    *,
    params: Mapping[str, float] | None = None,
    erode_mm: float = ERODE_MM,
    band_spec: BandSpec | None = None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Burden per method, blood pool and pairwise agreement of one case.

    Args:
        case: the case (its image and labels).
        methods: names in :data:`napari_c2w.quantify.METHODS`.
        params: the methods' parameters (defaults for those missing).
        erode_mm: cavity erosion giving the blood pool.
        band_spec: the band's reach (default :class:`napari_c2w.quantify.BandSpec`).

    Returns:
        (row, masks): the columns of :func:`method_columns` and each method's scar mask
        (for a labels layer); NaN cells with a note in ``row["notes"]`` when a method
        cannot run (no cavity for the image methods, no scar label for the network's).
    """
    methods = check_methods(methods)
    row: dict = {c: math.nan for c in method_columns(methods)}
    notes: list[str] = []
    labels, image = case.labels, case.image
    cavity = labels.get("cavity")
    has_cavity = cavity is not None and np.any(cavity)
    blood = None
    if has_cavity and any(METHODS[m].source == "image" for m in methods):
        blood = blood_pool(image.array, cavity, image.spacing, erode_mm)
        row["blood_pool_mean"], row["blood_pool_sd"] = blood.mean, blood.sd
    masks: dict[str, np.ndarray] = {}
    region = None
    for m in methods:
        if METHODS[m].source == "image" and not has_cavity:
            _note(notes, "intensity scar needs a cavity label")
            continue
        if METHODS[m].source == "network" and "scar" not in labels:
            _note(notes, f"no scar label for the {m} method")
            continue
        s = method_scar(
            m,
            image.array,
            cavity,
            image.spacing,
            labels.get("wall"),
            scar=labels.get("scar"),
            band_spec=band_spec,
            params=params,
            blood=blood,
        )
        masks[m], region, row["scar_region"] = s.mask, s.region, s.basis
        row[f"scar_burden_{m}_pct"] = s.burden_pct
    for a, b in itertools.combinations(methods, 2):
        if a in masks and b in masks:
            agree = scar_agreement(masks[a], masks[b], region)
            row[f"dice_{a}_{b}"], row[f"burden_diff_{a}_{b}_pp"] = agree["dice"], agree["burden_diff_pp"]
    row["notes"] = "; ".join(notes)
    return row, masks


def _note(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def region_columns() -> list[str]:
    """CSV columns of :func:`region_row`."""
    cols = [f"surface_{m}_burden_pct" for m in METHODS]
    for name in REGIONS.values():
        cols += [f"{_slug(name)}_{m}_pct" for m in METHODS] + [f"{_slug(name)}_thickness_mm"]
    return cols


def region_row(surface: SurfaceMap) -> dict:
    """Surface burden of each method (% of area) and per-region burden and mean thickness."""
    row = {f"surface_{m}_burden_pct": v for m, v in surface.burdens().items()}
    for r in surface.region_table():
        s = _slug(r["region"])
        for m in METHODS:
            row[f"{s}_{m}_pct"] = r[f"{m}_burden_pct"]
        row[f"{s}_thickness_mm"] = r["thickness_mean_mm"]
    return row
