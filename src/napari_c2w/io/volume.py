"""3D volumes with their physical geometry, read and written through SimpleITK.

Arrays are (z, y, x), as napari shows them; spacing and origin are in millimetres in
the same order. The direction matrix is kept as SimpleITK gives it (9 numbers, row
major, in ITK's x, y, z order) so that writing a volume back restores it exactly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..errors import InputError

#: Suffixes of the single-file formats read through SimpleITK.
VOLUME_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclasses.dataclass
class Volume:
    """A 3D array with spacing, origin and direction (physical units: mm)."""

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = IDENTITY
    path: Path | None = None

    def __post_init__(self) -> None:
        self.spacing = tuple(float(s) for s in self.spacing)
        self.origin = tuple(float(o) for o in self.origin)
        self.direction = tuple(float(d) for d in self.direction)
        if np.ndim(self.array) != 3:
            raise InputError(self.path, f"is {np.ndim(self.array)}D; a 3D volume is needed.")
        if len(self.spacing) != 3 or len(self.origin) != 3 or len(self.direction) != 9:
            raise ValueError("spacing and origin need 3 values and direction 9")
        if min(self.spacing) <= 0:
            raise InputError(
                self.path,
                f"has a non-positive voxel spacing {self.spacing}.",
                "Fix the spacing in the file header.",
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape)

    @property
    def is_oblique(self) -> bool:
        """True when the axes are not aligned with the scanner axes (up to flips/permutation)."""
        d = np.abs(np.asarray(self.direction).reshape(3, 3))
        return not np.allclose(np.sort(d, axis=1), [0.0, 0.0, 1.0], atol=1e-3)

    def with_array(self, array: np.ndarray) -> Volume:
        """The same geometry around another array of the same shape."""
        if array.shape != self.array.shape:
            raise ValueError(f"shape {array.shape} differs from the volume's {self.array.shape}")
        return dataclasses.replace(self, array=array)

    def geometry(self) -> dict:
        """Geometry as JSON-friendly lists (zyx order, direction in ITK order)."""
        return {
            "spacing": list(self.spacing),
            "origin": list(self.origin),
            "direction": list(self.direction),
            "shape": list(self.shape),
        }

    def layer_kwargs(self) -> dict:
        """Keyword arguments placing a napari layer at this volume's physical position."""
        meta = {"direction": list(self.direction), "spacing": list(self.spacing), "origin": list(self.origin)}
        if self.path is not None:
            meta["source"] = str(self.path)
        return {"scale": self.spacing, "translate": self.origin, "metadata": meta}


def is_volume_file(path: str | Path) -> bool:
    name = str(path).lower()
    return any(name.endswith(s) for s in VOLUME_SUFFIXES)


def from_sitk(image, path: Path | None = None) -> Volume:
    """A :class:`Volume` from a SimpleITK image (the inverse of :func:`to_sitk`), with the checks
    every read makes (3D, one channel, finite voxels)."""
    import SimpleITK as sitk

    dim = image.GetDimension()
    if "complex" in image.GetPixelIDTypeAsString():
        raise InputError(
            path,
            f"holds complex voxels ({image.GetPixelIDTypeAsString()}); keeping only their real part "
            "would change the image.",
            "Give a magnitude image (e.g. the scanner's magnitude reconstruction), not complex data.",
        )
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            path,
            f"has {image.GetNumberOfComponentsPerPixel()} components per voxel (colour or vector image).",
            "Give a single-channel (greyscale) volume.",
        )
    if dim == 2 or (dim == 3 and min(image.GetSize()) == 1 and image.GetSize()[2] == 1):
        raise InputError(
            path,
            f"is a 2D image (size {image.GetSize()}).",
            "napari-c2w needs a 3D LGE volume; give the whole 3D series.",
        )
    if dim == 4:
        raise InputError(
            path,
            f"is a 4D series (size {image.GetSize()}).",
            "Split it and give one 3D volume (e.g. one time point or phase).",
        )
    if dim != 3:
        raise InputError(path, f"has {dim} dimensions; a 3D volume is needed.")
    array = sitk.GetArrayFromImage(image)
    if np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array)
        if bad.any():
            raise InputError(
                path,
                f"contains {int(bad.sum())} NaN or infinite voxels.",
                "Replace them (e.g. with 0) before loading.",
            )
    return Volume(
        array=array,
        spacing=tuple(reversed(image.GetSpacing())),
        origin=tuple(reversed(image.GetOrigin())),
        direction=image.GetDirection(),
        path=path,
    )


def read_dicom_series(folder: Path) -> Volume:
    """Read the single DICOM series in ``folder``."""
    import SimpleITK as sitk

    series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise InputError(
            folder, "holds no DICOM series.", "Give a folder of DICOM slices, a case folder or a volume file."
        )
    if len(series) > 1:
        raise InputError(
            folder,
            f"holds {len(series)} DICOM series ({', '.join(series)}).",
            "Put each series in its own folder and open one.",
        )
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series[0])
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    try:
        image = reader.Execute()
    except RuntimeError as err:
        raise InputError(
            folder,
            f"DICOM series could not be read ({_first_line(err)}).",
            "Check that no slice is missing or corrupt.",
        ) from None
    return from_sitk(image, folder)


def _first_line(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    useful = [ln for ln in lines if "ERROR" in ln.upper() or "exception" not in ln.lower()]
    return (useful or lines or ["unknown error"])[-1][:200]


def read_volume(path: str | Path, *, like: Volume | None = None) -> Volume:
    """Read a 3D volume from a NRRD/NIfTI/MetaImage file or a DICOM series folder.

    Args:
        path: the file or DICOM folder.
        like: the image a label file must fit: its shape is compared with the file's header
            before any voxel is read (:func:`check_same_grid` checks the rest after reading).

    Raises:
        InputError: the file is missing, empty, truncated, not an image, not 3D, complex,
            holds NaN/inf voxels, or (``like``) has another shape. The message names the file
            and what to fix.
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", "Check the path.")
    if path.is_dir():
        return read_dicom_series(path)
    if path.stat().st_size == 0:
        raise InputError(path, "is empty (0 bytes).", "Copy the file again from its source.")
    if not is_volume_file(path):
        raise InputError(
            path,
            "is not a volume format napari-c2w reads.",
            f"Use one of {', '.join(VOLUME_SUFFIXES)}, a DICOM folder, or a case store.",
        )
    from .filecheck import check_volume_file

    check_volume_file(path)
    if like is not None:
        _check_header_shape(path, like)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise _unreadable(path, err) from None
    return from_sitk(image, path)


def _unreadable(path: Path, err: Exception) -> InputError:
    return InputError(
        path,
        f"could not be read as an image ({_first_line(err)}).",
        "The file may be truncated or corrupt; copy it again from its source.",
    )


def _check_header_shape(path: Path, like: Volume) -> None:
    """Refuse a file whose header declares another shape than ``like``'s, reading no voxel."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        raise _unreadable(path, err) from None
    size = reader.GetSize()
    shape = tuple(int(n) for n in reversed(size))
    if len(shape) == 3:
        _check_shape(like, shape, path)


def to_sitk(volume: Volume):
    """A SimpleITK image carrying the volume's array and geometry."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.array))
    image.SetSpacing(tuple(reversed(volume.spacing)))
    image.SetOrigin(tuple(reversed(volume.origin)))
    image.SetDirection(volume.direction)
    return image


def check_segmentable(volume: Volume) -> None:
    """Raise an InputError naming the file unless ``volume`` is 3D, at least 2 voxels a side and finite."""
    array = np.asarray(volume.array)
    if array.ndim != 3:
        raise InputError(volume.path, f"is {array.ndim}D; the pipeline needs a 3D volume.")
    if min(array.shape) < 2:
        raise InputError(volume.path, f"has shape {array.shape}; every axis needs at least 2 voxels.")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise InputError(volume.path, "holds NaN or infinite voxels.", "Fix or mask them before inference.")


def check_same_grid(reference: Volume, other: Volume, *, rtol: float = 1e-3, atol_mm: float = 1e-2) -> None:
    """Raise an InputError naming ``other`` if its grid differs from ``reference``'s."""
    ref_name = reference.path.name if reference.path else "the image"
    _check_shape(reference, other.shape, other.path)
    if not np.allclose(other.spacing, reference.spacing, rtol=rtol, atol=1e-6):
        raise InputError(
            other.path,
            f"has spacing {_fmt(other.spacing)} mm but {ref_name} has {_fmt(reference.spacing)} mm.",
            "Fix the label file's header or resample it.",
        )
    if not np.allclose(other.origin, reference.origin, atol=atol_mm):
        raise InputError(
            other.path,
            f"has origin {_fmt(other.origin)} mm but {ref_name} has {_fmt(reference.origin)} mm.",
            "Fix the label file's header so the two overlap.",
        )
    if not np.allclose(other.direction, reference.direction, atol=1e-3):
        raise InputError(
            other.path,
            f"has direction {_fmt(other.direction)} but {ref_name} has {_fmt(reference.direction)}, "
            "so the label would be flipped or rotated against the image.",
            "Fix the label file's header (or resample it onto the image).",
        )


def _check_shape(reference: Volume, shape: tuple[int, ...], path: Path | None) -> None:
    if shape != reference.shape:
        ref_name = reference.path.name if reference.path else "the image"
        raise InputError(
            path,
            f"has shape {shape} (z, y, x) but {ref_name} has {reference.shape}.",
            "Labels must be drawn on the same grid as the image; resample them onto the image first.",
        )


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def read_label_volume(path: str | Path, like: Volume | None = None, label_value: int | None = None) -> Volume:
    """Read a label file as a uint8 0/1 mask, checked against the image grid ``like``.

    A binary file ({0, 1} or {0, 255}) is read as it is. Any other values (a multi-label
    map, negative values) are refused unless ``label_value`` picks the one to keep: a
    multi-label map is never silently collapsed into one mask.
    """
    label = read_volume(path, like=like)
    if like is not None:
        check_same_grid(like, label)
    array = label.array
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.mod(array, 1) == 0):
        raise InputError(
            label.path,
            "holds non-integer values, so it is not a label map.",
            "Give a binary or integer mask.",
        )
    if label_value is not None:
        mask = array == label_value
        if not mask.any():
            raise InputError(
                label.path,
                f"holds no voxel of value {label_value} (values: {_values(array)}).",
                "Pass one of its values to --label-value.",
            )
        return label.with_array(mask.astype(np.uint8))
    lo, hi = array.min(), array.max()
    binary = lo >= 0 and (hi <= 1 or (hi == 255 and not np.any((array != 0) & (array != 255))))
    if not binary:
        kind = "negative values" if lo < 0 else "more than one foreground value"
        raise InputError(
            label.path,
            f"holds {kind} ({_values(array)}), so it is not a binary mask.",
            "Pass --label-value N to take the voxels of value N as the structure, or split the "
            "map with --labels FILE --label-map 1=cavity,2=wall,3=scar.",
        )
    return label.with_array((array > 0).astype(np.uint8))


def _values(array: np.ndarray, most: int = 8) -> str:
    values = np.unique(array)
    text = ", ".join(f"{v:g}" for v in values[:most])
    return text + (f", ... ({len(values)} values)" if len(values) > most else "")
