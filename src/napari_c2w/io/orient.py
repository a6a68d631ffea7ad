"""Reorient volumes to the models' canonical orientation and map results back exactly.

The models learned from volumes stored as the 2018 challenge stores them: ITK index axes
(i, j, k) running along +x, +y, +z of patient LPS space (identity direction, orientation code
``LPS`` in SimpleITK's ``DICOMOrient`` convention). A scan stored otherwise (RAS, a coronal or
sagittal acquisition's axis order) shows the network its anatomy turned or mirrored. The
pipeline therefore permutes and flips the array to that order before inference and undoes it on
the results: both are index operations, so the round trip is exact. An oblique direction is
taken to its nearest axis-aligned order, as ``DICOMOrient`` does; the remaining rotation stays
in the direction matrix.

Arrays are numpy (z, y, x): numpy axis ``n`` is ITK index axis ``2 - n``.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from .volume import Volume

#: The models' orientation (SimpleITK ``DICOMOrient`` code of an identity direction).
CANONICAL = "LPS"


@dataclasses.dataclass(frozen=True)
class Reorientation:
    """How a volume's array maps to the canonical order.

    Attributes:
        source: for each canonical ITK axis p, the ITK axis of the stored array it comes from.
        flip: for each canonical ITK axis p, whether that stored axis runs against +p.
        code: the stored orientation code (e.g. ``RAS``, ``LPS``, ``PIL``).
    """

    source: tuple[int, int, int]
    flip: tuple[bool, bool, bool]
    code: str

    @property
    def identity(self) -> bool:
        return self.source == (0, 1, 2) and not any(self.flip)

    def to_canonical(self, array: np.ndarray) -> np.ndarray:
        """The stored (z, y, x) array in canonical order (a view where numpy allows)."""
        # New numpy axis 2 - p takes old numpy axis 2 - source[p].
        axes = [2 - self.source[2 - n] for n in range(3)]
        out = np.transpose(array, axes)
        flip_np = tuple(n for n in range(3) if self.flip[2 - n])
        return np.flip(out, flip_np) if flip_np else out

    def from_canonical(self, array: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_canonical`: a canonical-order array back in the stored order."""
        flip_np = tuple(n for n in range(3) if self.flip[2 - n])
        out = np.flip(array, flip_np) if flip_np else array
        axes = [2 - self.source[2 - n] for n in range(3)]
        return np.ascontiguousarray(np.transpose(out, np.argsort(axes)))

    def volume(self, volume: Volume) -> Volume:
        """``volume`` in canonical order, with the geometry that keeps every voxel in place."""
        if self.identity:
            return volume
        d = np.asarray(volume.direction, float).reshape(3, 3)
        size = volume.shape[::-1]  # ITK order
        sp = volume.spacing[::-1]
        first = np.array([(size[a] - 1) if self.flip[p] else 0 for p, a in enumerate(self.source)])
        idx = np.zeros(3)
        for p, a in enumerate(self.source):
            idx[a] = first[p]
        origin = np.asarray(volume.origin[::-1], float) + d @ (idx * np.asarray(sp))
        new_d = np.stack(
            [d[:, a] * (-1.0 if self.flip[p] else 1.0) for p, a in enumerate(self.source)], axis=1
        )
        return Volume(
            np.ascontiguousarray(self.to_canonical(volume.array)),
            spacing=tuple(sp[a] for a in self.source)[::-1],
            origin=tuple(origin[::-1]),
            direction=tuple(new_d.ravel()),
            path=volume.path,
        )


def _code(d: np.ndarray) -> str:
    """Orientation code in the ``DICOMOrient`` convention: per index axis, the patient side it
    runs towards (x: L, y: P, z: S are positive)."""
    letters = (("R", "L"), ("A", "P"), ("I", "S"))
    out = []
    for a in range(3):
        p = int(np.argmax(np.abs(d[:, a])))
        out.append(letters[p][int(d[p, a] > 0)])
    return "".join(out)


def reorientation(direction) -> Reorientation:
    """The permutation and flips that bring index axes with ``direction`` (ITK order, 9 numbers)
    to the canonical order; for an oblique direction, the nearest axis-aligned one."""
    d = np.asarray(direction, float).reshape(3, 3)
    # Each stored axis a goes to the patient axis it is closest to, as a permutation.
    best = max(itertools.permutations(range(3)), key=lambda perm: sum(abs(d[perm[a], a]) for a in range(3)))
    source = [0, 0, 0]
    for a, p in enumerate(best):
        source[p] = a
    flip = tuple(bool(d[p, source[p]] < 0) for p in range(3))
    return Reorientation(tuple(source), flip, _code(d))
