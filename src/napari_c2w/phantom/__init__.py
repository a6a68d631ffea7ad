"""Synthetic LGE-MRI phantoms of the left atrium with true cavity, wall and scar labels.

``generate_phantom(seed)`` draws an anatomy (LA body, four pulmonary veins, appendage, open
mitral valve into the LV, neighbouring chambers, great vessels, lungs, spine, body), its
wall thickness field and ablation scar, renders an inversion-recovery LGE-like image with
partial volume, slice profile, coil bias and Rician noise, and returns it with the labels,
a LAScarQS-style noisy scar annotation and the true wall thickness.

Coordinates: arrays are (z, y, x); world mm = origin + index * spacing. Anatomically, +z is
superior, +y posterior and +x the patient's left (DICOM LPS), so an axial slice shown with
rows = y and columns = x is in the usual radiological orientation (anterior up, patient
left on the right). Everything is deterministic in ``seed``; for a given seed the anatomy
is the same on any grid that does not force it to be scaled down.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..io.case import Case, provenance_entry
from ..io.volume import Volume
from .acquire import acquire, render_grid, slab_average
from .anatomy import Anatomy, sample_anatomy
from .annotation import noisy_annotation
from .atrium import atrium_labels, la_box
from .fields import Grid
from .render import composite_atrium, lung_points, render_background, sample_contrast

PHANTOM_VERSION = "1.0"

#: Named spacings (z, y, x) in mm: isotropic, and the thicker slices of typical LGE scans.
SPACINGS: dict[str, tuple[float, float, float]] = {
    "iso": (0.625, 0.625, 0.625),
    "1.25": (1.25, 0.625, 0.625),
    "2.5": (2.5, 0.625, 0.625),
}
#: Field of view (z, y, x) in mm covered by the default shape.
DEFAULT_FOV_MM = (110.0, 150.0, 150.0)

__all__ = ["DEFAULT_FOV_MM", "PHANTOM_VERSION", "SPACINGS", "Phantom", "default_shape", "generate_phantom"]


def default_shape(spacing) -> tuple[int, int, int]:
    """The shape covering :data:`DEFAULT_FOV_MM` at ``spacing``."""
    return tuple(max(8, round(f / s)) for f, s in zip(DEFAULT_FOV_MM, spacing, strict=False))


@dataclasses.dataclass
class Phantom:
    """A synthetic LGE case with its true labels.

    Attributes:
        image: float32 LGE-like volume, intensities about 0-255 (blood at ``meta
            ["acquisition"]["blood_level"]``), identity direction.
        labels: "cavity", "wall", "scar" as uint8 0/1 (z, y, x) arrays. Scar is a subset
            of wall; cavity ends at the mitral valve plane; the wall is open at the valve
            and stops 10-15 mm along each pulmonary vein.
        noisy_scar: uint8 0/1 LAScarQS-style annotation: scar, a ragged one-voxel rim of
            it inside the plausibility band, and spurious blobs beyond the wall and deep
            in the cavity (see :mod:`napari_c2w.phantom.annotation`).
        noise: uint8 0/1, ``noisy_scar & ~scar & ~band`` with band = wall, or within
            2.5 mm outside / 3.0 mm inside the cavity boundary (voxel-centre EDT in mm);
            these are exactly the spurious blobs.
        thickness: float32 true wall thickness t(x) in mm (in [1, 3]) at wall voxels, 0
            elsewhere. The wall is ``{x outside the blood: EDT_to_cavity(x) - h/2 < t(x)}``
            with h the smallest spacing.
        meta: JSON-serialisable description (seed, geometry, landmarks, contrasts, ...).
    """

    image: Volume
    labels: dict[str, np.ndarray]
    noisy_scar: np.ndarray
    noise: np.ndarray
    thickness: np.ndarray
    meta: dict

    @property
    def seed(self) -> int:
        return int(self.meta["seed"])

    def to_case(self, noisy: bool = False) -> Case:
        """A :class:`~napari_c2w.io.case.Case` with cavity/wall/scar (scar = noisy_scar if ``noisy``)."""
        labels = dict(self.labels)
        if noisy:
            labels["scar"] = self.noisy_scar
        source = f"phantom seed {self.seed}"
        sources = {k: source + (" (noisy annotation)" if noisy and k == "scar" else "") for k in labels}
        provenance = [
            provenance_entry(
                "phantom",
                k,
                by="napari-c2w phantom",
                seed=self.seed,
                version=PHANTOM_VERSION,
                noisy=(noisy and k == "scar") or None,
            )
            for k in labels
        ]
        return Case(
            self.image,
            labels,
            case_id=f"phantom_{self.seed:04d}",
            sources=sources,
            provenance=provenance,
            attrs={"phantom": self.meta},
        )


def generate_phantom(
    seed: int,
    shape: tuple[int, int, int] | None = None,
    spacing: tuple[float, float, float] = (0.625, 0.625, 0.625),
    origin=(0.0, 0.0, 0.0),
    contrast: str = "default",
) -> Phantom:
    """Generate the phantom of ``seed`` on a (z, y, x) grid.

    Args:
        seed: any non-negative integer; everything is deterministic in it.
        shape: array shape; None covers about 110 x 150 x 150 mm (see :func:`default_shape`).
            If the field of view is too small for the LA, the anatomy is scaled down
            (``meta["scale"]``); the wall stays 1-3 mm thick.
        spacing: voxel size in mm (z, y, x), e.g. one of :data:`SPACINGS`.
        origin: world position of voxel (0, 0, 0) in mm (z, y, x).
        contrast: the tissue-contrast profile (:data:`render.CONTRAST_PROFILES`); the anatomy
            and labels of a seed are the same under every profile.
    """
    spacing = tuple(float(s) for s in spacing)
    shape = tuple(int(n) for n in (shape or default_shape(spacing)))
    if len(shape) != 3 or min(shape) < 4 or len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError(
            f"need a 3D shape of at least 4 voxels a side and a positive spacing, got {shape}, {spacing}"
        )
    grid = Grid(shape, spacing, tuple(float(o) for o in origin))
    anat = sample_anatomy(seed, grid)
    look = sample_contrast(seed, contrast)

    la = atrium_labels(anat, grid, seed)
    rgrid, k = render_grid(grid)
    signal = render_background(anat, rgrid, look)
    composite_atrium(
        signal, la if k == 1 else atrium_labels(anat, rgrid, seed, la_box(anat, rgrid)), rgrid, look, seed
    )
    signal = slab_average(signal, k)
    lungs = lung_points(signal, anat, grid, look)
    image = acquire(signal, anat, grid, look, seed)
    noisy, noise, ann_info = noisy_annotation(la, grid, seed)

    def full(part: np.ndarray, dtype=np.uint8) -> np.ndarray:
        out = np.zeros(shape, dtype)
        out[la.box] = part
        return out

    labels = {"cavity": full(la.cavity), "wall": full(la.wall), "scar": full(la.scar)}
    meta = _meta(seed, grid, anat, look, k, {**la.info, **ann_info})
    meta["landmarks"].update(lungs)
    return Phantom(
        Volume(image, spacing, grid.origin),
        labels,
        full(noisy),
        full(noise),
        full(la.thickness, np.float32),
        meta,
    )


def _meta(seed: int, grid: Grid, a: Anatomy, look: dict, k: int, info: dict) -> dict:
    def mm(v) -> list[float]:
        return [round(float(x), 3) for x in v]

    th = a.thorax
    sy, sx = th["spine"]
    return {
        "seed": int(seed),
        "version": PHANTOM_VERSION,
        "shape": list(grid.shape),
        "spacing": list(grid.spacing),
        "origin": list(grid.origin),
        "axes": "z superior, y posterior, x patient left (LPS), arrays (z, y, x)",
        "scale": round(a.scale, 4),
        "la_centre": mm(a.centre),
        "la_radii": mm(a.body.radii),
        "pv_ostia": {n: mm(o) for n, o in a.ostia.items()},
        "pv_radius": {n: round(float(t.radii[1]), 3) for n, t in a.veins.items()},
        "pv_distal": {
            n: mm(t.at_arc(np.linalg.norm(a.ostia[n] - t.points[0]) + 8 * a.scale))
            for n, t in a.veins.items()
        },
        "pv_wall_length": {
            n: round(float(a.vein_cut[n] - np.linalg.norm(a.ostia[n] - t.points[0])), 3)
            for n, t in a.veins.items()
        },
        "laa_ostium": mm(a.laa.points[1]),
        "laa_tip": mm(a.laa.points[-1]),
        "mitral": {
            "centre": mm(a.mitral_centre),
            "normal": mm(a.mitral_normal),
            "radius": round(float(a.orifice.radii[0]), 3),
        },
        "lv_centre": mm(a.lv.centre),
        "landmarks": {
            "vertebra": mm([a.centre[0], sy, sx]),
            "descending_aorta": mm([a.centre[0], *a.vessels["aorta"][1].points[0][1:]]),
        },
        "contrast": look["contrast"],
        "acquisition": {**look["acquisition"], "subslices": k},
        "noise_sigma": round(look["acquisition"]["noise_sigma_rel"] * look["acquisition"]["blood_level"], 3),
        "bias_strength": look["acquisition"]["bias_strength"],
        "wall_thickness_mm": [1.0, 3.0],
        **info,
    }
