"""Protocol shifts: copies of a case as another site, protocol or field of view would store it.

Each shift maps a case (image :class:`~napari_c2w.io.volume.Volume` and its binary label
masks) to a new case on its own grid, keeping the anatomy where it is in physical space, so a
prediction on the shifted copy is scored against the shifted labels. Pure numpy/scipy; used by
the benchmarks (``bench_robustness.py``, ``bench_localizer.py``, ``bench_adaptation.py``,
``interactive_cases.py``).

- ``thick``: slices of ``mm`` thickness along z, each the mean of the thin slices it covers
  (labels: the covered share >= 0.5), as a thick-slice acquisition integrates them.
- ``inplane``: the same in y and x, for a coarser in-plane resolution.
- ``crop``: the field of view cut to the atrium's box plus ``margin_mm`` (negative cuts into it).
- ``pad``: a wider field of view: ``mm`` of smooth body-like background on each side in y and x.
- ``intensity``: float intensities in another range, gamma, a multiplicative bias field and noise.
- ``remap``: another contrast through a random, possibly non-monotonic intensity curve.
- ``tissues``: SynthSeg-style random intensities per tissue class.
- ``orient``: the same voxels stored in another axis order (SimpleITK ``DICOMOrient`` code).
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
from scipy import ndimage

from napari_c2w.io.volume import Volume
from napari_c2w.masks.geometry import bbox
from napari_c2w.phantom.fields import smooth_field

Labels = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Shift:
    """One named shift and its parameters (see the module docstring)."""

    kind: str
    params: dict = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind}({args})" if args else self.kind

    def __call__(self, volume: Volume, labels: Labels, seed: int = 0) -> tuple[Volume, Labels]:
        return SHIFTS[self.kind](volume, labels, np.random.default_rng(seed), **self.params)


def _block_average(volume: Volume, labels: Labels, axes: tuple[int, ...], mm: float) -> tuple[Volume, Labels]:
    """Average blocks of voxels along ``axes`` to a spacing of about ``mm`` (labels: the
    covered share >= 0.5); the origin moves to the first block's centre."""
    k = {ax: max(1, round(mm / volume.spacing[ax])) for ax in axes}
    n = {ax: volume.shape[ax] // k[ax] for ax in axes}
    if any(v < 2 for v in n.values()):
        raise ValueError(f"shape {volume.shape} makes fewer than 2 blocks of {mm} mm")

    def pool(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, np.float32)
        for ax in axes:
            a = np.take(a, np.arange(n[ax] * k[ax]), axis=ax)
            shape = list(a.shape)
            shape[ax : ax + 1] = [n[ax], k[ax]]
            a = a.reshape(shape).mean(axis=ax + 1)
        return a

    spacing = tuple(s * k.get(ax, 1) for ax, s in enumerate(volume.spacing))
    origin = tuple(
        o + (k.get(ax, 1) - 1) * s / 2
        for ax, (o, s) in enumerate(zip(volume.origin, volume.spacing, strict=True))
    )
    out = Volume(pool(volume.array), spacing, origin, volume.direction)
    return out, {name: (pool(m) >= 0.5).astype(np.uint8) for name, m in labels.items()}


def thick_slices(volume: Volume, labels: Labels, rng=None, mm: float = 2.5) -> tuple[Volume, Labels]:
    """Average the thin slices into slabs of ``mm`` along z."""
    return _block_average(volume, labels, (0,), mm)


def in_plane(volume: Volume, labels: Labels, rng=None, mm: float = 1.25) -> tuple[Volume, Labels]:
    """A coarser in-plane resolution: average blocks to ``mm`` in y and x."""
    return _block_average(volume, labels, (1, 2), mm)


def crop_to_atrium(
    volume: Volume, labels: Labels, rng=None, margin_mm: float = 0.0, structure: str = "cavity"
) -> tuple[Volume, Labels]:
    """Crop y and x (all slices kept) to the ``structure``'s box plus ``margin_mm``."""
    box = bbox(np.asarray(labels[structure]) > 0)
    sl = [slice(0, volume.shape[0])]
    for ax in (1, 2):
        m = round(margin_mm / volume.spacing[ax])
        lo, hi = box[ax].start - m, box[ax].stop + m
        lo, hi = max(0, lo), min(volume.shape[ax], hi)
        if hi - lo < 8:
            raise ValueError(f"a margin of {margin_mm} mm leaves fewer than 8 voxels on axis {ax}")
        sl.append(slice(lo, hi))
    origin = tuple(o + s.start * sp for o, s, sp in zip(volume.origin, sl, volume.spacing, strict=True))
    out = Volume(np.ascontiguousarray(volume.array[tuple(sl)]), volume.spacing, origin, volume.direction)
    return out, {k: np.ascontiguousarray(v[tuple(sl)]) for k, v in labels.items()}


def pad_field_of_view(volume: Volume, labels: Labels, rng=None, mm: float = 60.0) -> tuple[Volume, Labels]:
    """Widen y and x by ``mm`` each side with smooth random tissue-like background.

    The background is low-pass filtered noise at the image's own tissue statistics (median and
    spread of the outer ring of the original field of view), so the localizer sees structure,
    not a flat frame.
    """
    rng = rng or np.random.default_rng(0)
    a = np.asarray(volume.array, np.float32)
    pads = [(0, 0)] + [(round(mm / s),) * 2 for s in volume.spacing[1:]]
    ring = np.concatenate([a[:, :4].ravel(), a[:, -4:].ravel(), a[:, :, :4].ravel(), a[:, :, -4:].ravel()])
    level, spread = float(np.median(ring)), float(np.std(ring)) + 1e-3
    shape = tuple(n + lo + hi for n, (lo, hi) in zip(a.shape, pads, strict=True))
    field = ndimage.gaussian_filter(rng.normal(size=shape).astype(np.float32), sigma=(1, 6, 6))
    field = level + spread * field / (field.std() + 1e-6)
    field += rng.normal(0, 0.3 * spread, shape).astype(np.float32)
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(a.shape, pads, strict=True))
    field[inner] = a
    lo_vals = float(a.min())
    field = np.clip(field, lo_vals, float(a.max()))
    origin = tuple(o - lo * s for o, (lo, _), s in zip(volume.origin, pads, volume.spacing, strict=True))
    out = Volume(
        field.astype(a.dtype) if a.dtype.kind == "f" else field, volume.spacing, origin, volume.direction
    )
    return out, {k: np.pad(v, pads) for k, v in labels.items()}


def intensity(
    volume: Volume,
    labels: Labels,
    rng=None,
    *,
    scale: float = 1.0,
    gamma: float = 1.0,
    bias: float = 0.0,
    noise: float = 0.0,
) -> tuple[Volume, Labels]:
    """Float intensities: ``scale`` times the image, gamma on [0, 1], a smooth multiplicative
    bias field of amplitude ``bias`` and Rician noise of ``noise`` times the 99th percentile."""
    rng = rng or np.random.default_rng(0)
    a = np.asarray(volume.array, np.float32)
    top = float(np.percentile(a, 99.5)) or 1.0
    x = np.clip(a / top, 0, None)
    if gamma != 1.0:
        x = x**gamma
    if bias:
        field = smooth_field(a.shape, rng)
        x = x * np.exp(bias * field / (np.abs(field).max() + 1e-6))
    if noise:
        x = np.sqrt((x + rng.normal(0, noise, a.shape)) ** 2 + rng.normal(0, noise, a.shape) ** 2)
    return volume.with_array((x * top * scale).astype(np.float32)), labels


def remap(
    volume: Volume, labels: Labels, rng=None, points: int = 6, strength: float = 0.5
) -> tuple[Volume, Labels]:
    """Another contrast: intensities (scaled to [0, 1] by the 99.5th percentile) pass through a
    random piecewise-linear curve whose ``points`` knots move by up to ``strength``, so tissue
    order can change, as another inversion time or sequence would change it."""
    rng = rng or np.random.default_rng(0)
    a = np.asarray(volume.array, np.float32)
    top = float(np.percentile(a, 99.5)) or 1.0
    knots = np.linspace(0, 1, points)
    values = np.clip(knots + rng.uniform(-strength, strength, points) * (knots > 0), 0, 1.5)
    out = np.interp(np.clip(a / top, 0, 1.5), np.append(knots, 1.5), np.append(values, values[-1] + 0.5))
    return volume.with_array((out * top).astype(np.float32)), labels


def tissue_classes(volume: Volume, labels: Labels, rng=None) -> tuple[Volume, Labels]:
    """SynthSeg-style: the cavity and four intensity classes of the rest redrawn with random
    means and texture (:func:`napari_c2w.phantom.semisynth.synthseg`)."""
    from napari_c2w.phantom.semisynth import synthseg

    rng = rng or np.random.default_rng(0)
    image = synthseg(np.asarray(volume.array), labels, volume.spacing, rng)
    return volume.with_array(image.astype(np.float32)), labels


def orientation(volume: Volume, labels: Labels, rng=None, code: str = "RAS") -> tuple[Volume, Labels]:
    """The same voxels stored in the axis order ``code`` (exact; geometry kept physical)."""
    import SimpleITK as sitk

    from napari_c2w.io.volume import from_sitk, to_sitk

    def turn(v: Volume) -> Volume:
        return from_sitk(sitk.DICOMOrient(to_sitk(v), code))

    out = turn(volume)
    return out, {k: turn(volume.with_array(np.asarray(v))).array for k, v in labels.items()}


SHIFTS = {
    "thick": thick_slices,
    "inplane": in_plane,
    "crop": crop_to_atrium,
    "pad": pad_field_of_view,
    "intensity": intensity,
    "orient": orientation,
    "remap": remap,
    "tissues": tissue_classes,
}

#: The benchmark's shifts (issue #11): slice thickness, field of view, intensity, orientation.
BENCHMARK = (
    Shift("none"),
    Shift("thick", {"mm": 1.25}),
    Shift("thick", {"mm": 2.5}),
    Shift("thick", {"mm": 4.0}),
    Shift("inplane", {"mm": 1.25}),
    Shift("crop", {"margin_mm": 5.0}),
    Shift("crop", {"margin_mm": 0.0}),
    Shift("crop", {"margin_mm": -3.0}),
    Shift("pad", {"mm": 60.0}),
    Shift("intensity", {"scale": 330 / 255}),
    Shift("intensity", {"gamma": 0.6}),
    Shift("intensity", {"gamma": 1.6}),
    Shift("intensity", {"bias": 0.4}),
    Shift("intensity", {"noise": 0.08}),
    Shift("intensity", {"noise": 0.2}),
    Shift("remap", {"strength": 0.3}),
    Shift("remap", {"strength": 0.6}),
    Shift("tissues"),
    Shift("orient", {"code": "RAS"}),
    Shift("orient", {"code": "PIL"}),
    Shift("orient", {"code": "SAR"}),
)

#: Several shifts at once, as the external cohort of issue #11 combines them: 2.5 mm slices,
#: a tight crop and float intensities 0-330.
COMBINED = (
    Shift("thick", {"mm": 2.5}),
    Shift("crop", {"margin_mm": 2.0}),
    Shift("intensity", {"scale": 330 / 255}),
)

#: The same combination in a mildly different contrast (the benchmark's mild curve): an older
#: protocol changes the contrast with the geometry, and shifts that each hold alone compound.
COMBINED_CONTRAST = (*COMBINED, Shift("remap", {"strength": 0.3}))

#: Every shift set ``benchmarks/bench_robustness.py`` runs by default.
BENCHMARK_SETS = (*BENCHMARK, COMBINED, COMBINED_CONTRAST)


def apply(shifts, volume: Volume, labels: Labels, seed: int = 0) -> tuple[Volume, Labels]:
    """Apply one shift or a sequence of them in order."""
    for i, shift in enumerate((shifts,) if isinstance(shifts, Shift) else shifts):
        volume, labels = shift(volume, labels, seed + i)
    return volume, labels


def seed_for(case_id: str, shifts) -> int:
    """A seed for one case and one shift (set), independent of which other shifts run beside it:
    every case gets its own draw of a random shift (a contrast curve), the same on every run."""
    return zlib.crc32(f"{case_id}/{name(shifts)}".encode())


def name(shifts) -> str:
    return shifts.name if isinstance(shifts, Shift) else "+".join(s.name for s in shifts)


def _none(volume: Volume, labels: Labels, rng=None) -> tuple[Volume, Labels]:
    return volume, labels


SHIFTS["none"] = _none
