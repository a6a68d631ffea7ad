"""Per-case report rows (volumes, thickness, scar, agreement with a reference) and their CSV file."""

from __future__ import annotations

import csv
import errno
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from .._fs import AtomicFiles
from ..io.case import Case
from ..labels import STRUCTURES
from ..metrics import compare_labels
from ..quantify import SMOOTH_MM, BandSpec, quantify

BASE_COLUMNS = [
    "case_id",
    "cavity_ml",
    "wall_ml",
    "thickness_mean_mm",
    "thickness_median_mm",
    "thickness_p5_mm",
    "thickness_p95_mm",
    "scar_ml",
    "scar_burden_pct",
    "burden_basis",
    "implausible_scar_voxels",
]


def metric_columns(tolerance_mm: float = 1.0) -> dict[str, str]:
    """Metric key -> column suffix; the surface Dice column names its tolerance (``surface_dice_2mm``)."""
    return {
        "dice": "dice",
        "surface_dice": f"surface_dice_{tolerance_mm:g}mm",
        "hd95_mm": "hd95_mm",
        "assd_mm": "assd_mm",
    }


def columns(
    with_reference: bool, structures: Sequence[str] = STRUCTURES, tolerance_mm: float = 1.0
) -> list[str]:
    """The CSV columns, in order."""
    cols = list(BASE_COLUMNS)
    if with_reference:
        metrics = metric_columns(tolerance_mm).values()
        cols += ["reference"] + [f"{s}_{c}" for s in structures for c in metrics]
    return [*cols, "notes"]


def case_row(
    case: Case,
    reference: Case | None = None,
    *,
    with_reference: bool = False,
    band_spec: BandSpec | None = None,
    smooth_mm: float = SMOOTH_MM,
    tolerance_mm: float = 1.0,
) -> dict:
    """One report row for ``case``, with agreement metrics when a reference case is given.

    Args:
        case: the case measured.
        reference: the reference case (same grid), or None.
        with_reference: add the metric columns (NaN with a note when ``reference`` is None).
        band_spec: the wall band (implausible scar, burden without wall); default :class:`BandSpec`.
        smooth_mm: thickness averaging.
        tolerance_mm: surface Dice tolerance.

    Raises:
        ValueError: the reference's grid differs from the case's.
    """
    labels = case.labels
    q = quantify(
        labels.get("cavity"),
        case.image.spacing,
        wall=labels.get("wall"),
        scar=labels.get("scar"),
        band_spec=band_spec,
        smooth_mm=smooth_mm,
    )
    row = {"case_id": case.case_id, **q.as_row()}
    notes = [row.pop("notes")] if row.get("notes") else []
    if with_reference:
        row["reference"] = "" if reference is None else str(reference.image.path or reference.case_id)
        metrics = metric_columns(tolerance_mm)
        for s in STRUCTURES:
            for c in metrics.values():
                row[f"{s}_{c}"] = math.nan
        if reference is None:
            notes.append("no reference case with this id")
        else:
            if reference.image.shape != case.image.shape:
                raise ValueError(
                    f"reference {reference.case_id} has shape {reference.image.shape} but the case "
                    f"has {case.image.shape}; they must share the grid"
                )
            for s, m in compare_labels(labels, reference.labels, case.image.spacing, tolerance_mm).items():
                for key, col in metrics.items():
                    row[f"{s}_{col}"] = m[key]
                if m["note"]:
                    notes.append(f"{s}: {m['note']}")
            missing = [s for s in STRUCTURES if (s in labels) != (s in reference.labels)]
            if missing:
                notes.append("not compared (in only one of case/reference): " + ", ".join(missing))
    row["notes"] = "; ".join(n for n in notes if n)
    return row


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def write_csv(
    rows: Iterable[dict],
    path: str | Path,
    cols: Sequence[str],
    overwrite: bool = False,
    files: AtomicFiles | None = None,
) -> Path:
    """Write rows atomically (:class:`~napari_c2w._fs.AtomicFiles`); NaN is written as an empty cell.

    With ``files`` the CSV joins that set of files and is committed with it.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if files is None:
        with AtomicFiles(overwrite=overwrite) as own:
            return _write_rows(rows, path, cols, own)
    return _write_rows(rows, path, cols, files)


def _write_rows(rows: Iterable[dict], path: Path, cols: Sequence[str], files: AtomicFiles) -> Path:
    lines = 0

    def whole(tmp: Path) -> None:
        with open(tmp, newline="", encoding="utf-8") as fh:
            text = fh.read()
        back = len(list(csv.reader(io.StringIO(text, newline=""))))
        if back != lines or not text.endswith("\n"):
            raise OSError(errno.EIO, f"it reads back {back} of {lines} rows")

    with open(files.temp(path, verify=whole), "w", newline="", encoding="utf-8") as fh:
        lines = write_rows(rows, fh, cols)
    return path


def write_rows(rows: Iterable[dict], stream, cols: Sequence[str]) -> int:
    """Write the header and ``rows`` as CSV to an open text stream (e.g. stdout, for ``-o -``);
    NaN is an empty cell. Returns the number of lines written."""
    writer = csv.DictWriter(stream, fieldnames=list(cols), extrasaction="ignore")
    writer.writeheader()
    lines = 1
    for row in rows:
        writer.writerow({k: _fmt(v) for k, v in row.items()})
        lines += 1
    return lines
