"""The 3D Slicer export format (``seg.nrrd``): named, coloured segments with their terminology.

Registered lazily in :data:`napari_c2w.io.export.FORMATS` (slicerio is imported only to write).
Overlapping segments are kept in separate layers, so the export is exact.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._fs import AtomicFiles, confined
from ..labels import COLORS, TERMINOLOGY
from .case import Case
from .export import PRECEDENCE, Exported, ExportFormat, check_new
from .volume import Volume
from .volumewrite import write_volume


def ijk_to_lps(volume: Volume) -> np.ndarray:
    """The 4x4 matrix from voxel (i, j, k) = (x, y, z) indices to LPS millimetres (ITK's convention)."""
    direction = np.asarray(volume.direction, float).reshape(3, 3)
    matrix = np.eye(4)
    matrix[:3, :3] = direction @ np.diag(volume.spacing[::-1])
    matrix[:3, 3] = volume.origin[::-1]
    return matrix


class SlicerSegmentation(ExportFormat):
    """``<case>.nrrd`` image and ``<case>.seg.nrrd``: named, coloured 3D Slicer segments (slicerio),
    each with its DICOM/SNOMED CT terminology entry (:func:`slicer_terminology`)."""

    name = "seg.nrrd"

    def write_case(self, case: Case, out: Path, structures: Sequence[str], overwrite: bool) -> Exported:
        import slicerio

        image = check_new(confined(out, f"{case.case_id}.nrrd"), overwrite)
        seg_path = check_new(confined(out, f"{case.case_id}.seg.nrrd"), overwrite)
        shape_ijk = case.image.shape[::-1]
        seg = slicerio.create_segmentation(shape_ijk, ijk_to_lps(case.image))
        present = [s for s in PRECEDENCE if s in structures and s in case.labels]
        for s in present:
            rgba = np.asarray(COLORS[s][:3], float) / 255.0
            mask = (np.asarray(case.labels[s]) != 0).transpose(2, 1, 0)
            slicerio.add_segment(
                seg,
                mask,
                {"id": s, "name": s, "color": [float(c) for c in rgba], "terminology": slicer_terminology(s)},
            )
        if not present:  # slicerio writes no file without a segment array; keep an empty labelmap
            seg["voxels"] = np.zeros(shape_ijk, np.uint8)
        with AtomicFiles(overwrite=overwrite, crash="export") as files:
            write_volume(case.image, image, files=files)
            tmp = files.temp(seg_path, keep_name=True, verify=lambda p: _check_segmentation(p, seg))
            slicerio.write_segmentation(str(tmp), seg)
        return Exported(case.case_id, present, [image, seg_path])


#: The terminology context of :data:`napari_c2w.labels.TERMINOLOGY` in 3D Slicer.
SLICER_CONTEXT = "Segmentation category and type - DICOM master list"
SLICER_ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"


def slicer_terminology(structure: str) -> dict:
    """The segment's ``terminology`` for slicerio (written as Slicer's ``TerminologyEntry`` tag):
    the structure's DICOM/SNOMED CT category, type and anatomic region
    (:data:`napari_c2w.labels.TERMINOLOGY`), so Slicer shows what the segment is."""
    category, kind, region = TERMINOLOGY[structure]
    term = {
        "contextName": SLICER_CONTEXT,
        "category": list(category),
        "type": list(kind),
        "anatomicContextName": SLICER_ANATOMIC_CONTEXT,
    }
    if region is not None:
        term["anatomicRegion"] = list(region)
    return term


def _check_segmentation(path: Path, seg: dict) -> None:
    """Raise unless the written ``.seg.nrrd`` holds all of ``seg``'s voxels."""
    import nrrd

    from .volumewrite import check_nrrd_stream

    check_nrrd_stream(path)
    data, _header = nrrd.read(str(path))  # slicerio writes with pynrrd, index order F
    if not np.array_equal(data, np.asarray(seg["voxels"])):
        raise OSError(errno.EIO, "it reads back other voxels than were written", str(path))


SLICER = SlicerSegmentation()
