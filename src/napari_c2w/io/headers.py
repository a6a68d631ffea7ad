"""What NRRD and MetaImage headers declare: voxel sizes, encoding and the data files they name.

A detached header (``.nhdr``, ``.mhd``, or a ``.nrrd``/``.mha`` with a data-file field) names
the file(s) holding its voxels: NRRD ``data file:`` (one name, ``LIST`` with one name a line
after it, or a ``printf`` format with ``min max step``) and MetaImage ``ElementDataFile``
(``LOCAL``, one name, ``LIST`` or a format). SimpleITK reads whatever they name, so
:func:`read_header` resolves every name and refuses one that leaves the header's folder (an
absolute path, ``..``, a link pointing out), that is not a regular file (a device such as
``/dev/urandom``, a FIFO, a folder) or that does not exist, before anything is read.
"""

from __future__ import annotations

import dataclasses
import re
import stat
from pathlib import Path

from ..errors import InputError

#: a header longer than this is refused (a real one is a few kB, a LIST of slices a few 100 kB)
MAX_HEADER_BYTES = 16 << 20
#: the most data files a LIST or format form may name
MAX_DATA_FILES = 100_000
_FIX_REF = (
    "Keep the data file in the header's folder (or below it) and name it relatively there, "
    "e.g. 'data file: image.raw' (NRRD) or 'ElementDataFile = image.raw' (MetaImage)."
)

_NRRD_TYPES = {
    "uchar": 1, "unsigned char": 1, "uint8": 1, "uint8_t": 1, "signed char": 1, "int8": 1, "int8_t": 1,
    "short": 2, "short int": 2, "signed short": 2, "signed short int": 2, "int16": 2, "int16_t": 2,
    "ushort": 2, "unsigned short": 2, "unsigned short int": 2, "uint16": 2, "uint16_t": 2, "int": 4,
    "signed int": 4, "int32": 4, "int32_t": 4, "uint": 4, "unsigned int": 4, "uint32": 4,
    "uint32_t": 4, "float": 4, "longlong": 8, "long long": 8, "long long int": 8,
    "signed long long": 8, "signed long long int": 8, "int64": 8, "int64_t": 8, "ulonglong": 8,
    "unsigned long long": 8, "unsigned long long int": 8, "uint64": 8, "uint64_t": 8, "double": 8,
}  # fmt: skip
_NRRD_ENCODINGS = {
    "raw": "raw", "txt": "text", "text": "text", "ascii": "text", "hex": "hex",
    "gz": "gzip", "gzip": "gzip", "bz2": "bzip2", "bzip2": "bzip2",
}  # fmt: skip
_MET_TYPES = {
    "MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
    "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4,
    "MET_DOUBLE": 8,
}  # fmt: skip


@dataclasses.dataclass
class Header:
    """What a header declares about its voxel data.

    Attributes:
        path: the header file.
        voxels: voxels (times components) declared, None when the sizes cannot be parsed.
        expected: bytes of voxel data declared, None when the type or sizes are unknown.
        encoding: ``raw``, ``gzip``, ``bzip2``, ``text``, ``hex`` or ``zlib`` (MetaImage).
        files: detached data files (resolved, checked); empty when the data follows the header.
        offset: bytes of the header before attached data.
        skip: bytes skipped at the start of each data file; None where unknown (line skips,
            data at the end of the file).
    """

    path: Path
    voxels: int | None
    expected: int | None
    encoding: str
    files: list[Path]
    offset: int
    skip: int | None


def read_header(path: Path) -> Header | None:
    """The declarations of a NRRD (``.nrrd``/``.nhdr``) or MetaImage (``.mha``/``.mhd``) header,
    its data files checked; None for a file of another format (SimpleITK reports it).

    Raises:
        InputError: a data file outside the header's folder, missing, or not a regular file, a
            data-file form that cannot be checked, or a header longer than 16 MB.
    """
    name = path.name.lower()
    if name.endswith((".nrrd", ".nhdr")):
        return _nrrd(path)
    if name.endswith((".mha", ".mhd")):
        return _metaimage(path)
    return None


def _lines(path: Path, fh):
    """Header lines (latin-1, line ends stripped) with the bytes read so far."""
    offset = 0
    while raw := fh.readline(1 << 16):
        offset += len(raw)
        if offset > MAX_HEADER_BYTES:
            raise InputError(
                path,
                f"has no end of its header within {MAX_HEADER_BYTES >> 20} MB.",
                "The file is damaged or not an image; copy it again from its source.",
            )
        yield raw.decode("latin-1").rstrip("\r\n"), offset


def _nrrd(path: Path) -> Header | None:
    fields: dict[str, str] = {}
    listed: list[str] | None = None
    offset = 0
    with open(path, "rb") as fh:
        if fh.read(4) != b"NRRD":
            return None
        fh.seek(0)
        lines = _lines(path, fh)
        offset = next(lines)[1]
        for line, offset in lines:  # noqa: B007 (offset: the header length once the loop ends)
            if not line.strip():
                break  # the blank line before attached data
            if listed is not None:
                listed.append(line.strip())
            elif not line.startswith("#") and (kv := _nrrd_field(line)):
                fields[kv[0]] = kv[1]
                if kv[0] in ("data file", "datafile") and kv[1].split()[:1] == ["LIST"]:
                    listed = []
    ref = fields.get("data file", fields.get("datafile"))
    files = [] if ref is None else _data_files(path, ref, listed, "data file")
    voxels = _product(fields.get("sizes", ""))
    itemsize = _NRRD_TYPES.get(" ".join(fields.get("type", "").lower().split()))
    encoding = _NRRD_ENCODINGS.get(fields.get("encoding", "raw").lower(), fields.get("encoding", ""))
    skip: int | None = _int(fields.get("byte skip", "0"))
    if skip is not None and (skip < 0 or (_int(fields.get("line skip", "0")) or 0) != 0):
        skip = None
    expected = voxels * itemsize if voxels is not None and itemsize else None
    return Header(path, voxels, expected, encoding, files, offset, skip)


def _nrrd_field(line: str) -> tuple[str, str] | None:
    """(field, value) of a NRRD field line; None for a ``key:=value`` pair or another line."""
    colon = line.find(":")
    if colon < 0 or line.startswith(":=", colon):
        return None
    return line[:colon].strip().lower(), line[colon + 1 :].strip()


def _metaimage_fields(path: Path) -> tuple[dict[str, str], list[str] | None, int]:
    """MetaImage ``Key = Value`` fields (keys lower-case), the names after ``LIST``, and the
    header length (where ``LOCAL`` data starts)."""
    fields: dict[str, str] = {}
    listed: list[str] | None = None
    offset = 0
    with open(path, "rb") as fh:
        for line, offset in _lines(path, fh):  # noqa: B007
            if listed is not None:
                listed += [line.strip()] if line.strip() else []
                continue
            key, sep, value = line.partition("=")
            if not sep and line.strip():
                break
            if sep:
                fields[key.strip().lower()] = value.strip()
                if key.strip().lower() == "elementdatafile":
                    if value.split()[:1] != ["LIST"]:
                        break  # the last field: attached data (LOCAL) follows
                    listed = []
    return fields, listed, offset


def _metaimage(path: Path) -> Header | None:
    fields, listed, offset = _metaimage_fields(path)
    if "elementdatafile" not in fields:
        return None if not fields else Header(path, None, None, "raw", [], offset, 0)
    ref = fields["elementdatafile"]
    local = ref.upper() == "LOCAL"
    files = [] if local else _data_files(path, ref, listed, "ElementDataFile")
    voxels = _product(fields.get("dimsize", ""))
    channels = _int(fields.get("elementnumberofchannels", "1")) or 1
    itemsize = _MET_TYPES.get(fields.get("elementtype", "").upper())
    compressed = fields.get("compresseddata", "false").lower() == "true"
    skip = _int(fields.get("headersize", "0"))
    if skip is not None and skip < 0:
        skip = None
    if voxels is not None:
        voxels *= max(channels, 1)
    expected = voxels * itemsize if voxels is not None and itemsize else None
    return Header(path, voxels, expected, "zlib" if compressed else "raw", files, offset, skip)


def _data_files(path: Path, ref: str, listed: list[str] | None, field: str) -> list[Path]:
    """The data files ``ref`` names, each checked by :func:`_confined_file`."""
    if ref.split()[:1] == ["LIST"]:
        names = listed or []
        if not names:
            raise InputError(path, f"has '{field}: LIST' but lists no data file.", _FIX_REF)
    elif "%" in ref:
        names = _format_names(path, ref, field)
    elif not ref:
        raise InputError(path, f"has an empty {field} field.", _FIX_REF)
    else:
        names = [ref]
    if len(names) > MAX_DATA_FILES:
        raise InputError(path, f"names {len(names)} data files (at most {MAX_DATA_FILES}).", _FIX_REF)
    return [_confined_file(path, name, field) for name in names]


def _format_names(path: Path, ref: str, field: str) -> list[str]:
    """The names of a ``<format> <min> <max> <step> [<subdim>]`` data-file field."""
    tokens = ref.split()
    numbers = [_int(t) for t in tokens[1:]]
    if (
        len(tokens) not in (4, 5)
        or None in numbers
        or not re.fullmatch(r"[^%]*%0?[1-9]?[0-9]*d[^%]*", tokens[0])
        or numbers[2] == 0
    ):
        raise InputError(
            path,
            f"has the {field} field {ref!r}, a form napari-c2w cannot check.",
            "Use one data file ('data file: image.raw') or a LIST of names in the header's folder.",
        )
    lo, hi, step = numbers[:3]
    count = (hi - lo) // step + 1
    if count < 1 or count > MAX_DATA_FILES:
        raise InputError(path, f"has the {field} field {ref!r}, naming {max(count, 0)} data files.", _FIX_REF)
    return [tokens[0] % i for i in range(lo, hi + (1 if step > 0 else -1), step)]


def _confined_file(header: Path, name: str, field: str) -> Path:
    """The data file ``name`` of ``header``: a regular file in the header's folder or below it."""
    base = header.parent.resolve()
    target = (header.parent / name).resolve()
    if not target.is_relative_to(base):
        raise InputError(
            header,
            f"names the data file {name!r} ({field}), which is outside the header's folder "
            f"{base}; it is not read.",
            _FIX_REF,
        )
    try:
        mode = target.stat().st_mode
    except OSError:
        raise InputError(
            header, f"names the data file {name!r} ({field}), which does not exist.", _FIX_REF
        ) from None
    if not stat.S_ISREG(mode):
        raise InputError(
            header,
            f"names the data file {name!r} ({field}), which is not a regular file (a device, FIFO or "
            "folder); it is not read.",
            _FIX_REF,
        )
    return target


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _product(text: str) -> int | None:
    sizes = [_int(s) for s in text.split()]
    if not sizes or None in sizes or min(sizes) < 0:
        return None
    n = 1
    for s in sizes:
        n *= s
    return n
