"""Build a dataset of case stores from challenge case folders, image/label files and any tool's
OME-Zarr images (NGFF 0.4 or 0.5; label images named cavity, wall, scar are those structures).

``napari-c2w import`` is a thin face over :func:`find_sources` and :func:`import_case`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..labels import check_structure
from .case import Case, check_case_id, provenance_entry
from .labelmap import DEFAULT_MAP, label_values, read_label_map
from .layouts import detect_layout, read_case_folder
from .omezarr import is_foreign_ome_zarr
from .store import STORE_SUFFIX, is_case_store, read_case_store, store_path
from .storewrite import write_case_store
from .volume import Volume, is_volume_file, read_label_volume, read_volume

log = logging.getLogger(__name__)
#: slices thicker than this (mm) get a warning
THICK_SLICE_MM = 4.0


@dataclasses.dataclass
class Source:
    """One case to import: a case folder, a case store, or an image with label files."""

    path: Path
    labels: dict[str, Path] = dataclasses.field(default_factory=dict)
    case_id: str | None = None
    #: one file holding several structures by value, split by ``mapping`` (value -> name)
    label_map: Path | None = None
    mapping: dict[int, str] = dataclasses.field(default_factory=lambda: dict(DEFAULT_MAP))
    #: with several foreground values in a --cavity/--wall/--scar file: the value to keep
    label_value: int | None = None

    @property
    def name(self) -> str:
        if self.case_id:
            return self.case_id
        name = self.path.name
        for suffix in (STORE_SUFFIX, ".zarr", ".nii.gz", ".nrrd", ".nhdr", ".nii", ".mha", ".mhd"):
            if name.endswith(suffix):
                return name[: -len(suffix)].removesuffix(NNUNET_CHANNEL)
        return name


#: nnU-Net's suffix of the first image channel (``<case>_0000.nii.gz``), not part of the case id.
NNUNET_CHANNEL = "_0000"


def nnunet_sources(folder: Path, mapping: dict[int, str] | None = None) -> list[Source]:
    """One source per training case of an nnU-Net raw dataset (``dataset.json``, ``imagesTr``,
    ``labelsTr``); the label map comes from ``dataset.json`` unless ``mapping`` is given."""
    import json

    doc = folder / "dataset.json"
    try:
        meta = json.loads(doc.read_text())
    except (OSError, ValueError, RecursionError) as err:
        raise InputError(
            doc, f"is not valid JSON ({type(err).__name__}: {str(err)[:120]}).", "Fix or restore the file."
        ) from None
    if not isinstance(meta, dict):
        raise InputError(doc, "does not hold a JSON object.", "Fix or restore the file.")
    ending = meta.get("file_ending", ".nii.gz")
    if not isinstance(ending, str) or not ending.startswith(".") or "/" in ending or "\\" in ending:
        raise InputError(
            doc,
            f"its 'file_ending' {repr(ending)[:40]} is not a file name ending.",
            'Give the ending of its image files, e.g. "file_ending": ".nii.gz".',
        )
    if mapping is None:
        names = {v: k for k, v in label_values(meta.get("labels", {}), doc).items() if v != 0}
        unknown = [n for n in names.values() if n not in DEFAULT_MAP.values()]
        if unknown:
            raise InputError(
                folder / "dataset.json",
                f"names labels napari-c2w does not know ({', '.join(unknown)}).",
                "Give --label-map to say which value is which structure (or ignore).",
            )
        mapping = names
    sources = []
    for image in sorted((folder / "imagesTr").glob(f"*{NNUNET_CHANNEL}{ending}")):
        case_id = image.name.removesuffix(ending).removesuffix(NNUNET_CHANNEL)
        label = folder / "labelsTr" / f"{case_id}{ending}"
        sources.append(
            Source(image, case_id=case_id, label_map=label if label.is_file() else None, mapping=mapping)
        )
    return sources


def find_sources(
    paths: list[str | Path],
    labels: dict[str, str | Path] | None = None,
    case_id: str | None = None,
    label_map: str | Path | None = None,
    mapping: dict[int, str] | None = None,
    *,
    label_value: int | None = None,
) -> Iterator[Source | InputError]:
    """Expand command-line sources into cases.

    A case folder (either challenge layout) or a case store is one case; a folder of
    case folders gives one case per subfolder; an nnU-Net raw dataset folder gives one case
    per training image; a volume file or DICOM folder is an image, to which ``labels``
    ({structure: file}) or a multi-label ``label_map`` file (split by ``mapping``, value ->
    structure; default 1 cavity, 2 wall, 3 scar) may be attached when it is the only
    source. Unusable sources are yielded as :class:`InputError` so a batch can go on.
    """
    labels = {check_structure(k): Path(v) for k, v in (labels or {}).items()}
    if (labels or label_map) and len(paths) != 1:
        raise InputError(
            None,
            "label files (--cavity/--wall/--scar/--labels) were given with several sources.",
            "Give exactly one image with its label files, or import case folders.",
        )
    extra = {"label_map": Path(label_map) if label_map else None, "label_value": label_value}
    if mapping is not None:
        extra["mapping"] = dict(mapping)
    for raw in paths:
        try:
            yield from _sources_of(Path(raw), labels, case_id, mapping, extra)
        except InputError as err:  # one bad source (e.g. its dataset.json) never stops the others
            yield err
        except OSError as err:  # e.g. a name longer than the file system allows
            yield InputError(
                raw, f"cannot be read ({err.strerror or err}).", "Check the path (and shorten the name)."
            )


def _sources_of(path: Path, labels, case_id, mapping, extra) -> Iterator[Source | InputError]:
    """The sources of one command-line path (see :func:`find_sources`)."""
    path = path.resolve()
    if not path.exists():
        yield InputError(path, "does not exist.", "Check the path.")
    elif path.is_dir() and (path / "dataset.json").is_file() and (path / "imagesTr").is_dir():
        yield from nnunet_sources(path, mapping)
    elif is_foreign_ome_zarr(path) or is_case_store(path) or detect_layout(path) or is_volume_file(path):
        yield Source(path, labels, case_id, **extra)
    elif path.is_dir():
        subs = sorted(p for p in path.iterdir() if p.is_dir() and _one_case(p))
        if subs:
            yield from (Source(p, label_value=extra["label_value"]) for p in subs)
        else:  # perhaps a DICOM series folder
            yield Source(path, labels, case_id, **extra)
    else:
        yield InputError(
            path,
            "is neither a volume file, a case folder nor a case store.",
            "Give NRRD/NIfTI/MetaImage files, DICOM or challenge case folders.",
        )


def _one_case(folder: Path) -> bool:
    return bool(detect_layout(folder) or is_case_store(folder) or is_foreign_ome_zarr(folder))


def read_ome_zarr_case(path: Path, label_value: int | None = None) -> Case:
    """Any tool's 3D OME-Zarr image as a case, as napari-c2w's reader opens it: the image with its
    scale and translation, and the label images named cavity, wall or scar as those structures
    (their non-zero voxels; others are left out with a warning).

    Raises:
        InputError: see :func:`.omezarr.read_ome_zarr`; a structure's label image with more than
            one foreground value (unless ``label_value`` picks one) or negative values.
    """
    import numpy as np

    from ..labels import STRUCTURES
    from .omezarr import read_ome_zarr

    ome = read_ome_zarr(path)
    case = Case(image=ome.image, case_id=ome.name, sources={"image": str(path)})
    others = sorted(n for n in ome.labels if n not in STRUCTURES)
    if others:
        log.warning(
            "%s: label image(s) %s not imported: napari-c2w takes label images named %s.",
            path,
            ", ".join(others),
            ", ".join(STRUCTURES),
        )
    for name in (n for n in STRUCTURES if n in ome.labels):
        mask = _structure_mask(ome.labels[name], path, name, label_value)
        where = f"{path}/labels/{name}"
        case.set_label(name, mask.astype(np.uint8), provenance_entry("import", name, source=where))
        case.sources[name] = where
    return case


def _structure_mask(array, path: Path, name: str, label_value: int | None):
    import numpy as np

    values = np.unique(array)
    shown = ", ".join(f"{v:g}" for v in values[:8]) + (", ..." if len(values) > 8 else "")
    if label_value is not None:
        if label_value not in values:
            raise InputError(
                path,
                f"its label image {name!r} holds no voxel of value {label_value} (values: {shown}).",
                "Pass one of its values to --label-value.",
            )
        return array == label_value
    foreground = values[values != 0]
    if len(foreground) > 1 or (foreground < 0).any() or (foreground % 1 != 0).any():
        raise InputError(
            path,
            f"its label image {name!r} holds values {shown}, not one foreground value, so it is not "
            f"one {name} mask.",
            f"Pass --label-value N to take the voxels of value N as the {name}.",
        )
    return array != 0


def load_source(source: Source) -> Case:
    """Read one source into a case (labels checked against the image grid).

    Raises:
        InputError: the image is constant (all zero, or one value everywhere), a label
            does not fit the image, or the case id is not a plain name.
    """
    check_case_id(source.name, source.path)
    if is_foreign_ome_zarr(source.path):
        case = read_ome_zarr_case(source.path, source.label_value)
    elif is_case_store(source.path):
        case = read_case_store(source.path)
    elif detect_layout(source.path):
        case = read_case_folder(source.path, label_value=source.label_value)
    else:
        image = read_volume(source.path)
        case = Case(image=image, case_id=source.name, sources={"image": str(source.path)})
    check_image(case.image)
    for structure, file in source.labels.items():
        mask = read_label_volume(file, like=case.image, label_value=source.label_value).array
        case.set_label(structure, mask, provenance_entry("import", structure, source=str(file)))
        case.sources[structure] = str(file)
    if source.label_map is not None:
        mapping = ",".join(f"{v}={s}" for v, s in sorted(source.mapping.items()))
        for structure, mask in read_label_map(source.label_map, case.image, source.mapping).items():
            entry = provenance_entry("import", structure, source=str(source.label_map), label_map=mapping)
            case.set_label(structure, mask, entry)
            case.sources[structure] = str(source.label_map)
    case.case_id = source.name
    return case


def check_image(image: Volume) -> None:
    """Refuse a constant image; warn about oblique axes and slices thicker than 4 mm."""
    lo, hi = image.array.min(), image.array.max()
    if lo == hi:
        raise InputError(
            image.path,
            f"is constant (every voxel is {lo:g}), so it holds no anatomy to segment or annotate.",
            "Check that this is the LGE series and not an empty export or a mask.",
        )
    name = image.path or "the image"
    if image.is_oblique:
        log.warning(
            "%s: warning: oblique axes (direction %s); napari shows it axis-aligned, and measurements "
            "in mm stay correct.",
            name,
            ", ".join(f"{d:.3g}" for d in image.direction),
        )
    if max(image.spacing) > THICK_SLICE_MM:
        log.warning(
            "%s: warning: slices %.1f mm thick (spacing %s mm); the models were trained on <= 2.5 mm, "
            "so expect coarser wall and scar.",
            name,
            max(image.spacing),
            ", ".join(f"{s:g}" for s in image.spacing),
        )


def import_case(source: Source, output: str | Path, *, overwrite: bool = False) -> Path:
    """Import one source into ``output/<case>.ome.zarr``; returns the store path.

    Importing what the store already holds (the same image and the same labels) writes
    nothing, so that repeated imports leave its provenance and revision as they are.
    """
    case = load_source(source)
    target = store_path(output, case.case_id)
    if _already_stored(case, target):
        log.info("%s: %s already holds this image and these labels; nothing to write", source.path, target)
        return target
    return write_case_store(
        case,
        target,
        overwrite=overwrite,
        entry=provenance_entry("import", source=str(source.path), structures=case.structures),
    )


def _already_stored(case: Case, target: Path) -> bool:
    """True when the store ``target`` holds ``case``'s image (voxels and geometry) and labels."""
    import numpy as np

    from ..errors import C2WError

    if not is_case_store(target):
        return False
    try:
        old = read_case_store(target)
    except (C2WError, OSError, ValueError):
        return False  # the write reports what is wrong with it
    same_image = (
        old.image.shape == case.image.shape
        and old.image.array.dtype == case.image.array.dtype
        and np.array_equal(old.image.array, case.image.array)
        and np.allclose(old.image.spacing, case.image.spacing)
        and np.allclose(old.image.origin, case.image.origin)
        and np.allclose(old.image.direction, case.image.direction)
    )
    return same_image and all(
        name in old.labels and np.array_equal(old.labels[name], mask) for name, mask in case.labels.items()
    )
