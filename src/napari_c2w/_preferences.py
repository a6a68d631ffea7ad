"""napari's reader preferences: make napari-c2w the reader of medical volume files.

napari asks which reader to use when several plugins accept a file, and its builtin reader
(imageio) accepts ``.nrrd``, ``.nii`` and ``.mha`` too: it opens them at scale 1 in pixels, so
the physical geometry is lost without a word. When napari activates this plugin (its first
widget, sample, reader or writer call) :func:`activate` records napari-c2w as the preferred
reader of the medical suffixes in napari's own setting, *Preferences ▸ Plugins ▸ File extension
readers* (``settings.plugins.extension2reader``): the same entry the reader dialog's "Remember
this choice" writes. Patterns the user has already given to a reader are left alone, and the
user can change or remove the entries there at any time.
"""

from __future__ import annotations

PLUGIN = "napari-c2w"

#: The suffixes only a medical-image reader reads with their geometry. ``*.zarr`` and folders are
#: left to napari's choice: other OME-Zarr readers may fit them better.
MEDICAL_PATTERNS: tuple[str, ...] = ("*.nrrd", "*.nhdr", "*.nii", "*.nii.gz", "*.mha", "*.mhd")


def claim_reader_patterns(settings=None) -> list[str]:
    """Prefer napari-c2w for :data:`MEDICAL_PATTERNS` the user has not assigned; return those set."""
    if settings is None:
        from napari.settings import get_settings

        settings = get_settings()
    current = dict(settings.plugins.extension2reader)
    added = [p for p in MEDICAL_PATTERNS if p not in current]
    if added:
        settings.plugins.extension2reader = {**current, **dict.fromkeys(added, PLUGIN)}
    return added


def claim_reader_patterns_quietly() -> None:
    """:func:`claim_reader_patterns`, never failing its caller (a broken settings file stays as it is).

    Called where napari-c2w first runs inside napari: npe2's ``on_activate`` hook (napari 0.9
    does not call it for plugins whose commands are all declared), the reader, the sample data
    and the Segment widget. A File ▸ Open before any of these still shows napari's reader
    dialog; the Segment widget warns about an image opened without its geometry.
    """
    import sys

    if "napari" not in sys.modules:  # the headless core, or a script: napari's settings are not ours
        return
    try:
        claim_reader_patterns()
    except Exception:  # a preference must never stop the plugin from working
        import logging

        logging.getLogger(__name__).warning("could not make napari-c2w the reader of NRRD/NIfTI/MetaImage")


def activate(ctx=None) -> None:
    """npe2's ``on_activate`` hook."""
    claim_reader_patterns_quietly()
