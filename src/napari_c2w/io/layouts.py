"""The on-disk layouts napari-c2w knows: the public challenges' case folders.

One place for the file names of each layout; the reader, ``napari-c2w import`` and the
phantom writer all use this table.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .case import Case, provenance_entry
from .volume import Volume, read_label_volume, read_volume
from .volumewrite import write_volume

#: layout name -> image file and structure label files.
LAYOUTS: dict[str, dict] = {
    "utah": {
        "image": "lgemri.nrrd",
        "labels": {"cavity": "laendo.nrrd", "wall": "lawall.nrrd"},
        "label_value": 255,
        "image_dtype": "uint8",
    },
    "lascarqs": {
        "image": "enhanced.nii.gz",
        "labels": {"cavity": "atriumSegImgMO.nii.gz", "scar": "scarSegImgM.nii.gz"},
        "label_value": 1,
        "image_dtype": "int16",
    },
}
#: Every label file name any layout uses -> structure.
LABEL_FILES = {f: s for spec in LAYOUTS.values() for s, f in spec["labels"].items()}


def detect_layout(folder: str | Path) -> str | None:
    """The layout whose image file ``folder`` holds, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    for name, spec in LAYOUTS.items():
        if (folder / spec["image"]).is_file():
            return name
    return None


def structure_of_label_file(path: str | Path) -> str | None:
    """The structure a challenge label file holds, judged by its name."""
    return LABEL_FILES.get(Path(path).name)


def read_case_folder(folder: str | Path, layout: str | None = None, label_value: int | None = None) -> Case:
    """Read a challenge case folder: the image and whichever label files are present.

    ``label_value`` picks one value of multi-label files (see :func:`read_label_volume`).
    """
    folder = Path(folder)
    layout = layout or detect_layout(folder)
    if layout is None:
        known = "; ".join(f"{k}: {v['image']}" for k, v in LAYOUTS.items())
        raise InputError(
            folder, "is not a case folder of a known layout.", f"Expected an image file ({known})."
        )
    spec = LAYOUTS[layout]
    image = read_volume(folder / spec["image"])
    sources = {"image": str(folder / spec["image"])}
    labels, provenance = {}, []
    for structure, filename in spec["labels"].items():
        path = folder / filename
        if path.is_file():
            labels[structure] = read_label_volume(path, like=image, label_value=label_value).array
            sources[structure] = str(path)
            provenance.append(provenance_entry("import", structure, source=str(path), layout=layout))
    return Case(
        image=image,
        labels=labels,
        case_id=folder.name,
        sources=sources,
        provenance=provenance,
        attrs={"layout": layout},
    )


def write_case_folder(case: Case, folder: str | Path, layout: str, *, overwrite: bool = False) -> Path:
    """Write ``case`` as a challenge case folder (used for phantoms and exports)."""
    import numpy as np

    spec = LAYOUTS[layout]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    image = case.image.array
    if spec["image_dtype"] == "uint8":
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    else:
        image = np.clip(np.rint(image), -32768, 32767).astype(np.int16)
    write_volume(case.image.with_array(image), folder / spec["image"], overwrite=overwrite)
    for structure, filename in spec["labels"].items():
        if structure in case.labels:
            mask = (case.labels[structure] > 0).astype(np.uint8) * np.uint8(spec["label_value"])
            write_volume(
                Volume(mask, case.image.spacing, case.image.origin, case.image.direction),
                folder / filename,
                overwrite=overwrite,
            )
    return folder
