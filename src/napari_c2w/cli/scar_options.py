"""The scar-method and surface options of ``napari-c2w report`` (kept apart from report_cmd).

``--scar-method network iir sd`` adds each method's burden and their agreement to the rows (the
choices and each method's options, ``--iir`` and ``--sd-k``, come from
:data:`napari_c2w.quantify.METHODS`),
``--regions`` the surface burdens and per-region columns, ``--surface-dir DIR`` writes each
case's surface (``DIR/<case>.vtk/.vtp/.ply`` and ``DIR/<case>_regions.csv``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..quantify import METHODS
from ..quantify.blood import ERODE_MM
from ..surface.export import FORMATS
from . import band_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scar methods and the atrial surface")
    offered = ", ".join(f"{m.name} ({m.help})" if m.help else m.name for m in METHODS.values())
    g.add_argument(
        "--scar-method",
        nargs="+",
        choices=tuple(METHODS),
        default=None,
        metavar="METHOD",
        help=f"scar burden by each of {offered}, with Dice and burden difference per pair",
    )
    for m in METHODS.values():
        for par in m.params:
            g.add_argument(
                "--" + par.name.replace("_", "-"), type=float, default=par.default, help=par.help or par.label
            )
    g.add_argument(
        "--erode-mm", type=float, default=ERODE_MM, help="cavity erosion giving the blood pool (default 3 mm)"
    )
    g.add_argument("--regions", action="store_true", help="add surface burdens and per-region columns")
    g.add_argument(
        "--surface-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="write each case's endocardial surface with its point arrays (DIR/<case>.vtk, .vtp, "
        ".ply) and its region table (DIR/<case>_regions.csv)",
    )
    g.add_argument(
        "--surface-format",
        nargs="+",
        choices=FORMATS,
        default=list(FORMATS),
        help="files written per case with --surface-dir (default: all; vtk, vtp and ply need VTK: "
        "the [surface] extra)",
    )


def scar_params(args: argparse.Namespace) -> dict[str, float]:
    """The scar methods' parameters given on the command line (or their defaults)."""
    return {par.name: getattr(args, par.name) for m in METHODS.values() for par in m.params}


def columns(args: argparse.Namespace) -> list[str]:
    """Extra CSV columns for these options."""
    from ..surface.report import method_columns, region_columns

    cols = method_columns(args.scar_method) if args.scar_method else []
    if args.regions:
        cols += region_columns()
    return cols


def extra_row(case, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """(extra cells, notes) of one case; writes its surface when ``--surface-dir`` is given."""
    row: dict = {}
    notes: list[str] = []
    if args.scar_method:
        from ..surface.report import method_row

        cells, _ = method_row(
            case,
            args.scar_method,
            params=scar_params(args),
            erode_mm=args.erode_mm,
            band_spec=band_options.band_spec(args),
        )
        note = cells.pop("notes", "")
        row.update(cells)
        notes += [note] if note else []
    if args.regions or args.surface_dir:
        if "cavity" not in case.labels:
            return row, [*notes, "no cavity label: no surface"]
        from ..surface.build import case_surface
        from ..surface.report import region_row

        surface = case_surface(case, params=scar_params(args), erode_mm=args.erode_mm)
        if args.regions:
            row.update(region_row(surface))
        if args.surface_dir:
            from .._fs import confined
            from ..surface.export import write_surface

            stem = confined(args.surface_dir, case.case_id)
            write_surface(surface, stem, args.surface_format, overwrite=args.overwrite)
    return row, notes
