"""Which of a stage's two networks to keep for one case (:data:`napari_c2w.stages.ALTERNATES`).

The bundled wall fails on a contrast it never saw by leaving the endocardium bare; its
alternate, trained on randomised contrasts, then covers more of it, while on the contrasts the
wall knows the wall covers more (docs/robustness.md, seventh round). So the mask that covers
more of the predicted cavity's surface is kept (:func:`napari_c2w.infer.quality.wall_coverage`);
ties keep the stage's own network. Where the stage's own mask covers enough already
(``InferenceOptions.wall_alternate_below``) the alternate is not run at all. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from .quality import wall_coverage


def coverage(cavity: np.ndarray, mask: np.ndarray, spacing) -> float:
    """The share of ``cavity``'s surface that ``mask`` covers (NaN without a cavity)."""
    return round(wall_coverage(cavity, mask, spacing), 4)


def keep(cavity: np.ndarray, masks: dict[str, np.ndarray], own: str, spacing) -> tuple[str, dict[str, float]]:
    """The name in ``masks`` (the stage's ``own`` network and its alternate) whose mask covers
    more of ``cavity``'s surface, and each one's coverage (NaN, never kept, without a cavity)."""
    cover = {name: coverage(cavity, mask, spacing) for name, mask in masks.items()}
    best = max((n for n in masks if n != own), key=lambda n: cover[n], default=own)
    return (best if cover[best] > cover[own] else own), cover
