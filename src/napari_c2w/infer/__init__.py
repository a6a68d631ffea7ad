"""Staged cavity -> wall -> scar inference (Qt-free): :func:`segment` and model sets."""

from .models import StageModel, load_model_set, stage_files
from .pipeline import Cancelled, InferenceOptions, Prediction, segment

__all__ = [
    "Cancelled",
    "InferenceOptions",
    "Prediction",
    "StageModel",
    "load_model_set",
    "segment",
    "stage_files",
]
