"""Report columns of the scar methods and of the surface regions (no napari, no Qt).

:func:`method_row` gives, for one case, the scar burden of each chosen method
(``network``: the case's scar label; ``iir`` / ``sd``: :func:`.scar_intensity.intensity_scar`)
over the same region (the wall label, or the outer wall band without one), the blood-pool
statistics, and for each pair of methods their Dice and burden difference. :func:`region_row`
flattens a :class:`.build.SurfaceMap`'s surface burdens and per-region table into columns.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

import numpy as np

from .build import SurfaceMap
from .regions import REGIONS
from .scar_intensity import ERODE_MM, IIR_FIBROSIS, METHODS, SD_K, blood_pool, intensity_scar, scar_agreement
from .scar_intensity import burden_pct as _burden


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """``methods`` without repeats, each checked against :data:`.scar_intensity.METHODS`."""
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"unknown scar method(s) {', '.join(bad)}; choose from {', '.join(METHODS)}")
    return tuple(dict.fromkeys(methods))


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
    iir: float = IIR_FIBROSIS,
    sd_k: float = SD_K,
    erode_mm: float = ERODE_MM,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Burden per method, blood pool and pairwise agreement of one case.

    Returns:
        (row, masks): the columns of :func:`method_columns` and each method's scar mask
        (for a labels layer); NaN cells with a note in ``row["notes"]`` when a method
        cannot run (no cavity for the intensity methods, no scar label for the network).
    """
    methods = check_methods(methods)
    row: dict = {c: math.nan for c in method_columns(methods)}
    notes: list[str] = []
    intensity = [m for m in methods if m != "network"]
    masks, region = _intensity_masks(case, intensity, row, notes, iir=iir, sd_k=sd_k, erode_mm=erode_mm)
    if "network" in methods:
        region = _network_mask(case, masks, region, row, notes)
    for m, mask in masks.items():
        row[f"scar_burden_{m}_pct"] = _burden(mask, region)
    for a, b in itertools.combinations(methods, 2):
        if a in masks and b in masks:
            agree = scar_agreement(masks[a], masks[b], region)
            row[f"dice_{a}_{b}"], row[f"burden_diff_{a}_{b}_pp"] = agree["dice"], agree["burden_diff_pp"]
    row["notes"] = "; ".join(notes)
    return row, masks


def _intensity_masks(
    case, methods: Sequence[str], row: dict, notes: list[str], *, iir: float, sd_k: float, erode_mm: float
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The intensity methods' scar masks and their scar region; fills the blood-pool cells."""
    cavity, image = case.labels.get("cavity"), case.image
    masks: dict[str, np.ndarray] = {}
    region = None
    if not methods:
        return masks, region
    if cavity is None or not np.any(cavity):
        notes.append("intensity scar needs a cavity label")
        return masks, region
    blood = blood_pool(image.array, cavity, image.spacing, erode_mm)
    row["blood_pool_mean"], row["blood_pool_sd"] = blood.mean, blood.sd
    for m in methods:
        s = intensity_scar(
            image.array,
            cavity,
            image.spacing,
            case.labels.get("wall"),
            method=m,
            iir=iir,
            sd_k=sd_k,
            blood=blood,
        )
        masks[m], region = s.mask, s.region
        row["scar_region"] = s.region_basis
    return masks, region


def _network_mask(case, masks: dict, region, row: dict, notes: list[str]):
    """Add the scar label as the network method's mask; returns the scar region (the wall, or the
    band without a wall) when the intensity methods gave none."""
    labels, image = case.labels, case.image
    if "scar" not in labels:
        notes.append("no scar label for the network method")
        return region
    masks["network"] = labels["scar"] != 0
    if region is not None:
        return region
    cavity, wall = labels.get("cavity"), labels.get("wall")
    cav = np.zeros(image.shape, bool) if cavity is None else cavity != 0
    if wall is not None:
        region, row["scar_region"] = (wall != 0) & ~cav, "wall"
        return region
    from .scar_intensity import scar_region

    region, row["scar_region"] = scar_region(cav, image.spacing, None)
    return region


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
