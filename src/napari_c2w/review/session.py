"""Interactive review of one case (no napari, no Qt): findings, corrections, undo and provenance.

A :class:`ReviewSession` is the model behind the napari review widget. It never owns the
label arrays: each operation takes the current mask (as the caller's Labels layer holds it)
and returns an :class:`Edit` - the voxels to change, their values before and after, and the
provenance record - which the caller applies (``Edit.apply`` on an array, or the layer's own
``data_setitem`` so that napari's undo stays coherent). Every edit is appended to
:attr:`ReviewSession.provenance` and pushed on a multi-level undo stack; undoing or redoing
records a provenance entry too, so the record says what happened, in order.

Components the annotator *keeps* are remembered as a voxel mask and spared by
:meth:`ReviewSession.remove_outside_band`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..io.case import provenance_entry
from ..masks.band import Band
from ..masks.components import Change, keep_largest_component
from ..quantify.band import BandSpec
from . import corrections as _c
from .edits import Edit, EditStack, Index, diff_edit
from .plausibility import WALL_MAX_MM, Finding, Findings, find_implausible

ACTION = "review correction"
__all__ = ["ACTION", "Edit", "Index", "ReviewSession", "diff_edit"]


class ReviewSession(EditStack):
    """The band, the implausible components and the corrections of one case, with undo.

    Args:
        spacing: voxel size in mm (z, y, x).
        origin: world position (mm) of voxel (0, 0, 0).
        band_spec: the band's reach (default :class:`napari_c2w.quantify.BandSpec`).
        wall_max_mm: wall voxels farther than this from the cavity are flagged.
        annotator: who reviews, for the provenance records (None: the login name).
        provenance: the case's provenance list; records are appended to it in place.
        max_undo: undo levels kept.
    """

    def __init__(
        self,
        spacing: Sequence[float],
        origin: Sequence[float] = (0.0, 0.0, 0.0),
        *,
        band_spec: BandSpec | None = None,
        wall_max_mm: float = WALL_MAX_MM,
        annotator: str | None = None,
        provenance: list[dict] | None = None,
        max_undo: int = 50,
    ) -> None:
        self.spacing = tuple(float(s) for s in spacing)
        self.origin = tuple(float(o) for o in origin)
        self.band_spec, self.wall_max_mm = band_spec or BandSpec(), float(wall_max_mm)
        super().__init__(annotator, provenance, max_undo)
        self.band: Band | None = None
        self.findings: Findings | None = None
        self.kept: np.ndarray | None = None

    # ------------------------------------------------------------------ analysis

    def analyse(
        self,
        cavity: np.ndarray,
        wall: np.ndarray | None = None,
        scar: np.ndarray | None = None,
        progress: Callable[[float, str], None] | None = None,
    ) -> Findings:
        """Compute the wall band and the implausible components of the current labels."""
        self.band = self.band_spec.band(cavity, self.spacing, wall=wall)
        self.findings = find_implausible(
            cavity,
            self.spacing,
            scar=scar,
            wall=wall,
            wall_max_distance_mm=self.wall_max_mm,
            origin=self.origin,
            band=self.band,
            progress=progress,
        )
        if self.kept is None or self.kept.shape != self.band.shape:
            self.kept = np.zeros(self.band.shape, dtype=bool)
        return self.findings

    def is_kept(self, finding: Finding) -> bool:
        """Whether the annotator kept this component (all its voxels are marked kept)."""
        if self.kept is None or self.findings is None:
            return False
        sel = self.findings.labels == finding.id
        return bool(self.kept[self.findings.box][sel].all())

    def pending(self) -> list[Finding]:
        """The components neither kept nor removed yet."""
        return [f for f in (self.findings or []) if not self.is_kept(f)]

    def rows(self) -> list[dict]:
        """One dict per component for a table (distance: to the band, in mm)."""
        return [
            {
                "id": f.id,
                "structure": f.structure,
                "kind": f.kind,
                "voxels": f.voxels,
                "volume_mm3": f.volume_mm3,
                "min_distance_mm": f.min_distance_mm,
                "max_distance_mm": f.max_distance_mm,
                "z": f.z,
                "decision": "kept" if self.is_kept(f) else "flagged",
            }
            for f in (self.findings or [])
        ]

    def pending_label_image(self) -> np.ndarray:
        """Component ids on the full grid, kept components left out (int32)."""
        box, crop = self.pending_label_crop()
        out = np.zeros(self.findings.shape, dtype=np.int32)
        out[box] = crop
        return out

    def pending_label_crop(self):
        """(box, int32 component ids in it): :meth:`pending_label_image` on the findings' box only,
        the part of the grid that can hold a component."""
        if self.findings is None:
            raise RuntimeError("analyse the case first")
        out = self.findings.labels.astype(np.int32, copy=True)
        for f in self.findings:
            if self.is_kept(f):
                out[out == f.id] = 0
        return self.findings.box, out

    # ------------------------------------------------------------------ edits

    def _need(self, what: str):
        value = getattr(self, what)
        if value is None:
            raise RuntimeError("find the implausible annotation first: the band is not computed yet")
        return value

    def _record(self, mask: np.ndarray, result: tuple[np.ndarray, Change], **extra) -> Edit | None:
        new, change = result
        entry = change.entry(ACTION, by=self.annotator, **extra)
        return self._push(diff_edit(change.structure, mask, new, entry))

    def remove(self, mask: np.ndarray, ids: Sequence[int], structure: str = "scar") -> Edit | None:
        """Remove the given components from ``mask`` (the structure's current mask)."""
        findings = self._need("findings")
        chosen = [findings.get(i) for i in ids]
        return self._record(
            mask, _c.remove_components(mask, findings, ids, structure), components=[_brief(f) for f in chosen]
        )

    def keep(self, ids: Sequence[int]) -> Edit | None:
        """Mark components as plausible: they leave the flagged list and survive band cleaning."""
        findings = self._need("findings")
        chosen = [findings.get(i) for i in ids if not self.is_kept(findings.get(i))]
        if not chosen:
            return None
        sel = findings.mask([f.id for f in chosen]) & ~self.kept
        kept = np.nonzero(sel)
        self.kept[kept] = True
        entry = provenance_entry(
            "review decision",
            chosen[0].structure,
            by=self.annotator,
            rule="keep component",
            voxels_removed=0,
            voxels_added=0,
            components=[_brief(f) for f in chosen],
        )
        empty = (np.zeros(0, np.intp),) * 3
        return self._push(Edit(None, empty, np.zeros(0, np.uint8), np.zeros(0, np.uint8), entry, kept))

    def remove_outside_band(
        self, mask: np.ndarray, min_size_voxels: int = 0, structure: str = "scar"
    ) -> Edit | None:
        """Remove voxels outside the band, then components below ``min_size_voxels``; kept ones are spared."""
        band = self._need("band")
        new, change = _c.remove_outside_band(mask, band, min_size_voxels, structure)
        spared = 0
        if self.kept is not None and self.kept.any():
            keep = self.kept & (np.asarray(mask) != 0)
            spared = int(np.count_nonzero(keep & (new == 0)))
            new[keep] = 1
            change.voxels_removed -= spared
        return self._record(mask, (new, change), kept_voxels_spared=spared or None)

    def fill_holes(self, mask: np.ndarray, structure: str, mode: str = "3d") -> Edit | None:
        return self._record(mask, _c.fill_holes(mask, mode, structure))

    def keep_largest(self, mask: np.ndarray, structure: str) -> Edit | None:
        return self._record(mask, keep_largest_component(mask, structure))

    def smooth(
        self, mask: np.ndarray, structure: str, radius_mm: float = 1.0, method: str = "closing"
    ) -> Edit | None:
        return self._record(mask, _c.smooth(mask, self.spacing, radius_mm, method, structure))

    def confine(self, mask: np.ndarray, structure: str = "scar") -> Edit | None:
        """Remove every voxel of ``mask`` outside the band."""
        return self._record(mask, _c.confine_to_band(mask, self._need("band"), structure))

    def revert_painting(self, index: np.ndarray, before: np.ndarray, structure: str = "scar") -> Edit | None:
        """Undo painted voxels that lie outside the band.

        Args:
            index: (N, 3) voxels just painted with the structure's label.
            before: their 0/1 values before painting.
            structure: the structure painted.
        """
        band = self._need("band")
        index = np.asarray(index, dtype=np.intp).reshape(-1, 3)
        before = (np.asarray(before).reshape(-1) != 0).astype(np.uint8)
        out = ~band.contains(index) & (before == 0)
        if not out.any():
            return None
        idx = tuple(index[out].T)
        n = int(out.sum())
        entry = provenance_entry(
            ACTION,
            structure,
            by=self.annotator,
            rule="confine painting to wall band",
            voxels_removed=n,
            voxels_added=0,
            inner_mm=band.inner_mm,
            outer_mm=band.outer_mm,
        )
        return self._push(Edit(structure, idx, np.ones(n, np.uint8), before[out], entry))

    def _stepped(self, edit: Edit, undo: bool) -> None:
        if edit.kept is not None and self.kept is not None:
            self.kept[edit.kept] = not undo


def _brief(f: Finding) -> dict:
    return {
        "id": f.id,
        "kind": f.kind,
        "voxels": f.voxels,
        "z": f.z,
        "centroid_mm": [round(c, 2) for c in f.centroid_mm],
    }
