"""The case store: one OME-Zarr (NGFF 0.5, zarr v3) image per case, with its labels.

Layout of ``<case>.ome.zarr``::

    zarr.json            ome.multiscales (axes z, y, x in mm; scale = spacing,
                         translation = origin) + napari_c2w attributes
    s0/                  the LGE volume
    labels/zarr.json     ome.labels = ["cavity", "wall", "scar"] (those present)
    labels/<structure>/  uint8 0/1 label image with image-label colours
    versions/<structure>/<n>/   earlier versions of a label, kept on overwrite

The ``napari_c2w`` attributes hold the case id, source files, direction, the
provenance list, the review status, a record of label versions and free-form attrs.

No write ever modifies a store in place: a complete new store is written next to the
target and swapped in with renames, so an interrupted write leaves the old store
intact (a crash between the two renames is repaired the next time the store is read).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputError, StoreError
from ..labels import COLORS, LABELS, STRUCTURES
from .case import Case, now_iso
from .volume import Volume

STORE_SUFFIX = ".ome.zarr"
ATTRS_KEY = "napari_c2w"
FORMAT_VERSION = 1
_AXES = [{"name": a, "type": "space", "unit": "millimeter"} for a in "zyx"]


def store_path(dataset_dir: str | Path, case_id: str) -> Path:
    return Path(dataset_dir) / f"{case_id}{STORE_SUFFIX}"


def is_case_store(path: str | Path) -> bool:
    """True for a folder holding an OME-Zarr multiscales image (ours or anyone's)."""
    path = Path(path)
    _recover(path)
    meta = path / "zarr.json"
    if not meta.is_file():
        return False
    import json

    try:
        attrs = json.loads(meta.read_text()).get("attributes", {})
    except (OSError, ValueError):
        return False
    return "multiscales" in attrs.get("ome", {})


def list_case_stores(dataset_dir: str | Path) -> list[Path]:
    """The case stores directly inside ``dataset_dir``, sorted by name."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise InputError(dataset_dir, "is not a folder.", "Give a dataset folder of <case>.ome.zarr stores.")
    return sorted(p for p in dataset_dir.iterdir() if p.name.endswith(STORE_SUFFIX) and is_case_store(p))


# --------------------------------------------------------------------------- reading


def _recover(path: Path) -> None:
    """Repair a swap interrupted between its two renames; drop stale temporaries."""
    if path.parent.is_dir() and not path.exists():
        olds = sorted(path.parent.glob(f".{path.name}.old-*"))
        if olds:
            os.replace(olds[-1], path)


def _ct(volume: Volume) -> list[list[dict]]:
    return [
        [
            {"type": "scale", "scale": list(volume.spacing)},
            {"type": "translation", "translation": list(volume.origin)},
        ]
    ]


def _geometry_from_multiscales(ms: dict, path: Path) -> tuple[str, tuple, tuple]:
    dataset = ms["datasets"][0]
    scale, translation = (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)
    for t in list(ms.get("coordinateTransformations", [])) + list(
        dataset.get("coordinateTransformations", [])
    ):
        if t.get("type") == "scale":
            scale = tuple(np.multiply(scale, t["scale"]))
        elif t.get("type") == "translation":
            translation = tuple(np.add(translation, t["translation"]))
    if len(scale) != 3:
        raise InputError(path, f"is a {len(scale)}D OME-Zarr image; napari-c2w needs a 3D (z, y, x) volume.")
    return dataset["path"], scale, translation


def read_case_store(path: str | Path) -> Case:
    """Read a case store (or any 3D OME-Zarr image with labels) into a :class:`Case`."""
    import zarr

    path = Path(path)
    _recover(path)
    if not is_case_store(path):
        raise InputError(
            path,
            "is not an OME-Zarr image.",
            "Give a <case>.ome.zarr made by napari-c2w (import, phantom or export).",
        )
    try:
        root = zarr.open_group(str(path), mode="r")
        attrs = root.attrs.asdict()
        ome = attrs["ome"]
        ds_path, spacing, origin = _geometry_from_multiscales(ome["multiscales"][0], path)
        array = np.asarray(root[ds_path][...])
        ours = attrs.get(ATTRS_KEY, {})
        image = Volume(array, spacing, origin, tuple(ours.get("direction", np.eye(3).ravel())), path=path)
        labels = {}
        if "labels" in root:
            for name in root["labels"].attrs.asdict().get("ome", {}).get("labels", []):
                if name in LABELS:
                    lab = root["labels"][name]
                    lab_path = _geometry_from_multiscales(lab.attrs["ome"]["multiscales"][0], path)[0]
                    labels[name] = np.asarray(lab[lab_path][...])
    except InputError:
        raise
    except Exception as err:
        raise InputError(
            path,
            f"could not be read as a case store ({type(err).__name__}: {err}).",
            "The store may be damaged; restore it from a backup or re-import the case.",
        ) from None
    return Case(
        image=image,
        labels=labels,
        case_id=ours.get("case_id", path.name.removesuffix(STORE_SUFFIX)),
        sources=ours.get("sources", {}),
        provenance=list(ours.get("provenance", [])),
        status=ours.get("status", "unreviewed"),
        attrs=dict(ours.get("attrs", {})),
    )


def read_store_attrs(path: str | Path) -> dict:
    """The ``napari_c2w`` attributes of a store, without reading any array."""
    import zarr

    _recover(Path(path))
    return dict(zarr.open_group(str(path), mode="r").attrs.asdict().get(ATTRS_KEY, {}))


# --------------------------------------------------------------------------- writing


def _chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(min(n, c) for n, c in zip(shape, (32, 128, 128), strict=False))


def _write_tree(
    case: Case,
    tmp: Path,
    ours: dict,
    versions: dict[str, list[tuple[str, np.ndarray]]],
    progress: Callable[[str], None] | None,
) -> None:
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_multiscale, write_multiscale_labels

    fmt = FormatV05()
    root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
    opts = {"chunks": _chunks(case.image.shape)}
    write_multiscale(
        [case.image.array],
        root,
        fmt=fmt,
        axes=_AXES,
        name=case.case_id,
        coordinate_transformations=_ct(case.image),
        storage_options=opts,
    )
    if progress:
        progress("image")
    for name in case.structures:
        write_multiscale_labels(
            [case.labels[name]],
            root,
            name=name,
            fmt=fmt,
            axes=_AXES,
            coordinate_transformations=_ct(case.image),
            storage_options=opts,
            label_metadata={
                "colors": [{"label-value": 1, "rgba": list(COLORS[name])}],
                "source": {"image": "../../"},
            },
        )
        if progress:
            progress(name)
    if case.structures:  # ome-zarr-py leaves out the version that NGFF 0.5 requires here
        labels_group = root["labels"]
        labels_group.attrs["ome"] = {"version": fmt.version, "labels": case.structures}
    for name, items in versions.items():
        for key, array in items:
            root.require_group(f"versions/{name}").create_array(key, data=array, chunks=_chunks(array.shape))
    root.attrs[ATTRS_KEY] = ours


def _fsync_tree(path: Path) -> None:
    for dirpath, _, files in os.walk(path):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                os.fsync(fh.fileno())


def write_case_store(
    case: Case,
    path: str | Path,
    *,
    overwrite: bool = False,
    entry: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write ``case`` to the store at ``path`` without ever losing data.

    A new store is simply written. For an existing store: labels the case does not
    carry are kept; a label that differs from the stored one is refused unless
    ``overwrite`` is True, in which case the stored one is kept under ``versions/``;
    a different image is always refused (write a new case instead).

    Args:
        case: the case to write.
        path: the store, ``<case>.ome.zarr``.
        overwrite: allow replacing labels that differ (old versions are kept).
        entry: an extra provenance record to append (e.g. the export action).
        progress: called with the name of each part once it is written.

    Raises:
        StoreError: a label would be replaced without ``overwrite``, the image differs,
            or the disk is full / not writable (the old store is then untouched).
    """
    path = Path(path)
    if not path.name.endswith(STORE_SUFFIX):
        raise InputError(path, f"does not end in {STORE_SUFFIX}.", f"Name case stores <case>{STORE_SUFFIX}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    _recover(path)
    merged, versions, history = _merge_with_existing(case, path, overwrite)
    provenance = list(merged.provenance) + ([entry] if entry else [])
    ours = {
        "format_version": FORMAT_VERSION,
        "case_id": merged.case_id,
        "sources": merged.sources,
        "direction": list(merged.image.direction),
        "provenance": provenance,
        "status": merged.status,
        "attrs": merged.attrs,
        "versions": history,
        "written_by": f"napari-c2w {__version__}",
        "written": now_iso(),
    }
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        _write_tree(merged, tmp, ours, versions, progress)
        _fsync_tree(tmp)
        _swap_in(tmp, path)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreError(
                f"{path}: the disk is full; nothing was changed. Free some space and write again."
            ) from err
        raise StoreError(f"{path}: could not write the case store ({err}); nothing was changed.") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _swap_in(tmp: Path, path: Path) -> None:
    old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def _merge_with_existing(case: Case, path: Path, overwrite: bool):
    """The case to write, the label versions to keep, and the version history."""
    if not path.exists():
        return case, {}, {}
    import zarr

    old = read_case_store(path)
    if old.image.shape != case.image.shape or not np.array_equal(old.image.array, case.image.array):
        raise StoreError(
            f"{path} holds a different image (shape {old.image.shape}); refusing to replace "
            "it. Write the new image to a new case store."
        )
    history = dict(read_store_attrs(path).get("versions", {}))
    root = zarr.open_group(str(path), mode="r")
    versions: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name in STRUCTURES:  # carry the earlier versions over
        for rec in history.get(name, []):
            versions.setdefault(name, []).append(
                (rec["key"], np.asarray(root[f"versions/{name}/{rec['key']}"][...]))
            )
    labels = dict(old.labels)
    changed = [
        n for n in case.structures if n in old.labels and not np.array_equal(old.labels[n], case.labels[n])
    ]
    if changed and not overwrite:
        raise StoreError(
            f"{path} already holds different {', '.join(changed)} label(s); refusing to replace "
            "them. Pass overwrite=True (--overwrite) to replace them; the stored versions are kept."
        )
    for name in changed:
        key = str(len(history.get(name, [])) + 1)
        versions.setdefault(name, []).append((key, old.labels[name]))
        history.setdefault(name, []).append(
            {"key": key, "replaced": now_iso(), "voxels": int(old.labels[name].sum())}
        )
    labels.update(case.labels)
    known = {_entry_key(e) for e in old.provenance}
    provenance = list(old.provenance) + [e for e in case.provenance if _entry_key(e) not in known]
    merged = Case(
        image=case.image,
        labels=labels,
        case_id=case.case_id or old.case_id,
        sources={**old.sources, **case.sources},
        provenance=provenance,
        status=case.status,
        attrs={**old.attrs, **case.attrs},
    )
    return merged, versions, history


def _entry_key(entry: dict) -> str:
    import json

    return json.dumps(entry, sort_keys=True, default=str)


def read_label_version(path: str | Path, structure: str, key: str) -> np.ndarray:
    """An earlier version of a label kept in the store's ``versions/`` group."""
    import zarr

    return np.asarray(zarr.open_group(str(path), mode="r")[f"versions/{structure}/{key}"][...])


def update_case_store(
    path: str | Path,
    *,
    labels: dict[str, np.ndarray] | None = None,
    status: str | None = None,
    attrs: dict | None = None,
    entry: dict | None = None,
    overwrite: bool = True,
) -> Path:
    """Change labels, review status or attributes of an existing store (old labels kept)."""
    case = read_case_store(path)
    for name, mask in (labels or {}).items():
        case.set_label(name, mask)
    if status is not None:
        case.status = status
    if attrs:
        case.attrs.update(attrs)
    return write_case_store(case, path, overwrite=overwrite, entry=entry)
