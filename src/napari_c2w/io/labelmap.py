"""Multi-label maps coming in: one file holding several structures by value.

``--label-map 1=cavity,2=wall,3=scar`` (the project's own map, the default) or any other
tool's values, e.g. an MBAS-style map whose 4 is the LA wall (``3=cavity,4=wall,1=ignore,
2=ignore``). Values named ``ignore`` are left out on purpose; a value the map does not name
is refused, so no structure is merged into another or dropped unseen.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..labels import LABELS, STRUCTURES
from .volume import Volume, check_same_grid, read_volume

IGNORE = "ignore"
#: The project's own label map, used when no other is given.
DEFAULT_MAP: dict[int, str] = {v: s for s, v in LABELS.items()}


def parse_label_map(text: str) -> dict[int, str]:
    """``"1=cavity,2=wall,3=scar"`` -> ``{1: "cavity", 2: "wall", 3: "scar"}``.

    Several values may name one structure (their union is taken); ``ignore`` leaves a value out.

    Raises:
        ValueError: malformed pairs, a value that is not a positive integer, a name that is no
            structure, or a value given twice. The message shows the expected form.
    """
    form = f"VALUE=NAME pairs separated by commas, NAME one of {', '.join(STRUCTURES)} or {IGNORE}"
    mapping: dict[int, str] = {}
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        value, sep, name = (x.strip() for x in pair.partition("="))
        if not sep or not value.isdigit() or int(value) == 0:
            raise ValueError(f"label map {text!r}: {pair!r} is not VALUE=NAME with VALUE >= 1 ({form})")
        if name not in LABELS and name != IGNORE:
            raise ValueError(f"label map {text!r}: {name!r} is no structure ({form})")
        if int(value) in mapping:
            raise ValueError(f"label map {text!r}: value {value} is given twice")
        mapping[int(value)] = name
    if not any(name != IGNORE for name in mapping.values()):
        raise ValueError(f"label map {text!r} names no structure ({form})")
    return mapping


def label_values(labels: object, path: Path | None = None) -> dict[str, int]:
    """Name -> value of a label table such as nnU-Net's ``dataset.json`` ``labels``.

    Raises:
        InputError: naming ``path``: the table is no object, a value is no whole number >= 0
            (e.g. nnU-Net's region lists), or two names share a value (which one a voxel of that
            value belongs to would be a guess).
    """
    fix = 'Give each label name its own whole-number value, e.g. {"background": 0, "cavity": 1, "wall": 2}.'
    if not isinstance(labels, Mapping):
        raise InputError(path, f"has labels {labels!r}, not a name -> value table.", fix)
    values: dict[str, int] = {}
    for name, value in labels.items():
        if isinstance(value, list | tuple):  # nnU-Net's region-based training: regions overlap
            raise InputError(
                path,
                f"gives the label {name!r} the value {value!r}, which is not a whole number (a region "
                "of nnU-Net's region-based training; napari-c2w cannot tell which structure each "
                "value of the label files is).",
                "Pass --label-map VALUE=NAME,... (e.g. 1=cavity,2=wall) to say which value of its "
                "label files is which structure.",
            )
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
            raise InputError(
                path, f"gives the label {name!r} the value {value!r}, which is not a whole number.", fix
            )
        values[name] = int(value)
    for name, value in values.items():
        others = [n for n, v in values.items() if v == value and n != name]
        if others:
            raise InputError(path, f"gives the value {value} to both {name} and {others[0]}.", fix)
    return values


def split_label_map(
    array: np.ndarray, mapping: Mapping[int, str], path: Path | None = None
) -> dict[str, np.ndarray]:
    """Structure -> uint8 0/1 mask from a multi-label array, by ``mapping`` (value -> name).

    Raises:
        InputError: the array holds non-integer values, or values the map does not name
            (listed, with the map to extend).
    """
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.mod(array, 1) == 0):
        raise InputError(
            path, "holds non-integer values, so it is not a label map.", "Give an integer label map."
        )
    values = [int(v) for v in np.unique(array) if v != 0]
    unknown = [v for v in values if v not in mapping]
    if unknown:
        given = ",".join(f"{v}={s}" for v, s in sorted(mapping.items()))
        raise InputError(
            path,
            f"holds the label values {', '.join(map(str, unknown))}, "
            f"which the label map {given} does not name.",
            f"Name them in --label-map (a structure, or {IGNORE} to leave them out).",
        )
    masks: dict[str, np.ndarray] = {}
    for value, name in mapping.items():
        if name == IGNORE:
            continue
        mask = (array == value).astype(np.uint8)
        masks[name] = masks[name] | mask if name in masks else mask
    return {s: masks[s] for s in STRUCTURES if s in masks}


def read_label_map(
    path: str | Path, like: Volume, mapping: Mapping[int, str] = DEFAULT_MAP
) -> dict[str, np.ndarray]:
    """Read a multi-label file on the grid of ``like`` and split it by ``mapping``."""
    label = read_volume(path, like=like)
    check_same_grid(like, label)
    return split_label_map(label.array, mapping, label.path)
