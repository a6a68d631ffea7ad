"""Writing a volume: one SimpleITK single-file format, written atomically and read back whole.

SimpleITK reports no full disk and reads a cut file without complaint, so every written file is
checked (:func:`check_written_volume`: the whole gzip stream, then every voxel) under a
temporary name before it is renamed into place (:class:`~napari_c2w._fs.AtomicFiles`).
"""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np

from .._fs import AtomicFiles
from .volume import Volume, _first_line, to_sitk


def write_volume(
    volume: Volume, path: str | Path, *, overwrite: bool = False, files: AtomicFiles | None = None
) -> Path:
    """Write ``volume`` with SimpleITK to a single-file format, atomically and checked.

    The file is written under a temporary name no consumer lists, read back (the whole gzip
    stream and every voxel: SimpleITK reports no full disk and reads a cut file without
    complaint), then renamed into place (:class:`~napari_c2w._fs.AtomicFiles`).

    Args:
        volume: what to write.
        path: ``.nii.gz``, ``.nii``, ``.nrrd`` or ``.mha``.
        overwrite: replace an existing file (ignored with ``files``: the set's setting counts).
        files: a set of files to join; the file is committed with it, not before.

    Raises:
        FileExistsError: ``path`` exists and overwriting is off.
        OSError: the file could not be written whole (e.g. a full disk): nothing is left
            under ``path``.
    """
    import SimpleITK as sitk

    path = Path(path)
    if str(path).lower().endswith((".mhd", ".nhdr")):
        raise ValueError(f"{path}: write a single-file format (.nii.gz, .nrrd, .mha), not a detached header")
    if files is None:
        with AtomicFiles(overwrite=overwrite) as own:
            return write_volume(volume, path, files=own)
    tmp = files.temp(path, keep_name=True, verify=lambda written: check_written_volume(written, volume))
    try:
        sitk.WriteImage(to_sitk(volume), str(tmp), useCompression=True)
    except RuntimeError as err:
        raise OSError(errno.EIO, f"SimpleITK could not write it ({_first_line(err)})", str(path)) from None
    return path


def check_written_volume(path: str | Path, volume: Volume) -> None:
    """Raise unless the file ``path`` holds all of ``volume``'s voxels (a written file's check).

    Raises:
        OSError: a cut stream or other voxels (errno EIO).
        InputError: the header and the bytes disagree (:func:`.filecheck.check_volume_file`).
    """
    import SimpleITK as sitk

    from .filecheck import check_volume_file

    path = Path(path)
    check_volume_file(path)  # a .nii.gz decompressed to its end (CRC and length), raw NRRD sizes
    if path.name.lower().endswith(".nrrd"):
        check_nrrd_stream(path)
    try:
        back = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    except RuntimeError as err:
        raise OSError(errno.EIO, f"SimpleITK cannot read it back ({_first_line(err)})", str(path)) from None
    want = np.asarray(volume.array)
    floating = np.issubdtype(want.dtype, np.floating)
    if back.shape != want.shape or not np.array_equal(back, want, equal_nan=floating):
        raise OSError(errno.EIO, "it reads back other voxels than were written", str(path))


def check_nrrd_stream(path: str | Path) -> None:
    """Raise ``OSError`` (EIO) if an attached NRRD's gzip-encoded data stops before its end."""
    import zlib

    with open(path, "rb") as fh:
        header = []
        for line in fh:
            if not line.strip():
                break
            header.append(line.decode("latin-1").strip().lower())
        if not any(
            h.startswith("encoding:") and h.split(":", 1)[1].strip() in ("gzip", "gz") for h in header
        ):
            return
        if any(h.startswith(("data file:", "datafile:")) for h in header):
            return
        stream = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        while not stream.eof and (chunk := fh.read(1 << 20)):
            while chunk and not stream.eof:
                stream.decompress(chunk, 1 << 24)
                chunk = stream.unconsumed_tail
    if not stream.eof:
        raise OSError(errno.EIO, "its gzip-encoded voxel data is cut short", str(path))
