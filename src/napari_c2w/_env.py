"""napari-c2w's environment settings: on/off switches and the cache folder, read in one place."""

from __future__ import annotations

import os
from pathlib import Path

#: Where napari-c2w keeps what it can rebuild (OpenVINO's converted networks, the CPU-sharing
#: registry); defaults to ``$XDG_CACHE_HOME/napari-c2w`` or ``~/.cache/napari-c2w``.
CACHE_ENV = "NAPARI_C2W_CACHE"
_OFF = ("0", "false", "no")


def flag(name: str, default: bool) -> bool:
    """The switch ``name``: unset or blank gives ``default``; 0, false or no turn it off and any
    other value on."""
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value not in _OFF


def cache_root() -> Path:
    """napari-c2w's cache folder (:data:`CACHE_ENV`)."""
    root = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "napari-c2w"
    )
    return Path(root)
