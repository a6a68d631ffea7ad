"""Mask geometry (no napari, no Qt, no torch): bounding boxes and bounded distances, the wall
band around the cavity, and connected-component filters.

The low floor shared by inference post-processing, training and annotation review.
"""

from .band import INNER_MM, OUTER_MM, Band, exact_band, wall_band
from .components import (
    Change,
    keep_component_overlapping,
    keep_components_touching,
    keep_largest_component,
)

__all__ = [
    "INNER_MM",
    "OUTER_MM",
    "Band",
    "Change",
    "exact_band",
    "keep_component_overlapping",
    "keep_components_touching",
    "keep_largest_component",
    "wall_band",
]
