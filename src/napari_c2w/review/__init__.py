"""Annotation review (no napari, no Qt): implausible annotation, corrections and batch cleaning
of LA cavity/wall/scar labels.

The wall band and component filters live in :mod:`napari_c2w.masks`, agreement metrics in
:mod:`napari_c2w.metrics` (a lower floor that inference and training use too), volumes, wall
thickness and scar burden in :mod:`napari_c2w.quantify`.

Heavy or optional parts (MONAI metrics, case stores) are imported inside the functions
that need them.
"""

from .clean import CleanReport, clean_case, clean_store, clean_stores
from .corrections import confine_to_band, fill_holes, remove_components, remove_outside_band, smooth
from .plausibility import KINDS, WALL_MAX_MM, Finding, Findings, find_implausible

__all__ = [
    "KINDS",
    "WALL_MAX_MM",
    "CleanReport",
    "Finding",
    "Findings",
    "clean_case",
    "clean_store",
    "clean_stores",
    "confine_to_band",
    "fill_holes",
    "find_implausible",
    "remove_components",
    "remove_outside_band",
    "smooth",
]
