"""napari-c2w: LA cavity, wall and scar segmentation and annotation review for LGE-MRI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-c2w")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
