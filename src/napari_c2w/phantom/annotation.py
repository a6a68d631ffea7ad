"""A LAScarQS-style noisy scar annotation built from the true scar.

``noisy_scar = scar | ragged | spurious``:

* ragged: a one-voxel dilation of the true scar kept at random places, only where it stays
  well inside the plausibility band (the wall, or within ``2.5 - h/2`` mm outside /
  ``3.0 - h/2`` mm inside the cavity boundary);
* spurious: small blobs (radius 1.5-3.5 mm) next to true scar patches, drawn either beyond
  the epicardium (``2.5 + m`` to ``7.5 + m`` mm out from the cavity, outside the wall and the
  blood) or deep in the cavity (``3.0 + m`` to ``9.0 + m`` mm inside), ``m = max(1 mm, h)``.

The plausibility band is ``wall | (outside cavity & EDT_to_cavity <= 2.5 mm) |
(inside cavity & EDT_to_background <= 3.0 mm)`` with voxel-centre Euclidean distances
(``distance_transform_edt`` with ``sampling=spacing``). ``noise = noisy_scar & ~scar & ~band``,
which by construction is exactly the spurious blobs; all of them lie at least ``m`` beyond
the band, so other distance conventions (e.g. +-h/2) classify them the same way.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..masks.band import INNER_MM as INNER_BAND_MM
from ..masks.band import OUTER_MM as OUTER_BAND_MM
from .atrium import Atrium
from .fields import F32, Field, Grid


def inner_edt(cavity: np.ndarray, spacing) -> np.ndarray:
    """EDT (mm) of cavity voxels to the nearest non-cavity voxel, computed on the cavity's box."""
    out = np.zeros(cavity.shape, F32)
    idx = [np.nonzero(cavity.any(axis=tuple(j for j in range(3) if j != k)))[0] for k in range(3)]
    if any(len(i) == 0 for i in idx):
        return out
    box = tuple(slice(max(i.min() - 1, 0), i.max() + 2) for i in idx)
    out[box] = ndi.distance_transform_edt(cavity[box], sampling=spacing)
    return out


def plausibility_band(la: Atrium, edt_in: np.ndarray) -> np.ndarray:
    return la.wall | (~la.cavity & (la.edt_out <= OUTER_BAND_MM)) | (la.cavity & (edt_in <= INNER_BAND_MM))


def noisy_annotation(la: Atrium, grid: Grid, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(noisy_scar, noise, info) as boolean arrays on ``la.box``."""
    rng = np.random.default_rng([int(seed), 8])
    h = float(min(grid.spacing))
    m = max(1.0, h)
    edt_in = inner_edt(la.cavity, grid.spacing)
    band = plausibility_band(la, edt_in)
    safe = (
        la.wall
        | (~la.cavity & (la.edt_out <= OUTER_BAND_MM - h / 2))
        | (la.cavity & (edt_in <= INNER_BAND_MM - h / 2))
    )
    grown = ndi.binary_dilation(la.scar, ndi.generate_binary_structure(3, 1)) & ~la.scar & safe
    idx = np.nonzero(grown)
    origin = np.array([grid.origin[k] + la.box[k].start * grid.spacing[k] for k in range(3)])
    pts = np.stack(idx, 1) * np.asarray(grid.spacing) + origin
    keep = Field.random(rng, 6.0, n=10).at(pts) > rng.uniform(-0.2, 0.6)
    noisy = la.scar.copy()
    noisy[tuple(i[keep] for i in idx)] = True
    ragged = int(keep.sum())

    far = (la.edt_out >= OUTER_BAND_MM + m) & (la.edt_out <= OUTER_BAND_MM + m + 5)
    zones = {
        "outside": ~la.blood & ~la.wall & far,
        "cavity": la.cavity & (edt_in >= INNER_BAND_MM + m) & (edt_in <= INNER_BAND_MM + m + 6),
    }
    scar_idx = np.stack(np.nonzero(la.scar), 1)
    spurious = np.zeros_like(la.scar)
    blobs = {"outside": 0, "cavity": 0}
    if len(scar_idx):
        for name, zone in zones.items():
            zidx = np.stack(np.nonzero(zone), 1)
            if not len(zidx):
                continue
            zpts = (zidx * np.asarray(grid.spacing)).astype(F32)
            n = rng.integers(4, 12) if name == "outside" else rng.integers(2, 7)
            for anchor in scar_idx[rng.choice(len(scar_idx), size=n)]:
                d2 = np.sum((zpts - anchor * np.asarray(grid.spacing, F32)) ** 2, axis=1)
                near = np.nonzero(d2 < 10.0**2)[0]
                if not len(near):
                    continue
                centre = zpts[rng.choice(near)]
                radius = max(rng.uniform(1.5, 3.5), 1.01 * h)
                hit = np.sum((zpts - centre) ** 2, axis=1) <= radius**2
                spurious[tuple(zidx[hit].T)] = True
                blobs[name] += 1
    noisy |= spurious
    noise = noisy & ~la.scar & ~band
    info = {
        "ragged_voxels": ragged,
        "spurious_blobs": blobs,
        "noise_voxels": int(noise.sum()),
        "band_mm": {"inside": INNER_BAND_MM, "outside": OUTER_BAND_MM},
        "noise_margin_mm": m,
    }
    return noisy, noise, info
