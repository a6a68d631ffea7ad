"""Annotation review (no napari, no Qt): the wall band, implausible annotation, corrections,
quantification and batch cleaning of LA cavity/wall/scar labels.

Heavy or optional parts (MONAI metrics, case stores) are imported inside the functions
that need them.
"""

from .band import INNER_MM, OUTER_MM, Band, exact_band, wall_band
from .clean import CleanReport, clean_case, clean_store, clean_stores
from .corrections import (
    Change,
    confine_to_band,
    fill_holes,
    keep_components_touching,
    keep_largest_component,
    remove_components,
    remove_outside_band,
    remove_small_components,
    smooth,
)
from .plausibility import KINDS, WALL_MAX_MM, Finding, Findings, find_implausible
from .quantify import Quantities, compare_labels, compare_masks, quantify, thickness_summary, wall_thickness

__all__ = [
    "INNER_MM",
    "KINDS",
    "OUTER_MM",
    "WALL_MAX_MM",
    "Band",
    "Change",
    "CleanReport",
    "Finding",
    "Findings",
    "Quantities",
    "clean_case",
    "clean_store",
    "clean_stores",
    "compare_labels",
    "compare_masks",
    "confine_to_band",
    "exact_band",
    "fill_holes",
    "find_implausible",
    "keep_components_touching",
    "keep_largest_component",
    "quantify",
    "remove_components",
    "remove_outside_band",
    "remove_small_components",
    "smooth",
    "thickness_summary",
    "wall_band",
    "wall_thickness",
]
