"""The bundled default weights: ``<stage>.pt`` checkpoints shipped inside the package.

They are package data, read through :mod:`importlib.resources` and never downloaded. How they
were trained, on what, and how well they do is in ``docs/model_card.md``; the exact commands
are ``training/bundled.sh``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ..errors import InputError
from ..stages import PIPELINE_STAGES


def bundled_checkpoint(stage: str) -> Path:
    """The shipped checkpoint of ``stage``; a clear error when this installation lacks it."""
    if stage not in PIPELINE_STAGES:
        raise InputError(
            None,
            f"there are no bundled weights for stage {stage!r}.",
            f"Stages: {', '.join(PIPELINE_STAGES)}.",
        )
    path = Path(str(files(__name__) / f"{stage}.pt"))
    if not path.is_file():
        raise InputError(
            path,
            f"is missing: this installation ships no bundled {stage} weights.",
            "Reinstall napari-c2w, or give a model folder or training run instead of the bundled weights.",
        )
    return path
