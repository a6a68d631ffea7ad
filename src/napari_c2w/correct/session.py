"""Prompt correction of one case (no napari, no Qt): prompts applied in turn, with undo and provenance.

A :class:`CorrectionSession` is the model behind the Correct widget and the simulated annotator
of ``benchmarks/bench_interactive.py``. Like the review session it never owns the label arrays:
each prompt takes the structure's current mask and returns an :class:`~..review.edits.Edit`
that the caller writes (the widget through the layer's ``data_setitem``, so napari's undo sees
one step). Every prompt is recorded in the case's provenance: its kind, its position (voxels and
mm), when, how long the update took and how many voxels it added and removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..io.case import provenance_entry
from ..masks.geometry import Box
from ..review.edits import Edit, EditStack, diff_edit
from .prompts import Prompt
from .refine import Refined, RefineOptions, refine
from .wall import WallOptions, propose_wall, refine_wall

ACTION = "prompt correction"


class CorrectionSession(EditStack):
    """Corrections of one image's labels from prompts.

    Args:
        image: the image (z, y, x) the labels lie on.
        spacing: voxel size in mm (z, y, x).
        origin: world position (mm) of voxel (0, 0, 0), for the records.
        options: how a prompt reaches (see :class:`.refine.RefineOptions`).
        annotator: who corrects (None: the login name).
        provenance: the case's provenance list; records are appended in place.
    """

    HISTORY = "correction"

    def __init__(
        self,
        image: np.ndarray,
        spacing: Sequence[float],
        origin: Sequence[float] = (0.0, 0.0, 0.0),
        *,
        options: RefineOptions | None = None,
        annotator: str | None = None,
        provenance: list[dict] | None = None,
        max_undo: int = 50,
    ) -> None:
        super().__init__(annotator, provenance, max_undo)
        self.image = np.asarray(image)
        self.spacing = tuple(float(s) for s in spacing)
        self.origin = tuple(float(o) for o in origin)
        self.options = options or RefineOptions()
        self.prompts: dict[str, list[Prompt]] = {}  # per structure, in order (undone ones left out)
        self._network = None
        self._stats = None

    @property
    def uses_network(self) -> bool:
        """Whether cavity clicks go to a prompt-conditioned network (else the random walker)."""
        from .network import bundled_prompt_weights

        o = self.options
        return o.method == "network" and (
            self._network is not None or o.network_weights is not None or bundled_prompt_weights() is not None
        )

    def network(self):
        """The prompt-conditioned cavity network (loaded on first use)."""
        if self._network is None:
            from .network import PromptNetwork

            self._network = PromptNetwork(self.options.network_weights)
        return self._network

    def prompt(
        self,
        structure: str,
        mask: np.ndarray,
        prompt: Prompt,
        others: Mapping[str, np.ndarray | None] | None = None,
        probability: np.ndarray | None = None,
    ) -> Edit | None:
        """Correct ``structure``'s ``mask`` with one prompt; None when nothing changed.

        Args:
            structure: the structure corrected (``cavity``, ``wall``...).
            mask: its current mask.
            prompt: the interaction.
            others: other structures' current masks: never taken, negatives for this one.
            probability: the network's probability of ``structure``, when the layer has it.
        """
        blocked = _union(others, mask.shape)
        cavity = None if others is None or isinstance(others, np.ndarray) else others.get("cavity")
        if structure == "wall" and prompt.kind != "box" and cavity is not None:
            r = refine_wall(mask, prompt, cavity, self.spacing, blocked)
        elif structure == "cavity" and prompt.kind != "box" and self.uses_network:
            r = self._by_network(mask, prompt, blocked)
        else:
            r = refine(
                self.image,
                mask,
                prompt,
                self.spacing,
                others=blocked,
                probability=probability,
                options=self.options,
            )
        entry = provenance_entry(
            ACTION,
            structure,
            by=self.annotator,
            rule=f"{prompt.kind} prompt",
            prompt=prompt.record(self.spacing, self.origin),
            method=r.method,
            seconds=round(r.seconds, 3),
            voxels_added=r.added,
            voxels_removed=r.removed,
        )
        edit = self._push(diff_edit(structure, mask, r.mask, entry, r.box))
        if edit is not None:
            edit.prompt = prompt
            self.prompts.setdefault(structure, []).append(prompt)
        return edit

    def _by_network(self, mask: np.ndarray, prompt: Prompt, blocked: np.ndarray | None) -> Refined:
        net = self.network()
        if self._stats is None:
            self._stats = net.statistics(self.image, mask, self.spacing)
        prompts = [*self.prompts.get("cavity", []), prompt]
        label, box, seconds = net.correct(self.image, mask, prompts, self.spacing, self._stats)
        old = np.asarray(mask[box]) != 0
        if blocked is not None:
            label &= ~(blocked[box] & ~old)  # never take another structure's voxels
        if self.options.network_direction and prompt.kind in ("positive", "negative"):
            label = _in_direction(prompt, label, old, box)
        out = (np.asarray(mask) != 0).astype(np.uint8)
        out[box] = label
        added, removed = int(np.count_nonzero(label & ~old)), int(np.count_nonzero(old & ~label))
        return Refined(out, added, removed, seconds, "network", box)

    def _stepped(self, edit: Edit, undo: bool) -> None:
        if edit.prompt is None:
            return
        kept = self.prompts.setdefault(edit.structure, [])
        if undo:
            self.prompts[edit.structure] = [p for p in kept if p is not edit.prompt]
        else:
            kept.append(edit.prompt)

    def propose_wall(
        self,
        cavity: np.ndarray,
        wall: np.ndarray | None = None,
        others: Mapping[str, np.ndarray | None] | None = None,
        options: WallOptions | None = None,
    ) -> Edit | None:
        """Replace the wall by one grown outward from ``cavity`` (see :func:`.wall.propose_wall`).

        Args:
            cavity: the (corrected) cavity.
            wall: the current wall mask (what the edit replaces; None: empty).
            others: structures the wall may not take besides the cavity (not scar: scar lies in the wall).
            options: the thickness range.
        """
        o = options or WallOptions()
        blocked = _union(others, cavity.shape)
        proposed = propose_wall(self.image, cavity, self.spacing, blocked, o)
        current = np.zeros(cavity.shape, np.uint8) if wall is None else wall
        entry = provenance_entry(
            ACTION,
            "wall",
            by=self.annotator,
            rule="wall proposed from the cavity",
            thickness_mm=o.thickness_mm,
            voxels=int(proposed.sum()),
        )
        return self._push(diff_edit("wall", current, proposed, entry))


def _union(masks: Mapping[str, np.ndarray | None] | np.ndarray | None, shape) -> np.ndarray | None:
    if masks is None:
        return None
    if isinstance(masks, np.ndarray):
        return masks != 0
    out = None
    for m in masks.values():
        if m is None:
            continue
        if np.shape(m) != tuple(shape):
            raise ValueError(f"a label of shape {np.shape(m)} does not share the grid {tuple(shape)}")
        out = (np.asarray(m) != 0) if out is None else out | (np.asarray(m) != 0)
    return out


def _in_direction(prompt: Prompt, label: np.ndarray, old: np.ndarray, box: Box) -> np.ndarray:
    """The network's answer kept only in the prompt's direction and where it touches the prompt:
    a positive prompt adds the new voxels connected to it, a negative one removes the dropped
    voxels connected to it; the rest of the window stays as it was."""
    from .refine import _touching

    seeds = np.zeros(old.shape, bool)
    idx = np.rint(prompt.points).astype(int) - [s.start for s in box]
    idx = idx[np.all((idx >= 0) & (idx < old.shape), axis=1)]
    seeds[tuple(idx.T)] = True
    if prompt.kind == "positive":
        return old | _touching(label & ~old, seeds | old)
    return old & ~_touching(old & ~label, seeds)
