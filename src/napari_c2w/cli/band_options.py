"""``--inner-mm`` / ``--outer-mm``: the wall band of ``napari-c2w review`` and ``report``, as one
:class:`napari_c2w.quantify.BandSpec`."""

from __future__ import annotations

import argparse

from ..quantify.band import BandSpec


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the band's two options to ``p``."""
    band = BandSpec()
    p.add_argument(
        "--inner-mm",
        type=float,
        default=band.inner_mm,
        help=f"band depth inside the cavity (scar beyond is implausible; default {band.inner_mm} mm)",
    )
    p.add_argument(
        "--outer-mm",
        type=float,
        default=band.outer_mm,
        help=f"band reach outside the cavity (also the scar region without a wall label; default "
        f"{band.outer_mm} mm)",
    )


def band_spec(args: argparse.Namespace) -> BandSpec:
    """The wall band of ``--inner-mm`` / ``--outer-mm``."""
    return BandSpec(args.inner_mm, args.outer_mm)
