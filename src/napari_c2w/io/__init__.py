"""Reading and writing volumes, case folders and case stores (no napari, no Qt)."""

from .case import Case, provenance_entry
from .layouts import LAYOUTS, detect_layout, read_case_folder, write_case_folder
from .volume import Volume, read_label_volume, read_volume
from .volumewrite import write_volume

__all__ = [
    "LAYOUTS",
    "Case",
    "Volume",
    "detect_layout",
    "provenance_entry",
    "read_case_folder",
    "read_label_volume",
    "read_volume",
    "write_case_folder",
    "write_volume",
]
