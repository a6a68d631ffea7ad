"""Any tool's OME-Zarr image (0.4 on zarr v2, or 0.5 on zarr v3) with its labels, read with
ome-zarr-py; and a cheap look at a folder to say what it holds before anything is read.

napari-c2w's own case stores are read by :mod:`.store` (they carry the case's provenance); this
module reads the rest: the first (full-resolution) level of a 3D (z, y, x) image, and every label
image under ``labels/`` with its values kept as they are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from ..errors import InputError
from .volume import Volume

#: Length units of OME-Zarr axes, in millimetres (the project's unit).
_UNIT_MM = {"millimeter": 1.0, "micrometer": 1e-3, "nanometer": 1e-6, "centimeter": 10.0, "meter": 1e3}


@dataclasses.dataclass
class OmeZarrImage:
    """A 3D OME-Zarr image and its label images (name -> array on the image's grid)."""

    name: str
    image: Volume
    labels: dict[str, np.ndarray]


def ome_attributes(path: str | Path) -> dict | None:
    """The OME attributes of a zarr group (``.zattrs`` or ``zarr.json``), or None if it has none."""
    path = Path(path)
    try:
        if (path / "zarr.json").is_file():
            doc = json.loads((path / "zarr.json").read_text())
            attrs = doc.get("attributes", {}) if isinstance(doc, dict) else None
            ome = attrs.get("ome") if isinstance(attrs, dict) else None
            return ome if isinstance(ome, dict) and ome else None
        if (path / ".zattrs").is_file():
            attrs = json.loads((path / ".zattrs").read_text())
            return attrs if isinstance(attrs, dict) and "multiscales" in attrs else None
    except (OSError, ValueError, RecursionError):
        return None
    return None


def is_foreign_ome_zarr(path: str | Path) -> bool:
    """True for an OME-Zarr image (NGFF 0.4 or 0.5) that is not a napari-c2w case store."""
    if ome_attributes(path) is None:
        return False
    from .ngff import ATTRS_KEY

    try:
        doc = json.loads((Path(path) / "zarr.json").read_text())
    except (OSError, ValueError, RecursionError):
        return True  # 0.4 (.zattrs): napari-c2w writes 0.5 only
    attrs = doc.get("attributes") if isinstance(doc, dict) else None
    return not (isinstance(attrs, dict) and ATTRS_KEY in attrs)


def is_3d_ome_zarr(path: str | Path) -> bool:
    """True for an OME-Zarr multiscales image with exactly three spatial axes and no others."""
    ome = ome_attributes(path)
    multiscales = ome.get("multiscales") if ome else None
    if not isinstance(multiscales, list) or not multiscales or not isinstance(multiscales[0], dict):
        return False
    axes = multiscales[0].get("axes")
    if not isinstance(axes, list):  # 0.1-0.3: no axes, the dimensionality decides
        return False
    types = [a.get("type", "space") if isinstance(a, dict) else "space" for a in axes]
    return len(types) == 3 and all(t == "space" for t in types)


def _geometry(metadata: dict, path: Path) -> tuple[tuple, tuple]:
    transforms = metadata.get("coordinateTransformations") or [[]]
    scale, translation = np.ones(3), np.zeros(3)
    for t in transforms[0]:
        if t.get("type") == "scale":
            scale = scale * np.asarray(t["scale"], float)
        elif t.get("type") == "translation":
            translation = translation + np.asarray(t["translation"], float)
    units = [a.get("unit") if isinstance(a, dict) else None for a in metadata.get("axes", [])]
    factor = np.ones(3)
    for k, unit in enumerate(units[:3]):
        if unit is not None and unit not in _UNIT_MM:
            raise InputError(
                path,
                f"has a spatial axis in {unit!r}.",
                f"napari-c2w places volumes in millimetres; give axes in one of {', '.join(_UNIT_MM)}.",
            )
        factor[k] = _UNIT_MM.get(unit or "millimeter", 1.0)
    return tuple((scale * factor).tolist()), tuple((translation * factor).tolist())


def read_ome_zarr(path: str | Path) -> OmeZarrImage:
    """Read a 3D OME-Zarr image and all its labels (full resolution) with ome-zarr-py.

    Raises:
        InputError: not an OME-Zarr image, not 3D (z, y, x), axes in a unit that is not a
            length, or a label image on another grid. The message names the store.
    """
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    path = Path(path)
    if not is_3d_ome_zarr(path):
        raise InputError(
            path,
            "is not a 3D (z, y, x) OME-Zarr image.",
            "napari-c2w reads 3D volumes; open other OME-Zarr images with napari-ome-zarr.",
        )
    with _quiet_ome_zarr():  # its INFO and WARNING chatter (shapes, chunks, format detection)
        location = parse_url(str(path))
        if location is None:
            raise InputError(
                path, "could not be opened as a zarr store.", "Check that the folder is complete."
            )
        return _image_and_labels(path, list(Reader(location)()))


@contextlib.contextmanager
def _quiet_ome_zarr():
    logger = logging.getLogger("ome_zarr")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)


def _image_and_labels(path: Path, nodes: list) -> OmeZarrImage:
    """The first multiscales image of ``nodes`` (ome-zarr-py's) and its label images, full resolution."""
    from ome_zarr.reader import Label, Multiscales

    image = None
    labels: dict[str, np.ndarray] = {}
    for node in nodes:
        if not node.load(Multiscales):
            continue
        array = np.asarray(node.data[0])
        if node.load(Label):
            name = node.metadata.get("name") or Path(str(node.zarr.path)).name
            labels[name] = array
        elif image is None:
            spacing, origin = _geometry(node.metadata, path)
            image = Volume(array, spacing, origin, path=path)
    if image is None:
        raise InputError(path, "holds no image.", "Give an OME-Zarr store with a multiscales image.")
    for name, array in labels.items():
        if array.shape != image.shape:
            raise InputError(
                path,
                f"has the label image {name!r} of shape {array.shape} but the image has {image.shape}.",
                "Label images must lie on the image's grid.",
            )
    stem = path.name.removesuffix(".zarr").removesuffix(".ome")
    return OmeZarrImage(stem, image, labels)


def is_dicom_folder(folder: str | Path, probe: int = 8) -> bool:
    """True when one of the first ``probe`` files of ``folder`` is a DICOM file (``.dcm``/``.ima``,
    or ``DICM`` at byte 128)."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    files = (f for f in sorted(folder.iterdir()) if f.is_file())
    for _k, f in zip(range(probe), files, strict=False):
        if f.suffix.lower() in (".dcm", ".ima"):
            return True
        try:
            with f.open("rb") as fh:
                fh.seek(128)
                if fh.read(4) == b"DICM":
                    return True
        except OSError:
            continue
    return False
