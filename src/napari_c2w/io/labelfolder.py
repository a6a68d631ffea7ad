"""The label folder: one folder a case, one file a structure (``napari-c2w predict --format nifti``).

``<out>/<case>/`` holds ``<structure><suffix>`` (uint8 0/1 on the image grid) for each structure,
the extra maps a prediction asks for (``<structure>_probability<suffix>``,
``uncertainty<suffix>``; float32) and ``prediction.json``: the case's prediction record
(models, quality, ROI, timings; only the case id where no prediction made the case) with its
provenance. The folder is written whole in a temporary folder and swapped in by the one commit
of :mod:`.commit` (the lock, the journal, :func:`~.commit.recover`), so a killed or failing
write leaves the earlier folder or none, never a half-written one; ``--resume`` and the next
write clean up after it. Registered in :data:`napari_c2w.io.export.FORMATS` as ``nifti-folder``
and ``nrrd-folder``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._fs import confined, crash_point, sweep_temps
from ..labels import STRUCTURES
from .case import Case
from .commit import commit_folder, recover, store_lock
from .export import Exported, ExportFormat, check_new
from .volumewrite import write_volume

#: The record every label folder holds; the folder is complete when it is there.
RECORD = "prediction.json"


class LabelFolder(ExportFormat):
    """``<case>/<structure><suffix>`` per structure and ``<case>/prediction.json``."""

    def __init__(self, name: str, suffix: str) -> None:
        self.name, self.suffix = name, suffix

    def finish(self, out: Path, exported: list[Exported], structures: Sequence[str]) -> list[Path]:
        return []  # every folder is whole by itself

    def write_case(
        self,
        case: Case,
        out: Path,
        structures: Sequence[str],
        overwrite: bool,
        maps: dict[str, np.ndarray] | None = None,
    ) -> Exported:
        """Write ``case`` as the folder ``out/<case id>``, replacing one there with ``overwrite``.

        Args:
            maps: float maps on the image grid to write too, by file stem (e.g.
                ``cavity_probability``, ``uncertainty``).

        Raises:
            InputError: the folder exists and ``overwrite`` is off.
            StoreError: another process is writing the same folder.
        """
        target = confined(out, case.case_id)
        present = [s for s in STRUCTURES if s in structures and s in case.labels]
        names = [f"{s}{self.suffix}" for s in present] + [f"{m}{self.suffix}" for m in maps or {}]
        record = {**case.attrs.get("prediction", {"case_id": case.case_id}), "provenance": case.provenance}

        def write(tmp: Path) -> None:
            tmp.mkdir(parents=True)
            for s in present:
                write_volume(case.image.with_array(case.labels[s]), tmp / f"{s}{self.suffix}")
                crash_point("label-file-written")
            for stem, array in (maps or {}).items():
                volume = case.image.with_array(np.asarray(array, np.float32))
                write_volume(volume, tmp / f"{stem}{self.suffix}")
            (tmp / RECORD).write_text(json.dumps(record, indent=1, default=str))

        sweep_temps(out)  # the temporary folders of earlier versions' killed writes
        with store_lock(target):
            recover(target)
            check_new(target, overwrite)
            commit_folder(target, write)
        return Exported(case.case_id, present, [target / n for n in [*names, RECORD]])


NIFTI_FOLDER = LabelFolder("nifti-folder", ".nii.gz")
NRRD_FOLDER = LabelFolder("nrrd-folder", ".nrrd")
