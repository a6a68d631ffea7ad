"""Refuse truncated or impossible volume files before SimpleITK reads (and allocates) them.

SimpleITK reads a truncated NIfTI without complaint and fills the missing slices with
zeros, and allocates whatever a header declares. :func:`check_volume_file` compares the
bytes a header declares with the bytes the file holds (for ``.nii.gz`` by decompressing
the stream up to the declared size, which also catches a cut gzip stream) and the declared
size with the memory available now. NRRD and MetaImage headers may name data files anywhere
on the machine: :mod:`.headers` refuses those outside the header's folder first.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

from ..errors import InputError
from .headers import Header, read_header

_COPY_AGAIN = "The file is truncated or corrupt; copy it again from its source."


def check_volume_file(path: Path) -> None:
    """Raise an :class:`InputError` naming ``path`` if it cannot hold the volume it declares, or
    (NRRD, MetaImage) names data files outside its folder (see :mod:`.headers`)."""
    if not path.is_file():
        raise InputError(path, "is not a regular file (a folder, device or FIFO).", "Give a volume file.")
    name = path.name.lower()
    if name.endswith(".nii"):
        with open(path, "rb") as fh:
            header = fh.read(540)
        expected, voxels = _nifti_bytes(header, path)
        check_memory(path, expected, voxels=voxels)
        size = path.stat().st_size
        if size < expected:
            raise InputError(
                path,
                f"holds {size} bytes but its NIfTI header declares {expected} "
                f"({100 * size / expected:.0f}% present).",
                _COPY_AGAIN,
            )
    elif name.endswith(".nii.gz"):
        _check_nifti_gz(path)
    elif name.endswith((".nrrd", ".nhdr", ".mha", ".mhd")):
        _check_header(path)


def _nifti_bytes(header: bytes, path: Path) -> tuple[int, int]:
    """vox_offset + the voxel data size a NIfTI-1/2 header declares, and its voxels."""
    if len(header) < 348:
        raise InputError(path, f"is only {len(header)} bytes long: not even a NIfTI header.", _COPY_AGAIN)
    for endian in "<>":
        sizeof_hdr = struct.unpack(f"{endian}i", header[:4])[0]
        if sizeof_hdr == 348:
            dims = struct.unpack(f"{endian}8h", header[40:56])
            bitpix = struct.unpack(f"{endian}h", header[72:74])[0]
            offset = int(struct.unpack(f"{endian}f", header[108:112])[0])
            break
        if sizeof_hdr == 540 and len(header) >= 540:
            bitpix = struct.unpack(f"{endian}h", header[14:16])[0]
            dims = struct.unpack(f"{endian}8q", header[16:80])
            offset = struct.unpack(f"{endian}q", header[168:176])[0]
            break
    else:
        raise InputError(path, "does not start with a NIfTI-1 or NIfTI-2 header.", _COPY_AGAIN)
    ndim = max(1, min(int(dims[0]), 7))
    voxels = 1
    for n in dims[1 : ndim + 1]:
        voxels *= max(int(n), 1)
    return max(offset, sizeof_hdr) + voxels * max(int(bitpix), 8) // 8, voxels


def _check_nifti_gz(path: Path) -> None:
    try:
        with gzip.open(path, "rb") as fh:
            header = fh.read(540)
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as err:
        raise InputError(path, f"could not be read as an image ({err}).", _COPY_AGAIN) from None
    expected, voxels = _nifti_bytes(header, path)
    check_memory(path, expected, voxels=voxels)
    held = path.stat().st_size
    if expected > _MAX_RATIO * held + (64 << 10):
        raise InputError(
            path,
            f"declares {expected} bytes, but its {held} compressed bytes cannot hold them "
            f"(gzip packs at most {_MAX_RATIO}:1).",
            _COPY_AGAIN,
        )
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            while total < expected and (chunk := fh.read(1 << 16)):
                total += len(chunk)
    except gzip.BadGzipFile as err:
        raise InputError(
            path, f"is a damaged gzip stream ({err}) after {total} bytes.", _COPY_AGAIN
        ) from None
    except (EOFError, zlib.error, OSError) as err:
        raise InputError(
            path, f"is a cut or damaged gzip stream ({err}; {total} bytes decompressed).", _COPY_AGAIN
        ) from None
    if total < expected:
        raise InputError(
            path,
            f"decompresses to {total} bytes but its NIfTI header declares {expected} "
            f"({100 * total / expected:.0f}% present).",
            _COPY_AGAIN,
        )


def _check_header(path: Path) -> None:
    """NRRD/MetaImage: data files (:mod:`.headers`), declared size vs memory and vs the bytes held."""
    header = read_header(path)
    if header is None or header.expected is None:
        return  # SimpleITK reports a malformed header
    check_memory(path, header.expected, voxels=header.voxels)
    if header.files:
        sizes = {f: f.stat().st_size for f in header.files}
        empty = [f for f, n in sizes.items() if n == 0]
        if empty:
            raise InputError(path, f"names the data file {empty[0]}, which is empty (0 bytes).", _COPY_AGAIN)
        held = sum(sizes.values()) - len(sizes) * (header.skip or 0)
        names = ", ".join(str(f) for f in list(sizes)[:3]) + (", ..." if len(sizes) > 3 else "")
        where = f"its data file{'s' if len(sizes) > 1 else ''} ({names})"
        files, offset = list(sizes), 0
    else:
        held = path.stat().st_size - header.offset
        where, files, offset = "the file", [path], header.offset
    declared = f"declares {header.expected} bytes of voxel data"
    if header.encoding == "raw":
        exact = bool(header.files) and header.skip is not None
        if held < header.expected or (exact and held != header.expected):
            raise InputError(
                path,
                f"{declared} but {where} hold{'s' if len(files) == 1 else ''} {held}.",
                _COPY_AGAIN if held < header.expected else "Check that the header names the right data file.",
            )
    elif header.encoding in ("gzip", "zlib"):
        _check_compressed(header, held, where, files, offset)


def _check_compressed(header: Header, held: int, where: str, files: list[Path], offset: int) -> None:
    """A gzip/zlib-encoded volume: its compressed bytes can hold what it declares, and inflate to it."""
    path, declared = header.path, f"declares {header.expected} bytes of voxel data"
    if header.expected > _MAX_RATIO * held + (64 << 10):
        raise InputError(
            path,
            f"{declared}, but the {held} compressed bytes of {where} cannot hold them "
            f"(gzip packs at most {_MAX_RATIO}:1); nothing was read.",
            "The header is damaged or the data truncated; copy the file again from its source.",
        )
    if header.skip != 0:
        return  # skipped lines or bytes: where the stream starts is SimpleITK's to find
    total = 0
    for f in files:
        total += _inflated_bytes(path, f, offset, header.expected - total)
    if total < header.expected:
        raise InputError(
            path,
            f"{declared} but {where} decompress to {total} ({100 * total / header.expected:.0f}% present).",
            _COPY_AGAIN,
        )


#: deflate's largest compression ratio (a long run of one byte)
_MAX_RATIO = 1032


def _inflated_bytes(header: Path, path: Path, offset: int, limit: int) -> int:
    """The bytes the gzip/zlib stream(s) in ``path`` after ``offset`` inflate to (counting stops at
    ``limit``, so a bomb is never inflated further than the header declares)."""
    total, pending = 0, b""
    inflate = zlib.decompressobj(47)  # gzip or zlib header, detected
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            while total < limit:
                chunk = inflate.unconsumed_tail or pending or fh.read(1 << 16)
                pending = b""
                if not chunk:
                    break
                total += len(inflate.decompress(chunk, 1 << 20))
                if inflate.eof:  # another gzip member may follow; anything else ends the data
                    pending = inflate.unused_data or fh.read(1 << 16)
                    if not pending.startswith(b"\x1f\x8b"):
                        break
                    inflate = zlib.decompressobj(47)
    except zlib.error as err:
        where = "" if path == header else f" (data file {path})"
        raise InputError(
            header, f"holds a damaged compressed stream{where} ({err}) after {total} bytes.", _COPY_AGAIN
        ) from None
    return total


def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable``; else free pages; None if unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


#: more voxels than any MRI volume: a header declaring more is damaged
MAX_VOXELS = 1 << 31


def check_memory(
    path: Path, expected: int, *, voxels: int | None = None, copies: int = 2, what: str = ""
) -> None:
    """Refuse a volume whose declared size does not fit in the memory available now.

    Args:
        path: the file (named in the error).
        expected: bytes of voxel data it declares.
        voxels: voxels it declares (more than :data:`MAX_VOXELS` are refused).
        copies: copies held while reading (SimpleITK's buffer and the array: 2).
        what: the part of the file, e.g. ``"its image s0"``.

    Raises:
        InputError: it declares more than fits.
    """
    subject = f"{what} declares" if what else "declares"
    memory = available_memory()
    if memory is not None and expected * copies > memory:
        raise InputError(
            path,
            f"{subject} {expected / 1e9:.1f} GB of voxels, more than fits in the {memory / 1e9:.1f} GB "
            f"of memory available now (reading holds {copies} cop{'y' if copies == 1 else 'ies'}); "
            "the header is probably damaged.",
            "Check the sizes in the file header, or free memory and try again.",
        )
    if voxels is not None and voxels > MAX_VOXELS:
        raise InputError(
            path,
            f"{subject} {voxels:,} voxels, more than any MRI volume ({MAX_VOXELS:,}); the header is "
            "probably damaged.",
            "Check the sizes in the file header.",
        )
