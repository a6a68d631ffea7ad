"""Tissue contrasts and the noise-free LGE signal of the phantom.

Tissues are painted back to front (body section, liver, lung vessels, mediastinum, great
vessels, chambers, and last the left atrium) with partial-volume occupancies: a linear
ramp ``edge`` mm wide across each analytic signed-distance surface. The LA blood, wall and
scar, which come from voxel masks, are blended in through a Gaussian PSF instead, so that
their partial volume matches the labels. Values are relative (blood about 0.5-0.7).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .anatomy import Anatomy, Tube
from .atrium import Atrium, body_sdf
from .fields import F32, Field, Grid, ellipsoid_sdf, occupancy, segment_sdf, upsample

ENVELOPE_STEP = 2.0  # mm, coarse grid of the mediastinal envelope and its fat fraction


#: Contrast profiles (:func:`sample_contrast`). ``default``: well-nulled myocardium (0.1-0.2) and
#: scar 0.25-0.3 above the blood pool, at least 0.8 (1.4-1.9 x blood), the profile the bundled
#: models trained on.
#: ``wide``: myocardium nulled less well (0.1-0.3) and scar 1.1-1.6 x blood, as image-intensity-
#: ratio studies report for real LGE scar (1.2-1.3 x blood is common). ``other-protocol``: a
#: test family outside both, as another inversion time and reader would give: myocardium at
#: 0.28-0.4, scar 0.1-0.18 above blood, brighter fat, blurrier edges, more noise and texture.
CONTRAST_PROFILES = ("default", "wide", "other-protocol")
#: The profiles that only the benchmarks draw (``benchmarks/bench_robustness.py``,
#: ``interactive_cases.py``): not a choice of ``napari-c2w phantom --contrast``.
BENCHMARK_PROFILES = ("other-protocol",)


def sample_contrast(seed: int, profile: str = "default") -> dict:
    """Relative tissue intensities and acquisition settings of one seed (:data:`CONTRAST_PROFILES`)."""
    if profile not in CONTRAST_PROFILES:
        known = ", ".join(CONTRAST_PROFILES)
        raise ValueError(f"unknown contrast profile {profile!r}; choose one of {known}")
    rng = np.random.default_rng([int(seed), 4])
    u = rng.uniform
    blood = u(0.5, 0.7)
    myo = u(0.1, 0.2)
    tissue = u(0.25, 0.4)
    c = {
        "blood": blood,
        "lv_blood": blood * u(0.95, 1.05),
        "right_blood": blood * u(0.88, 1.05),
        "aorta_blood": blood * u(0.9, 1.1),
        "pa_blood": blood * u(0.88, 1.05),
        "lung_vessel": blood * u(0.7, 0.9),
        "myocardium": myo,
        "la_wall": myo * u(0.95, 1.3),
        "scar": u(max(0.8, blood + 0.25), max(1.0, blood + 0.3)),
        "fat": u(0.7, 0.9),
        "lung": u(0.03, 0.08),
        "tissue": tissue,
        "liver": tissue * u(0.95, 1.2),
        "marrow": u(0.35, 0.5),
        "csf": u(0.15, 0.3),
        "vessel_wall": tissue * u(0.5, 0.8),
        "air": 0.0,
    }
    acq = {
        "edge_mm": u(1.2, 1.8),
        "noise_sigma_rel": u(0.02, 0.08),
        "bias_strength": u(0.05, 0.3),
        "blood_level": u(50, 150),
        "texture": u(0.03, 0.08),
    }
    if profile != "default":  # drawn after the default's draws: the anatomy's seed stays as it is
        _reprofile(c, acq, profile, np.random.default_rng([int(seed), 4, CONTRAST_PROFILES.index(profile)]))
    return {
        "profile": profile,
        "contrast": {k: round(float(v), 4) for k, v in c.items()},
        "acquisition": {k: round(float(v), 4) for k, v in acq.items()},
    }


def _reprofile(c: dict, acq: dict, profile: str, rng: np.random.Generator) -> None:
    u = rng.uniform
    if profile == "wide":
        myo = u(0.1, 0.3)
        c.update(myocardium=myo, la_wall=myo * u(0.95, 1.3), scar=c["blood"] * u(1.1, 1.6))
        return
    blood, myo, tissue = u(0.55, 0.75), u(0.28, 0.4), u(0.3, 0.45)
    c.update(
        blood=blood,
        lv_blood=blood * u(0.95, 1.05),
        right_blood=blood * u(0.88, 1.05),
        aorta_blood=blood * u(0.9, 1.1),
        pa_blood=blood * u(0.88, 1.05),
        lung_vessel=blood * u(0.7, 0.9),
        myocardium=myo,
        la_wall=myo * u(0.95, 1.2),
        scar=blood + u(0.1, 0.18),
        fat=u(0.85, 1.0),
        tissue=tissue,
        liver=tissue * u(0.95, 1.2),
        vessel_wall=tissue * u(0.5, 0.8),
    )
    acq.update(edge_mm=u(1.8, 2.4), noise_sigma_rel=u(0.06, 0.1), texture=u(0.08, 0.12))


def _paint(img: np.ndarray, box, sdf: np.ndarray, value, width: float) -> None:
    occ = occupancy(sdf, width)
    sub = img[box]
    diff = sub - F32(value) if np.isscalar(value) else sub - value
    diff *= occ
    sub -= diff


def _ellipse2d(y, x, centre, radii) -> np.ndarray:
    return ellipsoid_sdf(np.zeros((1, 1), F32), y, x, (0.0, *centre), (1.0, *radii))


def _section(a: Anatomy, grid: Grid, c: dict, w: float) -> np.ndarray:
    """The z-invariant (y, x) body section: fat, muscle, lungs, sternum, posterior spine.

    The body outline is an ellipse with a little low-order angular wobble; the
    subcutaneous fat is thickest anteriorly and laterally.
    """
    y, x = grid.axis(1)[:, None], grid.axis(2)[None, :]
    th = a.thorax
    (cy, cx), (ry, rx) = th["body_centre"], th["body_radii"]
    theta = np.arctan2((y - F32(cy)) / F32(ry), (x - F32(cx)) / F32(rx))
    wobble = np.ones_like(theta)
    for order, (amp, ph) in enumerate(zip(*th["outline"], strict=False), start=2):
        wobble += F32(amp) * np.cos(order * theta + F32(ph))
    depth, tilt = th["fat_shape"]
    fat = F32(th["fat"]) * (1 + F32(depth) * np.cos(theta + F32(np.pi / 2 + tilt)))  # thickest anteriorly
    sec = np.zeros(theta.shape, F32)
    full = (slice(None), slice(None))

    outline = _outline(y, x, (cy, cx), (ry, rx), wobble)
    _paint(sec, full, outline, c["fat"], w)
    _paint(sec, full, outline + fat, c["tissue"], w)
    _paint(sec, full, outline + fat + F32(th["muscle"]), c["lung"], w)
    s = a.scale
    sy, sx = th["spine"]
    front = cy - ry + th["fat"] * (1 + depth) + th["muscle"]
    layers = [((front + 4 * s, cx), (6 * s, 14 * s), c["marrow"])]
    layers += [((sy + 35 * s, sx + side * 27 * s), (24 * s, 21 * s), c["tissue"]) for side in (-1, 1)]
    layers += [
        ((sy + 30 * s, sx), (16 * s, 11 * s), c["vessel_wall"]),  # lamina, spinous process
        ((sy + 23 * s, sx), (7 * s, 7 * s), c["csf"]),
    ]  # spinal canal
    for centre, radii, value in layers:
        _paint(sec, full, _ellipse2d(y, x, centre, radii), value, w)
    return sec


def _outline(y, x, centre, radii, wobble) -> np.ndarray:
    """Signed distance (approx.) to the wobbly body outline."""
    return _ellipse2d((y - F32(centre[0])) / wobble, (x - F32(centre[1])) / wobble, (0, 0), radii) * wobble


def _vertebrae(img, a: Anatomy, grid: Grid, c: dict, w: float) -> None:
    sy, sx = a.thorax["spine"]
    r = np.array([15.0, 17.0]) * a.scale
    box = grid.box((-1e9, sy - r[0] - 2, sx - r[1] - 2), (1e9, sy + r[0] + 2, sx + r[1] + 2))
    if box is None:
        return
    z, y, x = grid.coords(box)
    phase = np.mod(z - a.thorax["disc_phase"], 25.0 * a.scale) / (25.0 * a.scale)
    value = np.where(phase < 0.22, F32(c["tissue"] * 0.8), F32(c["marrow"])).astype(F32)
    _paint(img, box, _ellipse2d(y[0], x[0], (sy, sx), r)[None], value, w)


def _tube(img, grid: Grid, tube: Tube, value: float, w: float, wall: float = 0.0, wall_value: float = 0.0):
    """Paint a tube: first the wall shell of every segment, then the lumen."""
    sdfs = []
    for i in range(len(tube.points) - 1):
        p, q = tube.points[i], tube.points[i + 1]
        pad = max(tube.radii[i], tube.radii[i + 1]) + wall + w
        box = grid.box(np.minimum(p, q) - pad, np.maximum(p, q) + pad)
        if box is not None:
            sdfs.append((box, segment_sdf(*grid.coords(box), p, q, tube.radii[i], tube.radii[i + 1])[0]))
    if wall > 0:
        for box, sdf in sdfs:
            _paint(img, box, sdf - F32(wall), wall_value, w)
    for box, sdf in sdfs:
        _paint(img, box, sdf, value, w)


def _chamber(img, grid: Grid, ell, wall: float, wall_value: float, value: float, w: float, clip=None) -> None:
    """An ellipsoidal chamber (blood) with a myocardial shell ``wall`` mm thick outside it."""
    lo, hi = ell.lo_hi(pad=wall + w)
    box = grid.box(lo, hi)
    if box is None:
        return
    z, y, x = grid.coords(box)
    sdf = ellipsoid_sdf(z, y, x, ell.centre, ell.radii, ell.rot)
    if clip is not None:  # keep the side of the plane (point, normal) the normal points to
        p, n = clip
        side = (z - F32(p[0])) * F32(n[0]) + (y - F32(p[1])) * F32(n[1]) + (x - F32(p[2])) * F32(n[2])
        np.maximum(sdf, -side, out=sdf)
    if wall > 0:
        _paint(img, box, sdf - F32(wall), wall_value, w)
    _paint(img, box, sdf, value, w)


def _envelope(img, a: Anatomy, grid: Grid, c: dict, w: float) -> None:
    """Mediastinal soft tissue and fat around the heart and great vessels (coarse, then upsampled)."""
    step = ENVELOPE_STEP
    axes = [np.arange(grid.axis(k)[0] - step, grid.axis(k)[-1] + 2 * step, step, dtype=F32) for k in range(3)]
    z, y, x = axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]
    th = a.thorax
    cy, ry = th["body_centre"][0], th["body_radii"][0]
    inner = ry - th["fat"] - th["muscle"]
    sy, sx = th["spine"]
    col = _ellipse2d(
        y[0], x[0], ((cy - inner + sy) / 2, sx), ((sy - cy + inner) / 2, th["column_width"] / 2)
    )[None]  # sternum to spine
    env = np.broadcast_to(col, (len(axes[0]), *col.shape[1:])).copy()
    s = a.scale
    np.minimum(env, body_sdf(a, z, y, x) - F32(7 * s), out=env)
    for ell, pad in ((a.lv, a.lv_myo + 6 * s), (a.rv, a.rv_myo + 5 * s), (a.ra, 6 * s)):
        np.minimum(env, ellipsoid_sdf(z, y, x, ell.centre, ell.radii, ell.rot) - F32(pad), out=env)
    for name in ("aorta", "pulmonary_artery", "svc", "ivc"):
        for tube in a.vessels[name]:
            for i in range(len(tube.points) - 1):
                p, q, r0, r1 = tube.points[i], tube.points[i + 1], tube.radii[i], tube.radii[i + 1]
                seg = segment_sdf(z, y, x, p, q, r0, r1)[0]
                np.minimum(env, seg - F32(4 * s), out=env)
    m, n = a.mitral_centre, a.mitral_normal
    v = [z - F32(m[0]), y - F32(m[1]), x - F32(m[2])]
    hgt = v[0] * F32(n[0]) + v[1] * F32(n[1]) + v[2] * F32(n[2])
    rho = np.sqrt(np.maximum(v[0] ** 2 + v[1] ** 2 + v[2] ** 2 - hgt**2, 0))
    groove_r = F32(a.orifice.radii[0] + 11 * s)  # atrioventricular groove: a ring around the annulus
    groove = np.exp(-((rho - groove_r) ** 2 + (hgt + F32(2 * s)) ** 2) / F32((7 * s) ** 2))
    sel = np.nonzero(env < 2 * step)
    pts = np.stack([axes[k][sel[k]] for k in range(3)], 1)
    ff = np.full(env.shape, -1.0, F32)
    ff[sel] = 0.35 * a.fat.at(pts) + 0.3 * a.fat_fine.at(pts) - 0.3
    ff += 1.2 * groove
    ff += 0.6 * np.exp(-np.square(np.clip(body_sdf(a, z, y, x) - 6 * s, 0, None)) / F32((5 * s) ** 2))
    ff = np.clip(ff * 1.6, -1.0, 2.0)  # saturated on the fine grid, after interpolation
    inside = (
        np.nonzero((env < step).any(axis=(1, 2)))[0],
        np.nonzero((env < step).any(axis=(0, 2)))[0],
        np.nonzero((env < step).any(axis=(0, 1)))[0],
    )
    if any(len(i) == 0 for i in inside):
        return
    lo = [axes[k][i.min()] - step for k, i in enumerate(inside)]
    hi = [axes[k][i.max()] + step for k, i in enumerate(inside)]
    box = grid.box(lo, hi)
    if box is None:
        return
    fine = [grid.axis(k, box[k]) for k in range(3)]
    value = np.clip(upsample(ff.astype(F32), axes, fine), 0.0, 1.0)
    value *= F32(c["fat"] - c["tissue"])
    value += F32(c["tissue"])
    _paint(img, box, upsample(env.astype(F32), axes, fine), value, w)


def render_background(a: Anatomy, grid: Grid, look: dict) -> np.ndarray:
    """The noise-free signal of everything but the left atrium, on ``grid``."""
    c, w = look["contrast"], look["acquisition"]["edge_mm"]
    img = np.empty(grid.shape, F32)
    img[:] = _section(a, grid, c, w)[None]
    _vertebrae(img, a, grid, c, w)
    _chamber(img, grid, a.liver, 0.0, c["liver"], c["liver"], w)
    for tube in a.vessels["lung_branches"]:
        _tube(img, grid, tube, c["lung_vessel"], w)
    _envelope(img, a, grid, c, w)
    _tube(img, grid, a.esophagus, c["tissue"], w)
    s = a.scale
    for name, key in (
        ("ivc", "right_blood"),
        ("svc", "right_blood"),
        ("pulmonary_artery", "pa_blood"),
        ("aorta", "aorta_blood"),
    ):
        for tube in a.vessels[name]:
            _tube(img, grid, tube, c[key], w, wall=1.0 * s, wall_value=c["vessel_wall"])
    _chamber(img, grid, a.ra, 1.5 * s, c["myocardium"] * 1.3, c["right_blood"], w)
    _chamber(img, grid, a.rv, a.rv_myo, c["myocardium"], c["right_blood"], w)
    _chamber(
        img, grid, a.lv, a.lv_myo, c["myocardium"], c["lv_blood"], w, clip=(a.mitral_centre, a.mitral_normal)
    )
    return img


def composite_atrium(img: np.ndarray, la: Atrium, grid: Grid, look: dict, seed: int) -> None:
    """Blend the LA blood, wall and scar masks into ``img`` through a Gaussian PSF.

    ``img = img * (1 - G*M) + G*(sum_k M_k v_k)`` with G the PSF and M the union of masks.
    """
    c, acq = look["contrast"], look["acquisition"]
    sub = img[la.box]
    signal = np.zeros(sub.shape, F32)
    rng = np.random.default_rng([int(seed), 5])
    z, y, x = grid.coords(la.box)
    tex = Field.random(rng, 4.0, n=16)
    for mask, value, amount in (
        (la.blood, c["blood"], 0.15),
        (la.wall & ~la.scar, c["la_wall"], 3.0),
        (la.scar, c["scar"], 1.5),
    ):
        idx = np.nonzero(mask)
        pts = np.stack([z.ravel()[idx[0]], y.ravel()[idx[1]], x.ravel()[idx[2]]], 1)
        signal[idx] = F32(value) * (1 + F32(amount * acq["texture"]) * tex.at(pts))
    sigma = [0.45 * acq["edge_mm"] / sp for sp in grid.spacing]
    alpha = ndi.gaussian_filter((la.blood | la.wall).astype(F32), sigma, truncate=3.0)
    sub *= 1 - alpha
    sub += ndi.gaussian_filter(signal, sigma, truncate=3.0)


def lung_points(signal: np.ndarray, a: Anatomy, grid: Grid, look: dict) -> dict[str, list[float]]:
    """A point well inside each lung (pure lung signal 4 mm around it) on the LA-centre slice."""
    th = a.thorax
    (cy, cx), (ry, rx) = th["body_centre"], th["body_radii"]
    iz = int(np.clip(round((a.centre[0] - grid.origin[0]) / grid.spacing[0]), 0, grid.shape[0] - 1))
    ok = np.abs(signal[iz] - F32(look["contrast"]["lung"])) < 0.01
    radius = [max(1, round(4.0 / grid.spacing[k])) for k in (1, 2)]
    ok = ndi.minimum_filter(ok, size=(2 * radius[0] + 1, 2 * radius[1] + 1))
    lateral = (rx - th["fat"] - th["muscle"] + th["column_width"] / 2) / 2
    out = {}
    for name, side in (("lung_right", -1), ("lung_left", 1)):
        want = np.array([cy + 0.2 * ry, cx + side * lateral])
        cand = np.argwhere(ok)
        if len(cand):
            mm = cand * np.asarray(grid.spacing[1:]) + np.asarray(grid.origin[1:])
            want = mm[np.argmin(np.sum((mm - want) ** 2, axis=1))]
        z_mm = grid.origin[0] + iz * grid.spacing[0]
        out[name] = [round(float(v), 3) for v in (z_mm, *want)]
    return out
