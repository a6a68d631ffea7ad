"""Adapt the models to a site's own unlabelled scans (self-training gated by the quality checks).

:func:`adapt` segments the scans, fine-tunes on the predictions the quality checks pass, segments
again and records per case which model to use; the CLI (``napari-c2w adapt``) and the Fine-tune
widget are faces of it. Qt-free.
"""

from .compare import MARGIN, case_row, choose
from .run import AdaptOptions, adapt
from .select import Gate, chosen, serves

__all__ = ["MARGIN", "AdaptOptions", "Gate", "adapt", "case_row", "choose", "chosen", "serves"]
