"""Ways out: case stores as the files other tools read, one small registry of formats.

Each format is an :class:`ExportFormat` in :data:`FORMATS`: ``write_case`` writes one case into
the output folder and returns what it wrote; ``finish`` writes what belongs to the whole export
(a value map, ``dataset.json``, splits). A new format (e.g. surface meshes) is one more class
registered with :func:`register`; ``napari-c2w export --format``, ``napari-c2w predict --format``
and the Export widget list whatever is registered. An entry may be lazy, ``"module:attr"``: the
label folders (:mod:`.labelfolder`), 3D Slicer's segmentations (:mod:`.slicer`, slicerio) and
the atrial surface (:mod:`napari_c2w.surface.export`, a higher floor with VTK behind it) are
listed without being imported.

Multi-label maps (``nifti``, ``nrrd``, ``nnunet``) hold one value a voxel, by the project's
label map (:data:`napari_c2w.labels.LABELS`: 0 background, 1 cavity, 2 wall, 3 scar). Where
structures overlap, the later one in :data:`PRECEDENCE` wins (scar over wall over cavity); the
overlaps are counted per case and written to ``label_map.json``, so nothing is lost unseen.
The 3D Slicer format (``seg.nrrd``) keeps overlapping segments in separate layers: it is exact.

Nothing corrupt under a final name: each case's files are written under temporary names no
consumer lists, checked (read back whole) and renamed into place together
(:class:`napari_c2w._fs.AtomicFiles`; crash points ``export-written``, ``export-renamed``,
``export-committed``); a full disk or any write error fails the case by name and leaves none of
its files. The files of the whole export (``label_map.json``; nnU-Net's ``splits_final.json``
then ``dataset.json``) are written the same way, after every case, so they only ever describe
cases whose files are complete. An nnU-Net dataset is recognisably incomplete while an export
into it runs or after one was interrupted: ``dataset.json`` is removed before the first case
file goes in and written last. An interrupted export is finished by running it again with
``--overwrite`` (``overwrite=True``), which also removes the interrupted run's temporaries.
Two cases with one case id are refused (:func:`check_unique_ids`): one would replace the other.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from .._fs import AtomicFiles, confined, fsync_dir
from ..errors import InputError
from ..labels import LABELS, STRUCTURES
from .case import Case
from .volumewrite import write_volume

#: Structures in the order they are painted into a multi-label map: a later one wins a voxel.
PRECEDENCE: tuple[str, ...] = ("cavity", "wall", "scar")


@dataclasses.dataclass
class Exported:
    """What one case became: the files written and the overlapping voxels resolved."""

    case_id: str
    structures: list[str]
    files: list[Path]
    overlaps: dict[str, int] = dataclasses.field(default_factory=dict)


def multilabel(case: Case, structures: Sequence[str] = STRUCTURES) -> tuple[np.ndarray, dict[str, int]]:
    """One uint8 map of ``structures`` by the label map, and the voxels each overlap resolved.

    Returns:
        The map, and ``{"wall over cavity": n, ...}`` for every pair that overlaps (n > 0).
    """
    out = np.zeros(case.image.shape, np.uint8)
    overlaps: dict[str, int] = {}
    order = [s for s in PRECEDENCE if s in structures and s in case.labels]
    for k, structure in enumerate(order):
        mask = np.asarray(case.labels[structure]) != 0
        for earlier in order[:k]:
            n = int(np.count_nonzero(mask & (np.asarray(case.labels[earlier]) != 0)))
            if n:
                overlaps[f"{structure} over {earlier}"] = n
        out[mask] = LABELS[structure]
    return out, overlaps


def check_new(path: Path, overwrite: bool) -> Path:
    """``path``, unless it exists and ``overwrite`` is off (InputError saying what to do)."""
    if path.exists() and not overwrite:
        raise InputError(path, "exists.", "Pass --overwrite to replace it, or export to an empty folder.")
    return path


def _label_map_doc(structures: Sequence[str]) -> dict:
    return {
        "values": {"background": 0, **{s: LABELS[s] for s in PRECEDENCE if s in structures}},
        "precedence": "where structures overlap the later one wins: " + " < ".join(PRECEDENCE),
    }


class ExportFormat:
    """One way out. Subclasses set ``name``, ``help`` and ``suffix`` and implement ``write_case``."""

    name: str = ""
    help: str = ""

    def check_output(self, out: Path) -> None:
        """Refuse an output folder this format cannot use (before any case is read)."""

    def write_case(self, case: Case, out: Path, structures: Sequence[str], overwrite: bool) -> Exported:
        raise NotImplementedError

    def finish(self, out: Path, exported: list[Exported], structures: Sequence[str]) -> list[Path]:
        """Write what belongs to the whole export; the default: ``label_map.json``."""
        doc = _label_map_doc(structures)
        doc["cases"] = {e.case_id: {"structures": e.structures, "overlaps": e.overlaps} for e in exported}
        with AtomicFiles(overwrite=True, crash="export") as files:
            return [files.write_text(out / "label_map.json", json.dumps(doc, indent=2) + "\n")]


class MultiLabelVolume(ExportFormat):
    """``<case>_image<suffix>`` and ``<case>_labels<suffix>`` (one multi-label map) per case."""

    def __init__(self, name: str, suffix: str, what: str) -> None:
        self.name, self.suffix = name, suffix
        self.help = f"{what}: <case>_image{suffix} + <case>_labels{suffix} (0 bg, 1 cavity, 2 wall, 3 scar)"

    def write_case(self, case: Case, out: Path, structures: Sequence[str], overwrite: bool) -> Exported:
        labels, overlaps = multilabel(case, structures)
        image = check_new(confined(out, f"{case.case_id}_image{self.suffix}"), overwrite)
        label = check_new(confined(out, f"{case.case_id}_labels{self.suffix}"), overwrite)
        with AtomicFiles(overwrite=overwrite, crash="export") as files:
            write_volume(case.image, image, files=files)
            write_volume(case.image.with_array(labels), label, files=files)
        present = [s for s in PRECEDENCE if s in structures and s in case.labels]
        return Exported(case.case_id, present, [image, label], overlaps)


_NNUNET_NAME = re.compile(r"^Dataset\d{3}_[A-Za-z0-9_\-]+$")


class NnUNetRaw(ExportFormat):
    """An nnU-Net v2 raw dataset: ``imagesTr/<case>_0000.nii.gz``, ``labelsTr/<case>.nii.gz``,
    ``dataset.json`` and ``splits_final.json`` (5 folds; copy it to nnUNet_preprocessed)."""

    name = "nnunet"
    help = "nnU-Net v2 raw dataset (-o .../DatasetNNN_Name): imagesTr, labelsTr, dataset.json, splits"
    folds = 5

    def check_output(self, out: Path) -> None:
        if not _NNUNET_NAME.match(out.name):
            raise InputError(
                out,
                "is not an nnU-Net dataset folder name.",
                "Name it DatasetNNN_Name (three digits, e.g. Dataset501_LeftAtrium) inside nnUNet_raw.",
            )

    def write_case(self, case: Case, out: Path, structures: Sequence[str], overwrite: bool) -> Exported:
        missing = [s for s in structures if s not in case.labels]
        if missing:
            raise InputError(
                None,
                f"case {case.case_id} has no {', '.join(missing)} label; nnU-Net trains on cases that "
                f"hold every exported structure ({', '.join(structures)}).",
                "Leave it out, or choose the structures with --structures.",
            )
        labels, overlaps = multilabel(case, structures)
        image = check_new(confined(out / "imagesTr", f"{case.case_id}_0000.nii.gz"), overwrite)
        label = check_new(confined(out / "labelsTr", f"{case.case_id}.nii.gz"), overwrite)
        with AtomicFiles(overwrite=overwrite, crash="export") as files:
            write_volume(case.image, image, files=files)
            write_volume(case.image.with_array(_consecutive(labels, structures)), label, files=files)
            _mark_incomplete(out)  # before the first file goes in; finish() writes it last
        return Exported(case.case_id, list(structures), [image, label], overlaps)

    def finish(self, out: Path, exported: list[Exported], structures: Sequence[str]) -> list[Path]:
        written = super().finish(out, exported, structures)
        ordered = [s for s in PRECEDENCE if s in structures]
        dataset = {
            "channel_names": {"0": "LGE-MRI"},
            # consecutive values as nnU-Net requires: renumber when a structure is left out
            "labels": {"background": 0, **{s: k + 1 for k, s in enumerate(ordered)}},
            "numTraining": len(exported),
            "file_ending": ".nii.gz",
            "overwrite_image_reader_writer": "SimpleITKIO",
            "description": "Exported by napari-c2w; label_map.json lists the overlaps resolved",
        }
        splits = kfold_splits([e.case_id for e in exported], self.folds)
        with AtomicFiles(overwrite=True, crash="export") as files:  # dataset.json last
            files.write_text(out / "splits_final.json", json.dumps(splits, indent=2) + "\n")
            files.write_text(out / "dataset.json", json.dumps(dataset, indent=2) + "\n")
        return [*written, out / "dataset.json", out / "splits_final.json"]


def _consecutive(labels: np.ndarray, structures: Sequence[str]) -> np.ndarray:
    """The multi-label map with nnU-Net's consecutive values (1, 2, ... in PRECEDENCE order)."""
    lut = np.zeros(256, np.uint8)
    for k, s in enumerate(s for s in PRECEDENCE if s in structures):
        lut[LABELS[s]] = k + 1
    return lut[labels]


def _mark_incomplete(out: Path) -> None:
    """Remove ``dataset.json``: nnU-Net refuses the folder until the export finishes."""
    marker = out / "dataset.json"
    if marker.exists():
        marker.unlink()
        fsync_dir(out)


def kfold_splits(case_ids: Sequence[str], folds: int = 5, seed: int = 12345) -> list[dict[str, list[str]]]:
    """nnU-Net's ``splits_final.json``: ``folds`` train/val splits (fewer when there are fewer cases)."""
    ids = sorted(case_ids)
    folds = max(1, min(folds, len(ids)))
    order = np.random.default_rng(seed).permutation(len(ids))
    parts = [sorted(ids[i] for i in order[k::folds]) for k in range(folds)]
    if folds == 1:
        return [{"train": ids, "val": ids}]
    return [{"train": sorted(set(ids) - set(val)), "val": val} for val in parts]


class FormatRegistry(Mapping[str, ExportFormat]):
    """The export formats by ``--format`` name: instances, or lazy ``"module:attr"`` entries that are
    imported the first time the format is looked up, so that a format with heavy imports (the atrial
    surface's VTK writers) is listed, with its help, without importing it."""

    def __init__(self) -> None:
        self._entries: dict[str, ExportFormat | str] = {}
        self._help: dict[str, str] = {}

    def add(self, name: str, entry: ExportFormat | str, help: str) -> None:
        self._entries[name], self._help[name] = entry, help

    def __getitem__(self, name: str) -> ExportFormat:
        entry = self._entries[name]
        if isinstance(entry, str):
            import importlib

            module, _, attr = entry.partition(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attr)
        return entry

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def help(self, name: str) -> str:
        """The format's one-line description (without importing a lazy entry)."""
        return self._help[name]


FORMATS = FormatRegistry()


def register(fmt: ExportFormat | str, name: str | None = None, help: str | None = None) -> None:
    """Add a format to :data:`FORMATS`: an instance (its ``name`` and ``help``), or a lazy
    ``"module:attr"`` entry with its ``name`` and ``help``, imported when first used."""
    if isinstance(fmt, str):
        if name is None or help is None:
            raise ValueError(f"a lazy export format ({fmt}) needs its name and help")
        FORMATS.add(name, fmt, help)
    else:
        FORMATS.add(fmt.name, fmt, fmt.help)


register(MultiLabelVolume("nifti", ".nii.gz", "NIfTI"))
register(MultiLabelVolume("nrrd", ".nrrd", "NRRD"))
register(
    "napari_c2w.io.slicer:SLICER",
    "seg.nrrd",
    "3D Slicer: <case>.nrrd + <case>.seg.nrrd with named, coloured segments (overlaps kept)",
)
register(NnUNetRaw())
register(
    "napari_c2w.io.labelfolder:NIFTI_FOLDER",
    "nifti-folder",
    "NIfTI label folder: <case>/<structure>.nii.gz per structure + prediction.json",
)
register(
    "napari_c2w.io.labelfolder:NRRD_FOLDER",
    "nrrd-folder",
    "NRRD label folder: <case>/<structure>.nrrd per structure + prediction.json",
)
_SURFACE = "napari_c2w.surface.export"
register(
    f"{_SURFACE}:SURFACE",
    "surface",
    "atrial surface with scar/region point arrays: <case>.vtk, .vtp, .ply + region table .csv",
)
register(f"{_SURFACE}:VTK", "vtk", "atrial surface as legacy VTK (CemrgApp) <case>.vtk + region .csv")
register(f"{_SURFACE}:VTP", "vtp", "atrial surface as VTK XML polydata <case>.vtp + region .csv")
register(f"{_SURFACE}:PLY", "ply", "atrial surface as PLY <case>.ply + region .csv")


def export_format(fmt: str, out: str | Path, structures: Sequence[str] = STRUCTURES) -> ExportFormat:
    """The registered format ``fmt``, after checking it can write ``structures`` into ``out``.

    Raises:
        InputError: unknown format or structure, or an output folder the format cannot use.
    """
    if fmt not in FORMATS:
        raise InputError(None, f"unknown export format {fmt!r}.", f"Choose one of {', '.join(FORMATS)}.")
    unknown = [s for s in structures if s not in LABELS]
    if unknown:
        raise InputError(None, f"unknown structure {unknown[0]!r}.", f"Choose from {', '.join(STRUCTURES)}.")
    writer = FORMATS[fmt]
    writer.check_output(Path(out))
    Path(out).mkdir(parents=True, exist_ok=True)
    return writer


def export_cases(
    cases: Iterable[Case],
    out: str | Path,
    fmt: str,
    *,
    structures: Sequence[str] = STRUCTURES,
    overwrite: bool = False,
) -> list[Exported]:
    """Export ``cases`` to ``out`` in the format ``fmt`` (a key of :data:`FORMATS`).

    Raises:
        InputError: see :func:`export_format`; also a file that exists without ``overwrite``,
            two cases with one case id, or (nnU-Net) a case missing a structure.
        OSError: a file could not be written whole (e.g. a full disk); none of that case's
            files are left.
    """
    writer = export_format(fmt, out, structures)

    def source(k: int, case: Case) -> str:
        return str(case.store) if case.store else f"case {k + 1}"

    if isinstance(cases, Sequence):  # refuse before anything is written
        seen: dict[str, str] = {}
        for k, case in enumerate(cases):
            check_unique_ids(seen, case.case_id, source(k, case))
    sources: dict[str, str] = {}
    exported = []
    for k, case in enumerate(cases):
        check_unique_ids(sources, case.case_id, source(k, case))
        exported.append(writer.write_case(case, Path(out), structures, overwrite))
    writer.finish(Path(out), exported, structures)
    return exported


def check_unique_ids(seen: dict[str, str], case_id: str, source: str) -> None:
    """Record that ``source`` holds ``case_id`` in ``seen``; refuse an id seen before.

    Raises:
        InputError: naming both sources (their files would replace each other).
    """
    if case_id in seen:
        raise InputError(
            None,
            f"{seen[case_id]} and {source} both hold case id {case_id!r}; exported together, one "
            "would replace the other's files.",
            "Export them to different folders, or give one of them another case id.",
        )
    seen[case_id] = source
