"""The one adapter between cases and napari layers (no napari import here).

Every face that turns layers into a case, a volume or a mask goes through this module: layer
data tuples or layer objects (anything with ``data``, ``scale``, ``translate``, ``metadata`` and
``name``) become a :class:`~napari_c2w.io.case.Case` (:func:`case_from_layers`), the volume an
image layer shows with its direction (:func:`layer_volume`) or a structure mask
(:func:`layer_mask`); a case becomes layer data tuples (:func:`case_layers`).

The image becomes an Image layer and each structure a Labels layer named after it,
all with ``scale`` = spacing and ``translate`` = origin in (z, y, x) order, ``units`` mm and
``axis_labels`` z, y, x. The case's metadata (case id, sources, provenance, status, direction)
travels in the image layer's ``metadata['napari_c2w']`` so a writer can store it back; each
structure's Labels layer carries ``metadata['napari_c2w']['structure']``. Layers of a case read
from a store also carry the ``store`` and the ``revision`` it had (:func:`store_record`), so
that saving them back is refused when the store changed since (another napari session, a
napari-c2w command); each save records its new revision there (:func:`record_store`).

Labels layers become structures by :func:`place_labels`, first rule that applies:

1. the layer's name names a structure (``wall``, ``case7 scar``, ``scar [1]``): every non-zero
   voxel belongs to it, and the layer must hold one non-zero value;
2. the ``structure`` the plugin set in the layer's metadata (a layer renamed after reading);
3. otherwise its values, by the project's label map (:data:`napari_c2w.labels.LABELS`:
   1 cavity, 2 wall, 3 scar), so napari's default ``Labels`` layer painted with 1, 2 and 3
   splits into the three structures.

An empty layer named after a structure empties that structure; other empty layers and the
widgets' helper layers (``metadata['napari_c2w_role']``) are not
structures. Anything else (a value outside the map, a structure given by two layers, a
structure layer holding several values) is refused with an error naming the layers.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .errors import InputError
from .io.case import Case, plain_case_id, provenance_entry
from .io.omezarr import OmeZarrImage
from .io.volume import IDENTITY, Volume
from .labels import COLORS, LABELS, to_layer, to_mask

META_KEY = "napari_c2w"
#: Metadata key of the layers a widget adds for display (band, flagged components): not structures.
ROLE_KEY = "napari_c2w_role"
UNITS = ("mm", "mm", "mm")
AXIS_LABELS = ("z", "y", "x")
#: ``layer.metadata`` key of the record the plugin keeps on a Labels layer it wrote (a
#: prediction): its structure, the image layer it belongs to, the run, a checksum of what was
#: written, and the provenance/sources/attrs an export must store with it.
WRITTEN_KEY = "napari_c2w_written"
#: ``layer.metadata`` key of a layer's token: provenance entries made on a layer in this napari
#: session carry it (``entry["layer"]``) so an export credits them to that layer only.
TOKEN_KEY = "napari_c2w_token"
#: ``layer.metadata`` key of the time an annotator last painted a layer (its ``napari edit``).
EDITED_KEY = "napari_c2w_edited"


def layer_token(metadata: dict) -> str:
    """The layer's token (made on first use): marks the provenance entries made on it."""
    import uuid

    return metadata.setdefault(TOKEN_KEY, uuid.uuid4().hex)


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


def _placed(volume: Volume) -> dict:
    kwargs = volume.layer_kwargs()
    kwargs["units"], kwargs["axis_labels"] = UNITS, AXIS_LABELS
    return kwargs


def volume_layer(volume: Volume, name: str, meta: dict | None = None) -> tuple:
    kwargs = _placed(volume)
    kwargs["name"] = name
    kwargs["colormap"] = "gray"
    if meta:
        kwargs["metadata"][META_KEY] = meta
    return (volume.array, kwargs, "image")


def label_layer(mask: np.ndarray, structure: str, volume: Volume, record: dict | None = None) -> tuple:
    kwargs = _placed(volume)
    kwargs["name"] = structure
    kwargs["metadata"][META_KEY] = {"structure": structure, **(record or {})}
    kwargs["opacity"] = 0.6
    kwargs["colormap"] = label_colormap(structure)
    return (to_layer(mask, structure), kwargs, "labels")


def store_record(store: str | Path | None, revision: str | None) -> dict:
    """The ``store`` (absolute) and ``revision`` entries of a case read from a store ({} for none)."""
    if store is None:
        return {}
    return {"store": str(Path(store).resolve()), "revision": revision}


def record_store(layers: Iterable, store: str | Path, revision: str | None) -> None:
    """Note in each layer's ``metadata['napari_c2w']`` that it was saved to ``store`` at ``revision``.

    napari hands writers each layer's own ``metadata`` dict, so this updates the layers in the
    viewer: the next save of the same layers is checked against this save, not the first read.
    """
    for item in map(layer_tuple, layers):
        metadata = item[1].get("metadata") if len(item) > 1 else None
        if isinstance(metadata, dict) and ROLE_KEY not in metadata:
            metadata.setdefault(META_KEY, {}).update(store_record(store, revision))


def layer_tuple(layer) -> tuple:
    """``layer`` as a layer data tuple ``(data, meta[, type])``: a tuple as it is, a layer object
    (duck-typed: ``data``, ``scale``, ``translate``, ``metadata``, ``name``) with its own
    ``metadata`` dict (so :func:`record_store` updates the layer)."""
    if isinstance(layer, tuple):
        return layer
    meta = {
        "name": getattr(layer, "name", None),
        "scale": tuple(layer.scale),
        "translate": tuple(layer.translate),
        "metadata": layer.metadata,
    }
    return (layer.data, meta)


def layer_volume(layer) -> Volume:
    """The volume a 3D layer shows: its data at its scale (spacing) and translate (origin), with
    the ``direction`` the reader kept in its metadata (identity when it has none).

    Raises:
        InputError: the layer is not 3D.
    """
    data, meta = layer_tuple(layer)[:2]
    if np.ndim(data) != 3:
        raise InputError(
            None, f"the layer {meta.get('name')!r} is {np.ndim(data)}D; a 3D (z, y, x) volume is needed."
        )
    scale = tuple(meta.get("scale", (1.0, 1.0, 1.0)))[-3:]
    translate = tuple(meta.get("translate", (0.0, 0.0, 0.0)))[-3:]
    direction = (meta.get("metadata") or {}).get("direction", IDENTITY)
    return Volume(np.asarray(data), scale, translate, tuple(direction))


def layer_mask(layer) -> np.ndarray:
    """A labels layer's (or tuple's) voxels as a uint8 0/1 mask (any non-zero value is in)."""
    return to_mask(np.asarray(layer_tuple(layer)[0]))


def case_layers(case: Case) -> list[tuple]:
    """Layer data tuples for a case: the image, then cavity, wall, scar (those present)."""
    warn_if_oblique(case.image)
    record = store_record(case.store, case.revision)
    meta = {
        "case_id": case.case_id,
        "sources": case.sources,
        "provenance": case.provenance,
        "status": case.status,
        "attrs": case.attrs,
        **record,
    }
    layers = [volume_layer(case.image, case.case_id, meta)]
    layers += [label_layer(case.labels[s], s, case.image, record) for s in case.structures]
    return layers


def ome_zarr_layers(image: OmeZarrImage) -> list[tuple]:
    """Layer data tuples for another tool's OME-Zarr image: the image, then every label image.

    A label image named after a structure holding one value becomes that structure's layer;
    any other keeps its name and values as they are (nothing is dropped or merged).
    """
    layers = [volume_layer(image.image, image.name)]
    for name, data in image.labels.items():
        values = np.unique(data)
        if name in LABELS and np.count_nonzero(values) <= 1:
            layers.append(label_layer(data, name, image.image))
        else:
            kwargs = _placed(image.image)
            kwargs.update(name=name, opacity=0.6)
            layers.append((data, kwargs, "labels"))
    return layers


def structure_of_layer_name(name: str) -> str | None:
    """'cavity', 'wall' or 'scar' for layer names like 'wall', 'scar [1]', 'case7 wall'."""
    lowered = name.lower()
    for structure in LABELS:
        if structure in lowered:
            return structure
    return None


def case_from_layers(image, labels: Iterable = ()) -> Case:
    """Build a case from an image layer and labels layers (objects or data tuples, :func:`layer_tuple`).

    A labels layer the plugin predicted (its metadata holds a :data:`WRITTEN_KEY` record) is
    credited to that prediction: sources, provenance (models, thresholds) and the uncertainty,
    plus a ``napari edit`` entry when its data changed since. Sources of structures not
    exported are dropped, so a reference file is never credited with another layer's labels.
    The store and revision the layers were read from (:func:`store_record`) become
    ``Case.store`` / ``Case.revision``, so writing the case back checks that the store did not
    change since.
    """
    image, labels = layer_tuple(image), [layer_tuple(item) for item in labels]
    meta = image[1]
    ours = (meta.get("metadata") or {}).get(META_KEY, {})
    volume = layer_volume(image)
    case = Case(
        image=volume,
        case_id=plain_case_id(ours.get("case_id") or meta.get("name")),  # a layer name may hold "/"
        sources=dict(ours.get("sources", {})),
        provenance=[],
        status=ours.get("status", "unreviewed"),
        attrs=dict(ours.get("attrs", {})),
    )
    case.store, case.revision = _read_from(ours, labels)
    placed = place_labels(labels, volume.shape, volume.spacing)
    for structure, mask in placed.items():
        case.set_label(structure, mask)
    records = [((item[1].get("metadata") or {}).get(WRITTEN_KEY), item) for item in labels]
    predicted = {r["structure"] for r, _ in records if r and r.get("structure") in placed}
    tokens = {(item[1].get("metadata") or {}).get(TOKEN_KEY) for item in labels} - {None}
    case.provenance = _history_of(ours.get("provenance", []), set(placed) - predicted, tokens)
    for record, item in records:  # credit what the plugin predicted to its prediction
        if record and record.get("structure") in placed:
            _credit(case, record["structure"], record, item)
    case.sources = {k: v for k, v in case.sources.items() if k not in LABELS or k in case.labels}
    return case


def _read_from(image_record: dict, labels: list[tuple]) -> tuple[Path | None, str | None]:
    """The store and revision the layers were read from: the image's record, else the one all
    labels layers that carry a record agree on."""
    records = [image_record] if image_record.get("store") else []
    if not records:
        label_records = (((t[1].get("metadata") or {}).get(META_KEY) or {}) for t in labels)
        records = [r for r in label_records if r.get("store")]
        if len({(r["store"], r.get("revision")) for r in records}) != 1:
            return None, None
    return Path(records[0]["store"]), records[0].get("revision")


def _history_of(history: list, originals: set[str], tokens: set[str]) -> list[dict]:
    """The entries of the image layer's history that describe the exported layers.

    Entries made on a layer in this session carry its token: kept when that layer is exported
    (the token stays in napari). Other entries about a structure describe the labels read with
    the image (an import, a phantom, an earlier review): kept only when the structure's exported
    layer is that original, not a prediction or another layer. Entries about no structure stay.
    """
    out = []
    for entry in history:
        if not isinstance(entry, dict):
            continue
        token, structure = entry.get("layer"), entry.get("structure")
        if token is not None:
            if token in tokens:
                out.append({k: v for k, v in entry.items() if k != "layer"})
        elif structure is None or structure in originals:
            out.append(dict(entry))
    return out


def _credit(case: Case, structure: str, record: dict, item: tuple) -> None:
    case.credit(structure, record)
    if record.get("checksum") and record["checksum"] != checksum(item[0]):
        entry = provenance_entry(
            "napari edit", structure, rule="edited after prediction", of=record.get("time")
        )
        edited = (item[1].get("metadata") or {}).get(EDITED_KEY)
        if edited:  # when the annotator painted, not when the layers were exported
            entry["time"] = edited
        case.provenance.append(entry)


def _layer_name(meta: dict) -> str:
    return str(meta.get("name") or "unnamed")


def _check_grid(data, meta: dict, shape: tuple, scale: tuple) -> None:
    name = _layer_name(meta)
    if np.shape(data) != tuple(shape):
        raise InputError(
            None,
            f"the labels layer {name!r} has shape {np.shape(data)} but the image has {tuple(shape)}.",
            "Labels must lie on the image grid.",
        )
    lscale = tuple(meta.get("scale", scale))[-3:]
    if not np.allclose(lscale, scale, rtol=1e-3):
        raise InputError(
            None,
            f"the labels layer {name!r} has scale {lscale} but the image has {scale}.",
            "Give both layers the image's spacing.",
        )


def _structures_of_layer(data: np.ndarray, meta: dict, shape: tuple, scale: tuple) -> dict[str, np.ndarray]:
    """The structure masks one labels layer holds (see the module docstring for the rules)."""
    name = _layer_name(meta)
    metadata = meta.get("metadata") or {}
    if ROLE_KEY in metadata:
        return {}
    _check_grid(data, meta, shape, scale)
    values = [int(v) for v in np.unique(data) if v != 0]
    structure = (
        structure_of_layer_name(name)
        or (metadata.get(META_KEY) or {}).get("structure")
        or (metadata.get(WRITTEN_KEY) or {}).get("structure")
    )
    if structure is not None:
        if len(values) > 1:
            raise InputError(
                None,
                f"the labels layer {name!r} is the {structure} but holds the values "
                f"{', '.join(map(str, values))}.",
                f"Paint the {structure} with one value, or name the layer 'Labels' to split it by the "
                "label map (1 cavity, 2 wall, 3 scar).",
            )
        return {structure: to_mask(data)}  # an erased structure layer saves the structure empty
    by_value = {v: s for s, v in LABELS.items()}
    unknown = [v for v in values if v not in by_value]
    if unknown:
        raise InputError(
            None,
            f"the labels layer {name!r} holds the values {', '.join(map(str, unknown))}, which are no "
            "structure of the label map (1 cavity, 2 wall, 3 scar).",
            "Name the layer after its structure (cavity, wall or scar), or relabel it with 1, 2 and 3.",
        )
    return {by_value[v]: (np.asarray(data) == v).astype(np.uint8) for v in values}


def place_labels(labels: list[tuple], shape: tuple, scale: tuple) -> dict[str, np.ndarray]:
    """Structure -> 0/1 mask from labels layer tuples ``(data, meta[, type])``.

    Args:
        labels: the labels layers' data tuples.
        shape: the image's grid; every layer must lie on it.
        scale: the image's spacing; every layer must have it.

    Raises:
        InputError: a layer off the image grid, with values outside the label map, a structure
            layer with several values, or two layers giving one structure (all named).
    """
    placed: dict[str, np.ndarray] = {}
    sources: dict[str, list[str]] = {}
    for item in labels:
        data, meta = np.asarray(item[0]), item[1]
        for structure, mask in _structures_of_layer(data, meta, shape, scale).items():
            sources.setdefault(structure, []).append(_layer_name(meta))
            placed[structure] = mask
    twice = {s: names for s, names in sources.items() if len(names) > 1}
    if twice:
        s, names = next(iter(twice.items()))
        raise InputError(
            None,
            f"the labels layers {', '.join(map(repr, names))} all give the {s}.",
            "Keep one layer per structure (delete or rename the others).",
        )
    return {s: placed[s] for s in LABELS if s in placed}
