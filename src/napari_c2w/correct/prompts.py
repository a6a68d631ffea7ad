"""Prompts an annotator gives to correct a 3D label: clicks, scribbles and boxes (pure data).

A :class:`Prompt` holds voxel positions (z, y, x) on the image grid. A *positive* prompt says
"this belongs to the structure", a *negative* one "this does not"; a *scribble* is the same with
several points; a *box* (two opposite corners) encloses a structure the model missed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

KINDS = ("positive", "negative", "box")


@dataclasses.dataclass(frozen=True)
class Prompt:
    """One interaction.

    Attributes:
        kind: ``positive``, ``negative`` or ``box``.
        points: (N, 3) voxel positions (z, y, x); a click has one, a scribble several, a box
            its two opposite corners (on one slice, the box reaches as deep in z as it is wide).
    """

    kind: str
    points: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a prompt is one of {KINDS}, not {self.kind!r}")
        pts = np.asarray(self.points, dtype=np.float64).reshape(-1, 3)
        if not len(pts):
            raise ValueError(f"a {self.kind} prompt needs at least one point")
        if self.kind == "box" and len(pts) != 2:
            raise ValueError(f"a box prompt has two opposite corners, not {len(pts)} points")
        object.__setattr__(self, "points", pts)

    @classmethod
    def click(cls, position: Sequence[float], positive: bool = True) -> Prompt:
        return cls("positive" if positive else "negative", np.asarray(position, float)[None])

    @property
    def centre(self) -> np.ndarray:
        return self.points.mean(axis=0)

    def voxels(self, shape: Sequence[int]) -> np.ndarray:
        """The prompt's points as integer voxel indices inside ``shape``; (N, 3)."""
        idx = np.rint(self.points).astype(np.intp)
        inside = np.all((idx >= 0) & (idx < np.asarray(shape)), axis=1)
        if not inside.any():
            raise ValueError(
                f"the {self.kind} prompt at {self.points.round(1).tolist()} "
                f"lies outside the image {tuple(shape)}"
            )
        return idx[inside]

    def record(self, spacing: Sequence[float], origin: Sequence[float] = (0.0, 0.0, 0.0)) -> dict:
        """The prompt for a provenance entry: kind, voxel and world positions (mm)."""
        mm = self.points * np.asarray(spacing) + np.asarray(origin)
        return {
            "kind": self.kind,
            "voxels": np.round(self.points, 2).tolist(),
            "mm": np.round(mm, 2).tolist(),
        }

    def box_bounds(self, spacing: Sequence[float], shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) voxel corners of a box prompt; a box drawn on one slice reaches, in z,
        half its smaller in-plane size (mm) each side of that slice."""
        lo, hi = self.points.min(axis=0), self.points.max(axis=0)
        if hi[0] - lo[0] < 1:
            half_mm = 0.5 * min((hi[1] - lo[1]) * spacing[1], (hi[2] - lo[2]) * spacing[2])
            dz = half_mm / spacing[0]
            lo[0], hi[0] = lo[0] - dz, hi[0] + dz
        lo = np.clip(np.floor(lo), 0, np.asarray(shape) - 1).astype(int)
        hi = np.clip(np.ceil(hi), 0, np.asarray(shape) - 1).astype(int)
        return lo, hi
