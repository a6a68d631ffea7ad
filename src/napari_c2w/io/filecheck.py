"""Refuse truncated or impossible volume files before SimpleITK reads (and allocates) them.

SimpleITK reads a truncated NIfTI without complaint and fills the missing slices with
zeros, and allocates whatever a header declares. :func:`check_volume_file` compares the
bytes a header declares with the bytes the file holds (for ``.nii.gz`` by decompressing
the stream to its end, which also catches a cut gzip stream) and the declared size with
the machine's memory.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

from ..errors import InputError

_COPY_AGAIN = "The file is truncated or corrupt; copy it again from its source."


def check_volume_file(path: Path) -> None:
    """Raise an :class:`InputError` naming ``path`` if it cannot hold the volume it declares."""
    name = path.name.lower()
    if name.endswith(".nii"):
        with open(path, "rb") as fh:
            header = fh.read(540)
        expected = _nifti_bytes(header, path)
        _check_memory(path, expected)
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
    elif name.endswith(".nrrd"):
        _check_nrrd(path)


def _nifti_bytes(header: bytes, path: Path) -> int:
    """vox_offset + the voxel data size a NIfTI-1/2 header declares."""
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
    return max(offset, sizeof_hdr) + voxels * max(int(bitpix), 8) // 8


def _check_nifti_gz(path: Path) -> None:
    total, header = 0, b""
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 16):
                if len(header) < 540:
                    header += chunk[: 540 - len(header)]
                total += len(chunk)
    except gzip.BadGzipFile as err:
        if total == 0:
            raise InputError(path, f"could not be read as an image ({err}).", _COPY_AGAIN) from None
        raise InputError(
            path, f"is a damaged gzip stream ({err}) after {total} bytes.", _COPY_AGAIN
        ) from None
    except (EOFError, zlib.error, OSError) as err:
        raise InputError(
            path, f"is a cut or damaged gzip stream ({err}; {total} bytes decompressed).", _COPY_AGAIN
        ) from None
    expected = _nifti_bytes(header, path)
    if total < expected:
        raise InputError(
            path,
            f"decompresses to {total} bytes but its NIfTI header declares {expected} "
            f"({100 * total / expected:.0f}% present).",
            _COPY_AGAIN,
        )


_NRRD_TYPES = {
    "uchar": 1, "unsigned char": 1, "uint8": 1, "uint8_t": 1, "signed char": 1, "int8": 1, "int8_t": 1,
    "short": 2, "short int": 2, "signed short": 2, "int16": 2, "int16_t": 2, "ushort": 2,
    "unsigned short": 2, "uint16": 2, "uint16_t": 2, "int": 4, "signed int": 4, "int32": 4,
    "int32_t": 4, "uint": 4, "unsigned int": 4, "uint32": 4, "uint32_t": 4, "float": 4,
    "longlong": 8, "int64": 8, "int64_t": 8, "ulonglong": 8, "uint64": 8, "uint64_t": 8, "double": 8,
}  # fmt: skip


def _check_nrrd(path: Path) -> None:
    """An attached NRRD: declared size vs memory; raw encoding: vs the bytes after the header."""
    fields, header_len = {}, 0
    with open(path, "rb") as fh:
        first = fh.readline()
        header_len += len(first)
        if not first.startswith(b"NRRD"):
            return  # SimpleITK reports it
        for raw in fh:
            header_len += len(raw)
            line = raw.decode("latin-1").strip()
            if not line:
                break
            if ":" in line and not line.startswith("#"):
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.lstrip("=").strip()
    if "data file" in fields or "datafile" in fields:
        return
    try:
        sizes = [int(s) for s in fields.get("sizes", "").split()]
        itemsize = _NRRD_TYPES[fields.get("type", "").lower()]
    except (ValueError, KeyError):
        return  # SimpleITK reports a malformed header
    expected = itemsize
    for n in sizes:
        expected *= n
    _check_memory(path, expected)
    if fields.get("encoding", "raw").lower() == "raw":
        held = path.stat().st_size - header_len
        if held < expected:
            raise InputError(
                path,
                f"holds {held} bytes of voxel data but its NRRD header declares {expected} "
                f"(sizes {' '.join(map(str, sizes))}).",
                _COPY_AGAIN,
            )


def _check_memory(path: Path, expected: int) -> None:
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if expected > memory:
        raise InputError(
            path,
            f"declares {expected / 1e9:.1f} GB of voxels, more than this machine's {memory / 1e9:.1f} GB "
            "of memory; the header is probably damaged.",
            "Check the sizes in the file header.",
        )
