"""Does the cavity hold when the contrast changes a little? A failure signal for unfamiliar scans.

A model on a contrast it knows gives nearly the same cavity when the intensities are bent by a
mild gamma curve (it trained with gamma 0.8-1.3 and histogram shifts); on a contrast it never saw
its answer is unstable, even where it is a plausible atrium. :func:`agreement` of the two cavity
masks enters the quality score (``quality.RAMPS["contrast_agreement"]``). Pure numpy.
"""

from __future__ import annotations

import numpy as np

from ..metrics import dice

#: The gamma of the second pass (on the ROI scaled to [0, 1], then z-scored again).
GAMMA = 1.5


def gamma_perturbed(x: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    """The network input ``x`` (z-scored ROI) through a gamma curve, z-scored again."""
    lo, hi = float(x.min()), float(x.max())
    u = ((x - lo) / max(hi - lo, 1e-6)) ** gamma
    return ((u - u.mean()) / (u.std() + 1e-6)).astype(np.float32)


#: The agreement of the two cavity masks is their Dice.
agreement = dice
