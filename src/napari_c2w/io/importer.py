"""Build a dataset of case stores from challenge case folders and image/label files.

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
from .layouts import detect_layout, read_case_folder
from .store import STORE_SUFFIX, is_case_store, read_case_store, store_path, write_case_store
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
    label_value: int | None = None

    @property
    def name(self) -> str:
        if self.case_id:
            return self.case_id
        name = self.path.name
        for suffix in (STORE_SUFFIX, ".nii.gz", ".nrrd", ".nhdr", ".nii", ".mha", ".mhd"):
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name


def find_sources(
    paths: list[str | Path],
    labels: dict[str, str | Path] | None = None,
    case_id: str | None = None,
    label_value: int | None = None,
) -> Iterator[Source | InputError]:
    """Expand command-line sources into cases.

    A case folder (either challenge layout) or a case store is one case; a folder of
    case folders gives one case per subfolder; a volume file or DICOM folder is an
    image, to which ``labels`` ({structure: file}) may be attached when it is the only
    source. Unusable sources are yielded as :class:`InputError` so a batch can go on.
    """
    labels = {check_structure(k): Path(v) for k, v in (labels or {}).items()}
    if labels and len(paths) != 1:
        raise InputError(
            None,
            "label files (--cavity/--wall/--scar) were given with several sources.",
            "Give exactly one image with its label files, or import case folders.",
        )
    for raw in paths:
        path = Path(raw).resolve()
        if not path.exists():
            yield InputError(path, "does not exist.", "Check the path.")
        elif is_case_store(path) or detect_layout(path) or is_volume_file(path):
            yield Source(path, labels, case_id, label_value)
        elif path.is_dir():
            subs = sorted(p for p in path.iterdir() if p.is_dir() and (detect_layout(p) or is_case_store(p)))
            if subs:
                yield from (Source(p, label_value=label_value) for p in subs)
            else:  # perhaps a DICOM series folder
                yield Source(path, labels, case_id, label_value)
        else:
            yield InputError(
                path,
                "is neither a volume file, a case folder nor a case store.",
                "Give NRRD/NIfTI/MetaImage files, DICOM or challenge case folders.",
            )


def load_source(source: Source) -> Case:
    """Read one source into a case (labels checked against the image grid).

    Raises:
        InputError: the image is constant (all zero, or one value everywhere), a label
            does not fit the image, or the case id is not a plain name.
    """
    check_case_id(source.name)
    if is_case_store(source.path):
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
    """Import one source into ``output/<case>.ome.zarr``; returns the store path."""
    case = load_source(source)
    return write_case_store(
        case,
        store_path(output, case.case_id),
        overwrite=overwrite,
        entry=provenance_entry("import", source=str(source.path), structures=case.structures),
    )
