"""Conversions between cases and napari layer data tuples (no napari import here).

The image becomes an Image layer and each structure a Labels layer named after it,
all with ``scale`` = spacing and ``translate`` = origin in (z, y, x) order. The case's
metadata (case id, sources, provenance, status, direction) travels in the image
layer's ``metadata['napari_c2w']`` so a writer can store it back.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

from .errors import InputError
from .io.case import Case
from .io.volume import Volume
from .labels import COLORS, LABELS, to_layer, to_mask

META_KEY = "napari_c2w"
#: ``layer.metadata`` key of the record the plugin keeps on a Labels layer it wrote (a
#: prediction): its structure, the image layer it belongs to, the run, a checksum of what was
#: written, and the provenance/sources/attrs an export must store with it.
WRITTEN_KEY = "napari_c2w_written"


def checksum(data) -> str:
    """A digest of a layer's array (tells whether an annotator changed what the plugin wrote)."""
    return hashlib.sha1(np.ascontiguousarray(np.asarray(data)).view(np.uint8)).hexdigest()


def label_colormap(structure: str) -> dict:
    """A Labels ``colormap`` argument showing the structure in its ``labels.COLORS`` colour.

    Every non-zero value gets the colour (the layer's foreground is the structure, whatever
    label an annotator paints with).
    """
    rgba = tuple(c / 255.0 for c in COLORS[structure])
    return {None: rgba, 0: (0.0, 0.0, 0.0, 0.0), LABELS[structure]: rgba}


def warn_if_oblique(volume: Volume) -> None:
    if volume.is_oblique:
        d = np.round(np.asarray(volume.direction).reshape(3, 3), 3).tolist()
        warnings.warn(
            f"{volume.path or 'volume'}: the volume is oblique (direction {d}). napari shows it "
            "in voxel axes with its spacing and origin; the direction is kept in the layer "
            "metadata and written back on export.",
            UserWarning,
            stacklevel=2,
        )


def volume_layer(volume: Volume, name: str, meta: dict | None = None) -> tuple:
    kwargs = volume.layer_kwargs()
    kwargs["name"] = name
    kwargs["colormap"] = "gray"
    if meta:
        kwargs["metadata"][META_KEY] = meta
    return (volume.array, kwargs, "image")


def label_layer(mask: np.ndarray, structure: str, volume: Volume) -> tuple:
    kwargs = volume.layer_kwargs()
    kwargs["name"] = structure
    kwargs["opacity"] = 0.6
    kwargs["colormap"] = label_colormap(structure)
    return (to_layer(mask, structure), kwargs, "labels")


def case_layers(case: Case) -> list[tuple]:
    """Layer data tuples for a case: the image, then cavity, wall, scar (those present)."""
    warn_if_oblique(case.image)
    meta = {
        "case_id": case.case_id,
        "sources": case.sources,
        "provenance": case.provenance,
        "status": case.status,
        "attrs": case.attrs,
    }
    layers = [volume_layer(case.image, case.case_id, meta)]
    layers += [label_layer(case.labels[s], s, case.image) for s in case.structures]
    return layers


def structure_of_layer_name(name: str) -> str | None:
    """'cavity', 'wall' or 'scar' for layer names like 'wall', 'scar [1]', 'case7 wall'."""
    lowered = name.lower()
    for structure in LABELS:
        if structure in lowered:
            return structure
    return None


def case_from_layers(image: tuple, labels: list[tuple]) -> Case:
    """Build a case from an image layer tuple and label layer tuples (data, meta[, type]).

    A labels layer the plugin predicted (its metadata holds a :data:`WRITTEN_KEY` record) is
    credited to that prediction: sources, provenance (models, thresholds) and the uncertainty,
    plus a ``napari edit`` entry when its data changed since. Sources of structures not
    exported are dropped, so a reference file is never credited with another layer's labels.
    """
    data, meta = image[0], image[1]
    layer_meta = meta.get("metadata", {}) or {}
    ours = layer_meta.get(META_KEY, {})
    scale = tuple(meta.get("scale", (1.0, 1.0, 1.0)))[-3:]
    translate = tuple(meta.get("translate", (0.0, 0.0, 0.0)))[-3:]
    if np.ndim(data) != 3:
        raise InputError(
            None, f"the image layer {meta.get('name')!r} is {np.ndim(data)}D; a 3D volume is needed."
        )
    volume = Volume(np.asarray(data), scale, translate, tuple(layer_meta.get("direction", np.eye(3).ravel())))
    case = Case(
        image=volume,
        case_id=ours.get("case_id") or meta.get("name") or "case",
        sources=dict(ours.get("sources", {})),
        provenance=list(ours.get("provenance", [])),
        status=ours.get("status", "unreviewed"),
        attrs=dict(ours.get("attrs", {})),
    )
    for item in labels:
        ldata, lmeta = item[0], item[1]
        structure = structure_of_layer_name(lmeta.get("name", ""))
        if structure is None:
            continue
        if np.shape(ldata) != volume.shape:
            raise InputError(
                None,
                f"the labels layer {lmeta.get('name')!r} has shape {np.shape(ldata)} but "
                f"the image has {volume.shape}.",
                "Labels must lie on the image grid.",
            )
        lscale = tuple(lmeta.get("scale", scale))[-3:]
        if not np.allclose(lscale, scale, rtol=1e-3):
            raise InputError(
                None,
                f"the labels layer {lmeta.get('name')!r} has scale {lscale} but the image has {scale}.",
                "Give both layers the image's spacing.",
            )
        case.set_label(structure, to_mask(ldata))
        record = (lmeta.get("metadata") or {}).get(WRITTEN_KEY)
        if record:
            _credit(case, structure, record, ldata)
    case.sources = {k: v for k, v in case.sources.items() if k not in LABELS or k in case.labels}
    return case


def _credit(case: Case, structure: str, record: dict, data) -> None:
    from .infer.result import apply_record

    apply_record(case, structure, record)
    if record.get("checksum") and record["checksum"] != checksum(data):
        from .io.case import provenance_entry

        case.provenance.append(
            provenance_entry("napari edit", structure, rule="edited after prediction", of=record.get("time"))
        )
